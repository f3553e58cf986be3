"""Teams: members, direct numbers (call-directly teams) and their rotations inline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from oncall.http import id_from_text
from rotations.admin.forms import TeamAdminForm, TeamRotationForm
from rotations.admin.formsets import DirectNumberFormSet
from rotations.admin.sortable import SortableInline, SortableParentAdmin
from rotations.models import POLICY_FIELDS, DirectNumber, EscalationPolicy, Rotation, Team


class DirectNumberInline(SortableInline):
    model = DirectNumber
    formset = DirectNumberFormSet
    fields = ("label", "phone")
    verbose_name_plural = "numbers to call directly (in this order)"


class TeamRotationRowForm(TeamRotationForm):
    """An existing rotation's schedule changes only on its own page, which previews the
    effect on who is on call and asks before changing who is on call now."""

    SCHEDULE = ("shift_length", "handoff_time", "timezone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in self.SCHEDULE:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Change it on the rotation's page (previewed)."


class TeamRotationInline(admin.TabularInline):
    model = Rotation
    form = TeamRotationRowForm
    fields = ("name", "tier", "position", "shift_length", "handoff_time", "timezone")
    extra = 0
    show_change_link = True
    verbose_name_plural = "rotations (members, overrides and working hours on each one's page)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rotation]:
        return super().get_queryset(request).select_related("team")


@admin.register(Team)
class TeamAdmin(SortableParentAdmin, admin.ModelAdmin):
    form = TeamAdminForm
    list_display = (
        "name",
        "slug",
        "contact_mode",
        "escalation_contact",
        "member_count",
        "rotation_count",
    )
    list_filter = ("contact_mode",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "description")}),
        (
            "Paging",
            {
                "fields": (
                    "contact_mode",
                    "escalation_contact",
                    "announcement_email",
                    "email",
                    "slack_usergroup_id",
                )
            },
        ),
        (
            "Policies",
            {
                "description": "Which of the team's policies pages for what. Renaming a "
                "policy changes nothing here; a new team chooses after adding policies.",
                "fields": POLICY_FIELDS,
            },
        ),
        ("People", {"fields": ("members",)}),
    )
    inlines = (DirectNumberInline, TeamRotationInline)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name in POLICY_FIELDS:
            # Only the team's own policies (a team being added has none yet).
            object_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            team_id = id_from_text(object_id) or 0
            kwargs["queryset"] = EscalationPolicy.objects.filter(team_id=team_id).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return (
            super()
            .get_queryset(request)
            .select_related("escalation_contact")
            .annotate(
                member_total=Count("members", distinct=True),
                rotation_total=Count("rotations", distinct=True),
            )
        )

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, team: Team) -> int:
        return getattr(team, "member_total", 0)

    @admin.display(description="Rotations", ordering="rotation_total")
    def rotation_count(self, team: Team) -> int:
        return getattr(team, "rotation_total", 0)
