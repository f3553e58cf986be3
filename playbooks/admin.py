from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from incidents.triage import service_clean
from playbooks.models import PlaybookAttempt, PlaybookEntry
from playbooks.services import ENTRY_FIELDS


class EntryAdminForm(forms.ModelForm):
    class Meta:
        model = PlaybookEntry
        fields = ENTRY_FIELDS

    def clean_service(self) -> str:
        return service_clean(self.cleaned_data.get("service", ""))


@admin.register(PlaybookEntry)
class PlaybookEntryAdmin(admin.ModelAdmin):
    """Managers and support managers hold the change permissions (PlaybooksConfig)."""

    form = EntryAdminForm
    list_display = ("title", "team", "service", "is_active", "postmortem", "updated_at")
    list_filter = ("team", "is_active")
    search_fields = ("title", "service", "applies_when")
    raw_id_fields = ("postmortem",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PlaybookAttempt)
class PlaybookAttemptAdmin(admin.ModelAdmin):
    """Read-only: attempts are recorded from the incident (with their timeline row)."""

    list_display = ("entry_title", "incident", "outcome", "actor", "at")
    list_filter = ("outcome",)
    readonly_fields = [f.name for f in PlaybookAttempt._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
