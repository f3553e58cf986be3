"""Forms of the incident pages: the list filters, declare, engage and each incident action.

Forms validate input only; the services (incidents.services) decide what is allowed.
"""

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from incidents.models import (
    ACTIONABLE_REASON_MAX,
    BRIDGE_MAX,
    FIVE_W_MAX,
    PHONE_MAX,
    REQUESTER_MAX,
    SERVICE_MAX,
    TEXT_MAX,
    TICKET_MAX,
    TITLE_MAX,
    Category,
    Incident,
    Severity,
    Status,
)
from incidents.services.declare import callback_phone_clean, ticket_clean
from incidents.triage import EVIDENCE_MAX_ITEMS, EVIDENCE_URL_MAX, QUESTIONS
from oncall.models import User
from rotations.models import ContactMode, EscalationPolicy, Team

OPEN = "open"


class TeamChoiceField(forms.ModelChoiceField):
    """Teams named with a warning when support calls them instead of paging."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} (call directly)" if obj.contact_mode == ContactMode.CALL else obj.name


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.name


class PolicyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.team.name}: {obj.name}"


def _teams() -> Any:
    return Team.objects.order_by("name")


def _people() -> Any:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def _policies() -> Any:
    return EscalationPolicy.objects.select_related("team").order_by("team__name", "name")


class ServiceErrorsMixin:
    """Show a service's ValidationError next to the fields it names (or above the form)."""

    def add_service_error(self, error: ValidationError) -> None:
        form: forms.Form = self  # type: ignore[assignment]
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                known = field in form.fields and field != NON_FIELD_ERRORS
                form.add_error(field if known else None, errors)
        else:
            form.add_error(None, error)


# --------------------------------------------------------------------------- the list


class IncidentFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Open and recently resolved"), (OPEN, "Open"), *Status.choices],
    )
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *Severity.choices])
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="Every team", to_field_name="slug"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team = self.fields["team"]
        assert isinstance(team, forms.ModelChoiceField)
        team.queryset = _teams()


# --------------------------------------------------------------------------- declare, engage


