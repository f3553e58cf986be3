"""Forms of the playbook pages: an entry, and an attempt recorded from the triage panel."""

from typing import Any

from django import forms

from incidents.forms import ServiceErrorsMixin
from incidents.models import TEXT_MAX
from playbooks.models import Outcome, PlaybookEntry
from postmortems.models import Postmortem


def _postmortem_label(postmortem: Any) -> str:
    return f"{postmortem.incident.number}: {postmortem.title}"


class EntryForm(ServiceErrorsMixin, forms.ModelForm):
    class Meta:
        model = PlaybookEntry
        fields = ("team", "service", "title", "applies_when", "steps", "postmortem", "is_active")
        widgets = {
            "applies_when": forms.Textarea(attrs={"rows": 3}),
            "steps": forms.Textarea(attrs={"rows": 10}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        postmortem = self.fields["postmortem"]
        assert isinstance(postmortem, forms.ModelChoiceField)
        postmortem.queryset = Postmortem.objects.select_related("incident").order_by("-id")
        postmortem.label_from_instance = _postmortem_label  # type: ignore[method-assign,assignment]

    def _post_clean(self) -> None:
        # The service validates and saves (playbooks.services); the form checks shapes only.
        pass


class AttemptForm(ServiceErrorsMixin, forms.Form):
    steps_tried = forms.TypedMultipleChoiceField(
        coerce=int, widget=forms.CheckboxSelectMultiple, label="Steps tried"
    )
    outcome = forms.ChoiceField(choices=Outcome.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=TEXT_MAX, required=False
    )

    def __init__(self, *args: Any, entry: PlaybookEntry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        steps = entry.step_list() or [entry.title]
        field = self.fields["steps_tried"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(n, f"{n}. {text[:120]}") for n, text in enumerate(steps, 1)]
