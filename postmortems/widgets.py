"""Django's choice widgets with fewer templates: Django's own include a template per choice
(four per checkbox), which cost a fifth of the review page's rendering with 50 people and a
quarter of the postmortem list's. The markup is Django's (`tests/postmortems/
test_review_pages.py` compares them)."""

from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


class _OneTemplate:
    def _render(
        self, template_name: str, context: dict[str, Any], renderer: Any = None
    ) -> SafeString:
        # As Django's form renderer does: stripped.
        return mark_safe(render_to_string(template_name, context).strip())  # noqa: S308


def _attrs(attrs: dict[str, Any]) -> str:
    """Django's `attrs.html`: ` name="value"`, a bare name for True, nothing for False."""
    return "".join(
        f" {conditional_escape(name)}"
        + ("" if value is True else f'="{conditional_escape(str(value))}"')
        for name, value in attrs.items()
        if value is not False
    )


class Checkboxes(forms.CheckboxSelectMultiple):
    """Django's checkbox list, its markup written here: the meeting form lists every person,
    and even one template for them all cost 4 ms of each review page."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        box_id = widget["attrs"].get("id")
        css = widget["attrs"].get("class")
        parts = [
            "<div"
            + (f' id="{conditional_escape(box_id)}"' if box_id else "")
            + (f' class="{conditional_escape(css)}"' if css else "")
            + ">"
        ]
        for group, options, _ in widget["optgroups"]:
            if group:
                parts.append(f"\n  <div><label>{conditional_escape(group)}</label>")
            for option in options:
                label_for = option["attrs"].get("id")
                opening = (
                    (f'<label for="{conditional_escape(label_for)}">' if label_for else "<label>")
                    if option["wrap_label"]
                    else ""
                )
                value_attr = (
                    f' value="{conditional_escape(str(option["value"]))}"'
                    if option["value"] is not None
                    else ""
                )
                closing = (
                    f" {conditional_escape(option['label'])}</label>"
                    if option["wrap_label"]
                    else ""
                )
                parts.append(
                    f'<div>\n    {opening}<input type="{option["type"]}" '
                    f'name="{conditional_escape(option["name"])}"{value_attr}'
                    f"{_attrs(option['attrs'])}>\n{closing}\n\n</div>"
                )
            if group:
                parts.append("\n  </div>")
        parts.append("\n</div>")
        return mark_safe("".join(parts))  # noqa: S308 - every value escaped above


class Select(_OneTemplate, forms.Select):
    template_name = "postmortems/widgets/select.html"
