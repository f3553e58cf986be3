"""Inline formsets of the rotations admin: the rules that need more than one row.

A call-directly team needs numbers; members and overrides belong to the rotation's team;
overrides submitted together must not overlap (Override.clean sees only saved rows); and
escalation steps are checked against the policy's team even before the policy is saved
(EscalationStep.clean can only do that once the policy has a primary key).
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from adminsortable2.admin import CustomInlineFormSet
from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from rotations.admin.changes import ChangePreview, rotation_change_preview
from rotations.admin.forms import override_team_rules, team_member_error
from rotations.models import (
    ContactMode,
    EscalationPolicy,
    EscalationStep,
    Rotation,
    StepAction,
    Team,
)


class DirectNumberFormSet(CustomInlineFormSet):
    """A call-directly team must leave support at least one number to dial."""

    def clean(self) -> None:
        super().clean()
        team: Team = self.instance
        if team.contact_mode != ContactMode.CALL:
            return
        remaining = [
            form
            for form in self.forms
            if (form.has_changed() or form.instance.pk is not None)
            and not self._should_delete_form(form)
        ]
        if not remaining:
            raise ValidationError(
                "A call-directly team needs at least one number for support to dial.",
                code="no_numbers",
            )


def _live_forms(formset: Any) -> list[forms.Form]:
    """Forms that passed their own validation and are neither empty nor being deleted."""
    return [
        form
        for form in formset.forms
        if form.is_valid()
        and (form.has_changed() or getattr(form.instance, "pk", None) is not None)
        and not formset._should_delete_form(form)
    ]


PREVIEW = "_preview"
CONFIRM_ONCALL_CHANGE = "confirm_oncall_change"


def _list_order(form: Any, index: int) -> tuple[float, int]:
    """Where a member form sits in the list: its position; a new row without one goes last."""
    position = form.cleaned_data.get("position")
    if position is None or (position <= 0 and form.instance.pk is None):
        return (float("inf"), index)
    return (position, index)


class RotationMemberFormSet(CustomInlineFormSet):
    """Members must belong to the rotation's team (also while the rotation is being added).

    On a saved rotation it also works out, from the unsaved fields and list, the effect on
    who is on call (`preview`). "Preview" (`_preview`) stops there and saves nothing; a save
    that changes who is on call *now* needs `confirm_oncall_change` ticked.
    """

    preview: ChangePreview | None = None

    def clean(self) -> None:
        super().clean()
        rotation: Rotation = self.instance
        if rotation.team_id is None:
            return
        team_members = set(rotation.team.members.values_list("pk", flat=True))
        live = _live_forms(self)
        for form in live:
            user = form.cleaned_data.get("user")
            if user is not None and user.pk not in team_members:
                form.add_error("user", team_member_error(rotation.team, user))
        if rotation.pk is None or any(form.errors for form in self.forms):
            return
        ordered = sorted(enumerate(live), key=lambda pair: _list_order(pair[1], pair[0]))
        members = [form.cleaned_data["user"] for _, form in ordered]
        try:
            self.preview = rotation_change_preview(
                rotation=rotation, members=members, now=timezone.now()
            )
        except (ValueError, zoneinfo.ZoneInfoNotFoundError, TypeError):
            return  # the rotation's own fields are in error; their messages say why
        if self.data.get(PREVIEW):
            raise ValidationError(
                "Preview only: nothing is saved yet. Check the effect above, then save.",
                code="preview",
            )
        if self.preview.now_changes and not self.data.get(CONFIRM_ONCALL_CHANGE):
            raise ValidationError(
                f"{self.preview.sentences[0]} Tick \u201cYes, change who is on call now\u201d "
                "above and save again.",
                code="confirm_oncall_change",
            )


class OverrideFormSet(BaseInlineFormSet):
    """Overrides submitted together must not overlap each other (clean() sees only the DB)."""

    def clean(self) -> None:
        super().clean()
        rotation = self.instance
        team_members = (
            set(rotation.team.members.values_list("pk", flat=True))
            if rotation.team_id is not None
            else None
        )
        windows = []
        for form in _live_forms(self):
            data = form.cleaned_data
            user, start, end = data.get("user"), data.get("start"), data.get("end")
            if user is not None and team_members is not None and user.pk not in team_members:
                form.add_error("user", team_member_error(rotation.team, user))
            elif form.has_changed() and isinstance(form, forms.ModelForm):
                override_team_rules(form, rotation)
            if user is not None and start is not None and end is not None:
                windows.append((start, end, user))
        windows.sort(key=lambda window: window[0])
        clashes = [
            f"{a_user} {a_start:%Y-%m-%d %H:%M}–{a_end:%Y-%m-%d %H:%M} and "
            f"{b_user} {b_start:%Y-%m-%d %H:%M}–{b_end:%Y-%m-%d %H:%M} UTC"
            for i, (a_start, a_end, a_user) in enumerate(windows)
            for b_start, b_end, b_user in windows[i + 1 :]
            if b_start < a_end
        ]
        if clashes:
            raise ValidationError(
                "These overrides overlap each other: " + "; ".join(clashes) + ".",
                code="overlap",
            )


def step_policy_errors(step: dict[str, Any], policy: EscalationPolicy) -> dict[str, str]:
    """What EscalationStep.clean checks against the policy, for a policy not saved yet."""
    errors: dict[str, str] = {}
    if policy.team_id is None:
        return errors
    team = policy.team
    rotation: Rotation | None = step.get("rotation")
    if rotation is not None and rotation.team_id != team.pk:
        errors["rotation"] = "The rotation belongs to another team."
    if step.get("action") == StepAction.ESCALATION_CONTACT and team.escalation_contact_id is None:
        errors["action"] = f"The team {team.name} has no escalation contact to page."
    return errors


class EscalationStepFormSet(CustomInlineFormSet):
    """Steps offer the policy's team's rotations and are checked against that team."""

    def add_fields(self, form: forms.ModelForm[EscalationStep], index: int | None) -> None:
        super().add_fields(form, index)
        policy: EscalationPolicy = self.instance
        field = form.fields.get("rotation")
        if isinstance(field, forms.ModelChoiceField) and policy.team_id is not None:
            field.queryset = Rotation.objects.filter(team_id=policy.team_id).select_related("team")

    def clean(self) -> None:
        super().clean()
        policy: EscalationPolicy = self.instance
        for form in _live_forms(self):
            for field, message in step_policy_errors(form.cleaned_data, policy).items():
                form.add_error(field, message)
            if form.cleaned_data.get("action") == StepAction.USERS and not form.cleaned_data.get(
                "users"
            ):
                form.add_error("users", "Choose who this step pages.")
