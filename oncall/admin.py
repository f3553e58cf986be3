from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from oncall.api.services import api_key_revoke
from oncall.models import ApiKey, Heartbeat, User

# What a Manager edits on a person: who they are and how to reach them, and whether they may
# sign in. Roles, staff and superuser status, permissions and passwords are a superuser's.
PEOPLE_FIELDSETS = (
    (None, {"fields": ("username",)}),
    ("Personal info", {"fields": ("first_name", "last_name", "email")}),
    ("On call", {"fields": ("display_name", "timezone", "phone", "slack_user_id")}),
    ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
    ("Important dates", {"fields": ("last_login", "date_joined")}),
)
GRANTED_BY_SUPERUSERS = ("is_staff", "is_superuser", "groups", "last_login", "date_joined")


def _is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (or machines): shown, never added, changed or deleted
    here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Managers edit people's on-call details; only superusers grant access.

    A non-superuser sees roles and status read-only, no password field, no add page, no
    password page, and a superuser's account read-only (its email would be a way in).
    """

    list_display = ("username", "display_name", "email", "phone", "timezone", "is_active")
    list_filter = ("groups", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email", "phone")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("On call", {"fields": ("display_name", "timezone", "phone", "slack_user_id")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("On call", {"fields": ("email", "display_name", "timezone", "phone")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None or _is_superuser(request):
            return super().get_fieldsets(request, obj)
        return PEOPLE_FIELDSETS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if _is_superuser(request):
            return super().get_readonly_fields(request, obj)
        return GRANTED_BY_SUPERUSERS

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A new account's password and roles are set as it is made: superusers only.
        return _is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not _is_superuser(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not _is_superuser(request):
            return False
        return super().has_delete_permission(request, obj)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Setting someone's password is signing in as them.
        if not _is_superuser(request):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """A group is a role: what it holds is granted by superusers (and by migrate)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)


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
