from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from oncall.api.services import api_key_revoke
from oncall.models import ApiKey, Heartbeat, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "phone", "timezone", "is_active")
    list_filter = ("groups", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email", "phone")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("On call", {"fields": ("display_name", "timezone", "phone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("On call", {"fields": ("email", "display_name", "timezone", "phone")}),
    )


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """Seen here, written only by the worker (`oncall.heartbeat`): a row added by hand would
    have no time and could only fake that beat is alive."""

    list_display = ("name", "at")
    readonly_fields = ("name", "at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made by their owners (POST /api/v1/keys/); here they are seen and revoked."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)
