"""The admin change page's "Audit history" link (templates/admin/change_form.html)."""

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from audit.registry import AUDITED
from oncall.roles import is_manager

register = template.Library()


@register.simple_tag
def audit_history_url(obj: Any, user: Any) -> str:
    """The `/audit/` page filtered to this object, for Managers; "" otherwise."""
    if obj is None or getattr(obj, "pk", None) is None or not is_manager(user):
        return ""
    opts = obj._meta
    if opts.label_lower not in AUDITED:
        return ""
    query = urlencode({"object_type": opts.model_name, "object_id": obj.pk})
    return f"{reverse('audit:page')}?{query}"
