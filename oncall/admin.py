from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from oncall.models import Heartbeat, User


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
    list_display = ("name", "at")
    readonly_fields = ("name", "at")
