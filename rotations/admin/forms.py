"""Forms and widgets of the rotations admin (its formsets are in rotations.admin.formsets).

Shift length is entered as a number and a unit, working days as checkboxes; the models'
clean() methods hold each row's rules, these forms add what needs another row to check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet

from oncall.models import User
from oncall.roles import ENGINEER
from rotations.models import (
    WEEKDAY_NAMES,
    EscalationPolicy,
    Override,
    Rotation,
    RotationMember,
    Team,
)
from rotations.services import (
    override_permission_check,
    override_permitted,
    override_rules_check,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
UNITS = {"hours": HOUR, "days": DAY}
# A longer shift is a typo, not a rotation; the cap also keeps timedelta from overflowing.
MAX_SHIFT = timedelta(days=366)


class ShiftLengthWidget(forms.MultiWidget):
    """A number and a unit (hours or days), posted as `<name>_value` and `<name>_unit`."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {
            # The admin's own narrow-number class (no style attribute: the CSP forbids them).
            "value": forms.NumberInput(attrs={"min": 1, "class": "vIntegerField"}),
            "unit": forms.Select(choices=[(unit, unit) for unit in UNITS]),
        }
        super().__init__(widgets, attrs)

    def decompress(self, value: timedelta | None) -> list[Any]:
        if not value:
            return [None, "days"]
        if value % DAY:
            return [value // HOUR, "hours"]
        return [value // DAY, "days"]


class ShiftLengthField(forms.MultiValueField):
    widget = ShiftLengthWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.IntegerField(min_value=0, max_value=MAX_SHIFT // HOUR),
            forms.ChoiceField(choices=[(unit, unit) for unit in UNITS]),
        )
        kwargs.setdefault("help_text", "Whole hours or days: 7 days is weekly, 14 a sprint.")
        super().__init__(fields, require_all_fields=True, **kwargs)

    def compress(self, data_list: Sequence[Any]) -> timedelta | None:
        if not data_list:
            return None
        number, unit = data_list
        if number is None or unit is None:
            return None
        if number * UNITS[unit] > MAX_SHIFT:
            raise ValidationError("A shift lasts at most 366 days.", code="too_long")
        return int(number) * UNITS[unit]


WEEKDAY_CHOICES = list(enumerate(WEEKDAY_NAMES))


class TeamRotationForm(forms.ModelForm):
    """A rotation as a row of its team's page (the rest is on the rotation's own page)."""

    shift_length = ShiftLengthField(label="Shift length")

    class Meta:
        model = Rotation
        fields = ("name", "tier", "position", "shift_length", "handoff_time", "timezone")


class RotationAdminForm(TeamRotationForm):
    working_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="With working hours: the days covered. None ticked: every day.",
    )

    class Meta:
        model = Rotation
        fields = (
            "team",
            "name",
            "tier",
            "position",
            "shift_length",
            "handoff_time",
            "timezone",
            "start_date",
            "working_days",
            "working_hours_start",
            "working_hours_end",
            "working_hours_timezone",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        team = cleaned.get("team")
        rotation = self.instance
        if team is not None and rotation.pk is not None and "team" in self.changed_data:
            paging = (
                EscalationPolicy.objects.filter(steps__rotation=rotation)
                .exclude(team=team)
                .select_related("team")
                .distinct()
            )
            names = ", ".join(str(policy) for policy in paging)
            if names:
                self.add_error(
                    "team",
                    f"Escalation policies of another team page this rotation ({names}); "
                    "change their steps first.",
                )
        return cleaned


class TeamAdminForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = (
            "name",
            "slug",
            "description",
            "contact_mode",
            "escalation_contact",
            "announcement_email",
            "email",
            "slack_usergroup_id",
            "members",
        )

    def clean_members(self) -> Iterable[User]:
        members = self.cleaned_data["members"]
        if self.instance.pk is None:
            return members
        kept = {user.pk for user in members}
        still_on_rotations = (
            RotationMember.objects.filter(rotation__team=self.instance)
            .exclude(user__in=kept)
            .select_related("user", "rotation__team")
        )
        problems = [f"{m.user} is still in {m.rotation}" for m in still_on_rotations]
        if problems:
            raise ValidationError(
                "; ".join(problems) + ". Take them off the rotation before the team."
            )
        return members


def team_member_error(team: Team, user: User) -> str:
    return f"{user} is not a member of the team {team.name}; add them to the team first."


def confirm_double_booking_field() -> forms.BooleanField:
    return forms.BooleanField(
        required=False,
        label="Confirm double booking",
        help_text="Tick to accept that this person is then on call in two positions of the "
        "team at once.",
    )


def override_team_rules(form: forms.ModelForm[Override], rotation: Rotation | None) -> None:
    """The services' team-wide override rules, as errors on an admin form (managers only)."""
    data = form.cleaned_data
    user, start, end = data.get("user"), data.get("start"), data.get("end")
    if rotation is None or user is None or start is None or end is None or end <= start:
        return
    try:
        override_rules_check(
            rotation=rotation,
            user=user,
            start=start,
            end=end,
            actor=getattr(form, "actor", None),  # None: a manager's inline (rotation page)
            confirm_double_booking=bool(data.get("confirm_double_booking")),
            ignore_override_ids=(form.instance.pk,) if form.instance.pk else (),
        )
    except ValidationError as error:
        form.add_error(None, error)


class OverrideAdminForm(forms.ModelForm):
    confirm_double_booking = confirm_double_booking_field()
    # Who edits (OverrideAdmin.get_form sets it): the services' permission rule applies.
    actor: User | None = None

    class Meta:
        model = Override
        fields = ("rotation", "user", "replaces", "start", "end", "reason")
        help_texts = {"start": "UTC.", "end": "UTC."}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        rotation, user = cleaned.get("rotation"), cleaned.get("user")
        if rotation and user and not rotation.team.members.contains(user):
            self.add_error("user", team_member_error(rotation.team, user))
        elif not self.errors:
            self._permission_rule(rotation, user)
        if not self.errors:
            override_team_rules(self, rotation)
        return cleaned

    def _permission_rule(self, rotation: Rotation | None, user: User | None) -> None:
        """The services' rule (a no-op for managers), as form errors instead of a 403."""
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        if self.actor is None or rotation is None or user is None or not (start and end):
            return
        instance = self.instance
        try:
            if instance.pk and not override_permitted(
                actor=self.actor,
                rotation=instance.rotation,
                user=instance.user,
                replaces=instance.replaces,
            ):
                raise PermissionDenied("You may only change overrides of your own shifts.")
            override_permission_check(
                actor=self.actor,
                rotation=rotation,
                user=user,
                replaces=data.get("replaces"),
                start=start,
                end=end,
                ignore_override_ids=(instance.pk,) if instance.pk else (),
            )
        except PermissionDenied as refused:
            self.add_error(None, str(refused))
        except ValidationError as refused:
            self.add_error(None, refused.messages)


class OverrideInlineForm(forms.ModelForm):
    """An override row of the rotation's page (the formset applies the team-wide rules)."""

    confirm_double_booking = confirm_double_booking_field()

    class Meta:
        model = Override
        fields = ("user", "replaces", "start", "end", "reason")


def engineers_and(*, keep: Iterable[int] = ()) -> QuerySet[User]:
    """Active engineers (the people a rotation's list may hold), plus the users in `keep`."""
    return (
        User.objects.filter(Q(is_active=True, groups__name=ENGINEER) | Q(pk__in=list(keep)))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