class DeclareForm(ServiceErrorsMixin, forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, help_text="What is broken, in a line.")
    severity = forms.ChoiceField(
        choices=Severity.choices,
        initial=Severity.SEV2,
        help_text="SEV0/P0 is the worst. Support managers decide during triage.",
    )
    team = TeamChoiceField(queryset=Team.objects.none(), empty_label="Choose the team")
    category = forms.ChoiceField(
        choices=Category.choices,
        initial=Category.OTHER,
        required=False,  # empty: other
        help_text="A customer's report, an alert, or a security incident (seen only by those "
        "working it and the security owner until it is resolved).",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=TEXT_MAX, required=False
    )
    escalation_policy = PolicyChoiceField(
        queryset=EscalationPolicy.objects.none(),
        required=False,
        empty_label="The severity's or the team's policy",
        label="Escalation policy",
    )
    commander = UserChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody yet"
    )
    ticket = forms.CharField(max_length=TICKET_MAX, required=False, help_text="e.g. CSD-123")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in (
            ("team", _teams()),
            ("escalation_policy", _policies()),
            ("commander", _people()),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset

    def clean_ticket(self) -> str:
        return ticket_clean(self.cleaned_data["ticket"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        team, policy = data.get("team"), data.get("escalation_policy")
        if team and policy and policy.team_id != team.pk:
            self.add_error("escalation_policy", f"This policy belongs to {policy.team.name}.")
        return data


class EngageForm(ServiceErrorsMixin, forms.Form):
    team = TeamChoiceField(queryset=Team.objects.none(), empty_label="Which team?")
    ticket = forms.CharField(max_length=TICKET_MAX, help_text="The JIRA ticket, e.g. CSD-123.")
    requester_name = forms.CharField(max_length=REQUESTER_MAX, label="Your name")
    requester_phone = forms.CharField(
        max_length=PHONE_MAX,
        label="Your call-back number",
        help_text="Development calls you here: with the country code, e.g. +1 202 555 0143.",
    )
    bridge = forms.CharField(
        max_length=BRIDGE_MAX,
        required=False,
        label="Bridge details",
        help_text="Webex, Slack huddle or dial-in where the case is discussed.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team = self.fields["team"]
        assert isinstance(team, forms.ModelChoiceField)
        team.queryset = _teams().prefetch_related("direct_numbers")

    # The services' rules (incidents.services.declare), shown next to the field at once.
    def clean_ticket(self) -> str:
        return ticket_clean(self.cleaned_data["ticket"])

    def clean_requester_phone(self) -> str:
        return callback_phone_clean(self.cleaned_data["requester_phone"])


# --------------------------------------------------------------------------- actions


ACTIONABLE_CHOICES = (("", "Not answered"), ("yes", "Yes"), ("no", "No"))


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=TEXT_MAX, required=False, label="Resolution note")
    # "Was this actionable?" answered with the resolve (optional).
    actionable = forms.TypedChoiceField(
        choices=ACTIONABLE_CHOICES, required=False, coerce=lambda v: v == "yes", empty_value=None
    )


class ActionableForm(forms.Form):
    actionable = forms.TypedChoiceField(
        choices=ACTIONABLE_CHOICES[1:], coerce=lambda v: v == "yes", label="Was this actionable?"
    )
    reason = forms.CharField(max_length=ACTIONABLE_REASON_MAX, required=False)


class ReopenForm(forms.Form):
    reason = forms.CharField(max_length=TEXT_MAX, required=False)


class ReassignForm(ServiceErrorsMixin, forms.Form):
    user = UserChoiceField(
        queryset=User.objects.none(), required=False, label="A person", empty_label="—"
    )
    policy = PolicyChoiceField(
        queryset=EscalationPolicy.objects.none(),
        required=False,
        label="or an escalation policy",
        empty_label="—",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in (("user", _people()), ("policy", _policies())):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("policy")):
            raise ValidationError("Choose either a person or an escalation policy.")
        return data


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices)


class CommanderForm(forms.Form):
    commander = UserChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody (clear)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["commander"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = _people()


class NoteForm(ServiceErrorsMixin, forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=TEXT_MAX, label="Note"
    )


class StatusUpdateForm(ServiceErrorsMixin, forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=TEXT_MAX,
        label="Status update",
        help_text="Emailed to the team and the company.",
    )


class TriageForm(ServiceErrorsMixin, forms.Form):
    """Handbook 004's checklist: the 5Ws, evidence, ticket, service, the five priority
    questions, then the severity (with a reason when it is not the suggested one).

    With a severity it confirms (the 5Ws required); without, it saves what is there. The
    rules are the service's (incidents.services.triage); this form only shapes the input."""

    who = forms.CharField(label="Who is affected?", max_length=FIVE_W_MAX, required=False)
    what = forms.CharField(label="What is happening?", max_length=FIVE_W_MAX, required=False)
    where = forms.CharField(label="Where?", max_length=FIVE_W_MAX, required=False)
    when = forms.CharField(label="When did it start?", max_length=FIVE_W_MAX, required=False)
    how = forms.CharField(label="How (cause, trigger)?", max_length=FIVE_W_MAX, required=False)
    evidence = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=EVIDENCE_MAX_ITEMS * (EVIDENCE_URL_MAX + 2),
        help_text="Links to logs, customer emails, alerts: one per line.",
    )
    ticket = forms.CharField(max_length=TICKET_MAX, required=False, help_text="e.g. MCT-123")
    service = forms.CharField(
        max_length=SERVICE_MAX, required=False, help_text="The service affected, e.g. checkout-api."
    )
    severity = forms.ChoiceField(
        choices=[("", "Choose when confirming"), *Severity.choices], required=False
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=TEXT_MAX,
        required=False,
        label="Reason",
        help_text="Required when the severity is not the suggested one.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in QUESTIONS:
            self.fields[question.name] = forms.TypedChoiceField(
                label=question.text,
                choices=[(n, f"{n} · {words}") for n, words in enumerate(question.scale, 1)],
                coerce=int,
                required=False,
                empty_value=None,
                widget=forms.RadioSelect,
            )

    @classmethod
    def for_incident(cls, incident: Incident) -> "TriageForm":
        return cls(
            initial={
                "severity": incident.severity if incident.triage_confirmed_at else "",
                "evidence": "\n".join(incident.evidence or []),
                "ticket": incident.ticket,
                "service": incident.service,
                "reason": incident.triage_reason,
                **incident.five_ws,
                **(incident.triage_answers or {}),
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("severity"):
            for name in ("who", "what", "where", "when", "how"):
                if name in data and not data[name].strip():
                    self.add_error(name, "This field is required.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned input as incident_triage's keywords."""
        data = self.cleaned_data
        answers = {q.name: data[q.name] for q in QUESTIONS if data.get(q.name) is not None}
        return {
            **{name: data[name] for name in ("who", "what", "where", "when", "how")},
            "evidence": data["evidence"].splitlines(),
            "ticket": data["ticket"],
            "service": data["service"],
            "answers": answers,
            "severity": data["severity"],
            "reason": data["reason"],
        }

    def add_service_error(self, error: ValidationError) -> None:
        # The service names nested input "answers.<name>" and "evidence.<index>".
        if hasattr(error, "error_dict"):
            renamed: dict[str, list[str]] = {}
            for field, messages in error.message_dict.items():
                name = field.split(".", 1)[1] if field.startswith("answers.") else field
                name = "evidence" if name.startswith("evidence.") else name
                renamed.setdefault(name, []).extend(messages)
            error = ValidationError(renamed)
        super().add_service_error(error)


class RecordCallForm(ServiceErrorsMixin, forms.Form):
    number = forms.ChoiceField(label="Number called")
    outcome = forms.CharField(
        max_length=500, help_text="e.g. 'Frank answered, joining the bridge' or 'voicemail'."
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["number"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (n["phone"], f"{n['label']}: {n['phone']}") for n in incident.direct_numbers
        ]
