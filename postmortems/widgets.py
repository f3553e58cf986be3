"""Django's choice widgets rendered from one template of the project's each: Django's own
include a template per choice (four per checkbox), which cost a fifth of the review page's
rendering with 50 people and a quarter of the postmortem list's. The markup is Django's
(`tests/postmortems/test_review_pages.py` compares them)."""

from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe


class _OneTemplate:
    def _render(
        self, template_name: str, context: dict[str, Any], renderer: Any = None
    ) -> SafeString:
        # As Django's form renderer does: stripped.
        return mark_safe(render_to_string(template_name, context).strip())  # noqa: S308


class Checkboxes(_OneTemplate, forms.CheckboxSelectMultiple):
    template_name = "postmortems/widgets/checkboxes.html"


class Select(_OneTemplate, forms.Select):
    template_name = "postmortems/widgets/select.html"
