from django.contrib import admin
from django.db.models import BooleanField, Case, Count, Q, QuerySet, Value, When
from django.http import HttpRequest

from notifications.models import (
    CODE_HIDDEN,
    VERIFICATION_KEY_PREFIX,
    ContactMethod,
    Notification,
    NotificationRule,
)


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ("user", "channel", "address", "label", "verified_at", "last_tested_at")
    list_filter = ("channel",)
    search_fields = ("user__username", "address")
    list_select_related = ("user",)


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ("user", "urgency", "contact_method", "delay")
    list_filter = ("urgency",)
    list_select_related = ("user", "contact_method")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: the outbox changes only through its services."""

    list_display = (
        "created_at",
        "recipient",
        "channel",
        "address",
        "status",
        "attempts",
        "throttled",
        "bundled_into",
        "carried",
        "late_by",
        "reason",
    )
    list_filter = ("status", "channel", "urgency", "throttled")
    search_fields = ("idempotency_key", "address", "provider_message_id")
    list_select_related = ("recipient", "bundled_into")
    date_hierarchy = "created_at"
    # A webhook sender's key: whoever reads the outbox must not be able to forge its hooks.
    # The body is shown through `message`, which hides other people's verification codes.
    exclude = ("signing_secret", "body")
    readonly_fields = ("message", "due_at", "attempted_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        # A verification message's body is its code: only its recipient may read it.
        others_code = Q(idempotency_key__startswith=VERIFICATION_KEY_PREFIX) & ~Q(
            recipient_id=request.user.pk
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                carried_count=Count("bundled"),
                body_hidden=Case(
                    When(others_code, then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            )
        )

    @admin.display(description="body")
    def message(self, obj: Notification) -> str:
        return CODE_HIDDEN if getattr(obj, "body_hidden", True) else obj.body

    @admin.display(description="carried", ordering="carried_count")
    def carried(self, obj: Notification) -> str:
        """How many other pages this row's message carried (storm control)."""
        count: int = getattr(obj, "carried_count", 0)
        return f"+{count}" if count else ""

    @admin.display(description="late by")
    def late_by(self, obj: Notification) -> str:
        """From when the page was due to when its message started going out."""
        if obj.due_at is None or obj.attempted_at is None:
            return ""
        return f"{max(0.0, (obj.attempted_at - obj.due_at).total_seconds()):.0f} s"

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
