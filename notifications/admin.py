from django.contrib import admin

from notifications.models import ContactMethod, Notification, NotificationRule


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ("user", "channel", "address", "label", "verified_at")
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
        "reason",
    )
    list_filter = ("status", "channel", "urgency", "throttled")
    search_fields = ("idempotency_key", "address", "provider_message_id")
    list_select_related = ("recipient", "bundled_into")
    date_hierarchy = "created_at"
    # A webhook sender's key: whoever reads the outbox must not be able to forge its hooks.
    exclude = ("signing_secret",)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
