"""Managers create and edit integrations and webhook subscriptions in the admin.

Who may do what follows the role permissions in IntegrationsConfig: managers edit
integrations and subscriptions and view alert groups; other roles see none of it.
Secrets (an integration's key, a subscription's signing secret) are shown once, in a
message after add or rotate, and never on a change page or list.
"""

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from incidents.models import Severity
from integrations.ingest import inbound_retry
from integrations.models import (
    HEARTBEAT_MAX,
    HEARTBEAT_MIN,
    INBOUND_PENDING,
    Alert,
    AlertGroup,
    HeartbeatMonitor,
    InboundEvent,
    InboundStatus,
    Integration,
    IntegrationType,
    WebhookSubscription,
)
from integrations.selectors import integration_failed_events
from integrations.services import (
    heartbeat_monitor_save,
    integration_issue_key,
    integration_rotate_key,
    integration_url,
    webhook_subscription_rotate_secret,
)
from integrations.services.heartbeats import HEARTBEAT_FIELDS
from oncall.admin import ReadOnlyAdmin

# What a manager sets on any integration (the heartbeat's settings are the form's own fields).
INTEGRATION_FIELDS = (
    "team",
    "name",
    "type",
    "severity_map",
    "escalation_policy",
    "rate_limit_per_minute",
)


class IntegrationForm(forms.ModelForm):
    """An integration; a heartbeat one also has its monitor's settings (others refuse them)."""

    interval = forms.DurationField(
        required=False, help_text="Heartbeat only: a ping is expected this often (HH:MM:SS)."
    )
    grace = forms.DurationField(
        required=False,
        help_text="Heartbeat only: how much later than the interval a ping may come before "
        "an incident opens (HH:MM:SS). Both from 1 minute to 7 days.",
    )
    severity = forms.ChoiceField(
        choices=[("", "SEV2 (default)"), *Severity.choices],
        required=False,
        help_text="Heartbeat only: the level of the incident it opens when late.",
    )
    is_enabled = forms.BooleanField(
        required=False,
        initial=True,
        label="Enabled",
        help_text="Heartbeat only: a disabled monitor never opens an incident; enabled again, "
        "it waits for its next ping.",
    )

    class Meta:
        model = Integration
        fields = INTEGRATION_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        monitor = getattr(self.instance, "heartbeat", None) if self.instance.pk else None
        if monitor is not None:
            for name in HEARTBEAT_FIELDS:
                self.initial[name] = getattr(monitor, name)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("type") != IntegrationType.HEARTBEAT:
            for name in ("interval", "grace", "severity"):
                if data.get(name):
                    self.add_error(name, "Only a heartbeat integration has this setting.")
            return data
        for name in ("interval", "grace"):
            value = data.get(name)
            if value is None and name not in self.errors:
                self.add_error(name, "A heartbeat integration needs this duration.")
            elif value is not None and not HEARTBEAT_MIN <= value <= HEARTBEAT_MAX:
                self.add_error(name, "Give a duration from 1 minute to 7 days.")
        return data

    def heartbeat_settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "interval": data["interval"],
            "grace": data["grace"],
            "severity": data.get("severity") or Severity.SEV2,
            "is_enabled": bool(data.get("is_enabled")),
        }


def _monitor(obj: Integration) -> HeartbeatMonitor | None:
    if obj.pk is None or obj.type != IntegrationType.HEARTBEAT:
        return None
    return getattr(obj, "heartbeat", None)


