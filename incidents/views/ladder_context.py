"""What the incident page's ladder panel shows (templates/incidents/_ladder.html): the rung,
the next target (red, in words, once missed), Escalate with the next rung and its target,
Add responder and the council's decision, each offered only to who may."""

from typing import Any

from django import forms
from django.utils import timezone

from incidents.models import (
    Category,
    CouncilChoice,
    Incident,
    Rung,
    TimelineKind,
)
from incidents.services.council import may_decide
from incidents.services.ladder import may_add_responder, may_escalate, next_rungs
from incidents.services.lifecycle import severity_policy
from incidents.services.rules import is_support_only
from incidents.services.targets import incident_targets
from oncall.models import User
from rotations.models import Team, TeamKind


def _people_to_choose(form: forms.Form, name: str) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = User.objects.filter(is_active=True).order_by("first_name", "username")


class EscalateTierForm(forms.Form):
    to = forms.ChoiceField(choices=[(r.value, r.label) for r in Rung if r.value])
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, to_field_name="slug", empty_label="—"
    )
    reason = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Team.objects.filter(kind=TeamKind.ENGINEERING).order_by("name")


class ResponderForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), empty_label="—")
    reason = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people_to_choose(self, "user")


class CouncilDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=CouncilChoice.choices)
    owner = forms.ModelChoiceField(queryset=User.objects.none(), empty_label="—")
    due_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: next day (short term) or a sprint (long term).",
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people_to_choose(self, "owner")


class CategoryForm(forms.Form):
    category = forms.ChoiceField(choices=Category.choices)


def ladder_context(incident: Incident, viewer: User) -> dict[str, Any]:
    now = timezone.now()
    policy = severity_policy(incident.severity)
    targets = incident_targets(incident=incident, policy=policy)
    missed = [e for e in incident.timeline.all() if e.kind == TimelineKind.TARGET_MISSED]
    offered = next_rungs(incident) if incident.rung else []
    rung_targets = {
        Rung.ENGINEERING_MANAGER: policy.engineering_manager_target if policy else None,
        Rung.ONCALL: policy.oncall_target if policy else None,
        Rung.SUPPORT_MANAGER: policy.acknowledge_target if policy else None,
    }
    decisions = list(incident.council_decisions.select_related("owner", "decided_by"))
    return {
        "ladder": {
            "rung": Rung(incident.rung).label if incident.rung else "",
            "targets": targets,
            "next_target_at": incident.next_target_at,
            "overdue": incident.next_target_at is not None and incident.next_target_at <= now,
            "missed": missed,
            "offered": [(r, Rung(r).label, rung_targets.get(Rung(r))) for r in offered],
            "needs_team": incident.team is None or incident.team.kind != TeamKind.ENGINEERING,
            "can_escalate": bool(offered) and may_escalate(viewer, incident),
            "can_add_responder": may_add_responder(viewer, incident),
            "support_only": is_support_only(viewer),
            "can_decide": may_decide(viewer),
            "decisions": decisions,
        },
        "escalate_tier_form": EscalateTierForm(initial={"to": offered[0] if offered else ""}),
        "responder_form": ResponderForm(),
        "council_form": CouncilDecisionForm(),
        "category_form": CategoryForm(initial={"category": incident.category}),
    }
