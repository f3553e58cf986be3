"""Escalation policies: drag-ordered steps inline and a dry run of who gets paged when."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString

from rotations.admin import previews
from rotations.admin.formsets import EscalationStepFormSet
from rotations.admin.sortable import SortableInline, SortableParentAdmin
from rotations.models import EscalationPolicy, EscalationStep, Rotation


class EscalationStepInline(SortableInline):
    model = EscalationStep
    formset = EscalationStepFormSet
    fields = ("action", "rotation", "users", "wait")
    verbose_name_plural = "steps (run top to bottom; drag to reorder)"

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "rotation":
            # Narrowed to the policy's team by the formset once the team is known.
            kwargs["queryset"] = Rotation.objects.select_related("team")
        field: ModelChoiceField[Any] | None = super().formfield_for_foreignkey(
            db_field, request, **kwargs
        )
        return field


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(SortableParentAdmin, admin.ModelAdmin):
    list_display = ("name", "team", "repeat", "step_count")
    list_filter = ("team",)
    search_fields = ("name", "team__name")
    readonly_fields = ("dry_run",)
    fieldsets = (
        (None, {"fields": ("team", "name", "description", "repeat")}),
        ("Dry run", {"fields": ("dry_run",)}),
    )
    inlines = (EscalationStepInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[EscalationPolicy]:
        return (
            super()
            .get_queryset(request)
            .select_related("team")
            .annotate(step_total=Count("steps", distinct=True))
        )

    @admin.display(description="Steps", ordering="step_total")
    def step_count(self, policy: EscalationPolicy) -> int:
        return getattr(policy, "step_total", 0)

    @admin.display(description="Who is paged when, if nobody acknowledges (saved steps)")
    def dry_run(self, policy: EscalationPolicy) -> SafeString:
        return previews.dry_run(policy, timezone.now())
