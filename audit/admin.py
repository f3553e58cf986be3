"""The trail in the admin: read-only, Managers (who hold its view permission) and superusers."""

from auditlog.admin import LogEntryAdmin
from django.contrib import admin

from audit.models import AuditEntry
from oncall.admin import ReadOnlyAdmin

# auditlog's admin module registers its admin for AUDITLOG_LOGENTRY_MODEL; this one replaces it.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, LogEntryAdmin):
    list_display = ["created", "resource_url", "action", "via", "msg_short", "user_url"]
    list_filter = ["action", "via", "content_type"]
    readonly_fields = ["created", "resource_url", "action", "via", "user_url", "msg"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "via", "resource_url"]}),
        ("Changes", {"fields": ["action", "msg"]}),
    ]
