"""Managers edit severity policies; incidents and their records are shown read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from incidents.models import EscalationState, Incident, SeverityPolicy, StatusUpdate, TimelineEvent
from oncall.admin import ReadOnlyAdmin


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "level",
        "urgency",
        "acknowledge_target",
        "triage_target",
        "page_both_tiers",
        "status_updates_required",
        "status_update_interval",
        "postmortem_required",
        "postmortem_emailed",
        "postmortem_due",
        "action_item_due",
        "escalation_policy",
    )
    readonly_fields = ("level",)
    list_select_related = ("escalation_policy__team",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # exactly one row per level, made by the data migration

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TimelineInline(_ReadOnlyInline):
    model = TimelineEvent
    fields = ("at", "kind", "actor", "via", "message")
    readonly_fields = fields


class EscalationStateInline(_ReadOnlyInline):
    model = EscalationState
    fields = (
        "track",
        "generation",
        "status",
        "step_index",
        "repeat_index",
        "walk_position",
        "next_action_at",
    )
    readonly_fields = fields


_ReadOnlyAdmin = ReadOnlyAdmin


@admin.register(Incident)
class IncidentAdmin(_ReadOnlyAdmin):
    list_display = ("id", "title", "severity", "status", "team", "source", "triggered_at")
    list_filter = ("status", "severity", "source", "team")
    search_fields = ("title", "description", "ticket", "dedup_key")
    list_select_related = ("team",)
    inlines = (EscalationStateInline, TimelineInline)


@admin.register(StatusUpdate)
class StatusUpdateAdmin(_ReadOnlyAdmin):
    list_display = ("incident", "created_at", "author", "severity")
    list_select_related = ("incident", "author")