def _monitor_when(obj: Integration, name: str) -> str:
    """One of the heartbeat monitor's times, in the viewer's zone ("—" when there is none)."""
    monitor = _monitor(obj)
    at: datetime | None = getattr(monitor, name) if monitor is not None else None
    return date_format(localtime(at), "DATETIME_FORMAT") if at is not None else "—"


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "team",
        "type",
        "key_prefix",
        "heartbeat_state",
        "rate_limit_per_minute",
        "refused_events",
    )
    list_select_related = ("team", "heartbeat")
    form = IntegrationForm
    list_filter = ("type", "team")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    *INTEGRATION_FIELDS,
                    "key_prefix",
                    "refused_events",
                    "failed_events",
                    "created_by",
                    "created_at",
                )
            },
        ),
        (
            "Heartbeat monitor",
            {
                "fields": (
                    "interval",
                    "grace",
                    "severity",
                    "is_enabled",
                    "heartbeat_state",
                    "last_ping_at",
                    "expected_at",
                    "next_due_at",
                ),
                "description": "Only for the heartbeat type: it expects a ping every interval "
                "and opens an incident on the team when none came within interval + grace.",
            },
        ),
    )
    readonly_fields = (
        "key_prefix",
        "refused_events",
        "failed_events",
        "created_by",
        "created_at",
        "heartbeat_state",
        "last_ping_at",
        "expected_at",
        "next_due_at",
    )
    actions = ("rotate_key",)

    def save_model(
        self, request: HttpRequest, obj: Integration, form: ModelForm, change: bool
    ) -> None:
        secret = None
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
            secret = integration_issue_key(integration=obj)
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if obj.type == IntegrationType.HEARTBEAT:
                assert isinstance(form, IntegrationForm)
                heartbeat_monitor_save(integration=obj, settings=form.heartbeat_settings())
        if secret is not None:
            url = integration_url(integration=obj, key=secret)
            messages.warning(
                request,
                f"Integration key (shown once, copy it now): {secret} — send events to {url}",
            )

    @admin.display(description="Heartbeat")
    def heartbeat_state(self, obj: Integration) -> str:
        monitor = _monitor(obj)
        if monitor is None:
            return "—"
        return monitor.get_state_display() + ("" if monitor.is_enabled else " (disabled)")

    @admin.display(description="Last ping")
    def last_ping_at(self, obj: Integration) -> str:
        return _monitor_when(obj, "last_ping_at")

    @admin.display(description="Next ping expected")
    def expected_at(self, obj: Integration) -> str:
        return _monitor_when(obj, "expected_at")

    @admin.display(description="Late (an incident opens) after")
    def next_due_at(self, obj: Integration) -> str:
        return _monitor_when(obj, "next_due_at")

    @admin.display(description="Failed events")
    def failed_events(self, obj: Integration) -> str:
        """Events given up after their retries (later events of their key went on)."""
        if obj.pk is None:
            return "—"
        failed = integration_failed_events(integration=obj)
        if not failed.count:
            return "None"
        link = (
            reverse("admin:integrations_inboundevent_changelist")
            + f"?integration__id__exact={obj.pk}&state=failed"
        )
        errors = format_html_join(
            "",
            "<li>#{} {} ({}): {}</li>",
            (
                (
                    e.pk,
                    e.dedup_key,
                    date_format(localtime(e.failed_at or e.received_at), "DATETIME_FORMAT"),
                    e.last_error,
                )
                for e in failed.latest
            ),
        )
        return format_html(
            '<a href="{}">{} failed</a> — the latest:<ul>{}</ul>', link, failed.count, errors
        )

    @admin.action(
        description="Issue a new key (the old one stops working)", permissions=("change",)
    )
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            secret = integration_rotate_key(integration=integration)
            messages.warning(request, f"New key for {integration.name} (shown once): {secret}")


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    can_delete = False
    fields = ("fingerprint", "status", "summary", "severity", "labels", "annotations", "starts_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    list_display = (
        "dedup_key",
        "integration",
        "incident",
        "is_open",
        "alert_count",
        "truncated_alerts",
        "last_event_at",
    )
    list_filter = ("is_open", "integration")
    list_select_related = ("integration", "incident")
    readonly_fields = list_display
    inlines = (AlertInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InboundStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("unprocessed", "Unprocessed"),
            ("retrying", "Failed, retrying"),
            ("failed", "Failed, given up"),
            ("processed", "Processed"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        match self.value():
            case "unprocessed":
                return queryset.filter(status__in=INBOUND_PENDING)
            case "retrying":
                return queryset.filter(status=InboundStatus.RETRYING)
            case "failed":
                return queryset.filter(status=InboundStatus.FAILED)
            case "processed":
                return queryset.filter(status=InboundStatus.PROCESSED)
        return queryset


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    """Accepted events, read-only: what is still to fold, what failed and why."""

    list_display = (
        "id",
        "integration",
        "kind",
        "dedup_key",
        "status",
        "received_at",
        "processed_at",
        "action",
        "attempts",
        "next_attempt_at",
        "failed_at",
        "last_error",
    )
    list_filter = (InboundStateFilter, "kind", "integration")
    list_select_related = ("integration",)
    search_fields = ("dedup_key",)
    readonly_fields = (*list_display, "payload")
    actions = ("retry_now",)

    @admin.action(description="Retry now (failed or waiting events)", permissions=("view",))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        count = inbound_retry(events=queryset)
        messages.info(request, f"{count} event(s) queued again.")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("url", "team", "event_types", "is_active", "created_at")
    list_filter = ("is_active", "team")
    list_select_related = ("team",)
    # Never `secret`: it is shown once, in a message, when it is made.
    fields = ("url", "team", "event_types", "is_active", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")
    actions = ("rotate_secret",)

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form: ModelForm, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(
                request,
                f"Signing secret (shown once, copy it now): {obj.secret} — deliveries to "
                f"{obj.url} carry X-Signature, HMAC-SHA256 over '<timestamp>.<body>' with it",
            )

    # Deliveries already queued keep the secret their row was written with.
    @admin.action(description="Rotate secret", permissions=("change",))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            secret = webhook_subscription_rotate_secret(subscription=subscription)
            messages.warning(
                request, f"New signing secret for {subscription.url} (shown once): {secret}"
            )
