"""Managers (and everyone with the view permission) read on-call reports here; they are
written and submitted in the portal and the API, through the services."""

from django.contrib import admin

from oncall.admin import ReadOnlyAdmin
from reports.models import OnCallReport


@admin.register(OnCallReport)
class OnCallReportAdmin(ReadOnlyAdmin):
    list_display = (
        "rotation",
        "user",
        "shift_start",
        "shift_end",
        "status",
        "handoff_acknowledged_at",
    )
    list_filter = ("status", "rotation__team")
    list_select_related = ("rotation__team", "user")
    search_fields = (
        "user__username",
        "user__first_name",
        "user__last_name",
        "rotation__team__name",
    )
    date_hierarchy = "shift_start"
