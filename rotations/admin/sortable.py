"""django-admin-sortable2 pieces adjusted to the Django version it does not know yet.

sortable2 2.3 ships inline templates and a patched actions.js up to Django 6.0 and names
files for 6.1 that do not exist: the template would fail to load, and the manifest static
storage used in production refuses a missing file. Django 6.1's inline markup is the 6.0
one, and the patched actions.js matters only on sortable change lists (not used here).
"""

from functools import cache

from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django import VERSION as DJANGO_VERSION
from django.contrib.staticfiles import finders
from django.forms import Media

SORTABLE_TABULAR_TEMPLATE = "adminsortable2/edit_inline/tabular-django-6.0.html"
SORTABLE_ACTIONS_JS = f"adminsortable2/js/actions-{DJANGO_VERSION[0]}.{DJANGO_VERSION[1]}.js"


@cache
def static_exists(path: str) -> bool:
    return finders.find(path) is not None


class SortableParentAdmin(SortableAdminBase):
    """Base of an admin whose inlines are drag-ordered."""

    @property
    def media(self) -> Media:
        # Careful: an AttributeError raised here is swallowed by Django's media_property.
        media = super().media
        if static_exists(SORTABLE_ACTIONS_JS):
            return media
        js = ["admin/js/actions.js" if js == SORTABLE_ACTIONS_JS else js for js in media._js]
        return Media(css=media._css, js=js)


class SortableInline(SortableTabularInline):
    """A drag-ordered tabular inline (the model's first ordering field is its position)."""

    template = SORTABLE_TABULAR_TEMPLATE
    extra = 0
