"""Rotations (drag-ordered members, overrides, previews) and overrides on their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.db.models import Count, ForeignKey, QuerySet
from django.forms import BaseInlineFormSet, ModelChoiceField, ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.safestring import SafeString

from oncall.admin import ReadOnlyAdmin
from oncall.http import id_from_text
from oncall.models import User
from oncall.words import duration_words
from rotations.admin import previews
from rotations.admin.forms import (
    OverrideAdminForm,
    OverrideInlineForm,
    RotationAdminForm,
    engineers_and,
)
from rotations.admin.formsets import (
    CONFIRM_ONCALL_CHANGE,
    OverrideFormSet,
    RotationMemberFormSet,
)
from rotations.admin.sortable import SortableInline, SortableParentAdmin
from rotations.models import Override, OverrideRequest, Rotation, RotationMember
from rotations.selectors import OnCall, oncall_for_rotations, rotations_with_members
from rotations.services import (
    override_create,
    override_delete,
    override_update,
    rotation_feed_rotate,
)

ONCALL_NOW = "admin_oncall_now"


def attach_oncall(rotations: list[Rotation], at: datetime) -> None:
    """Set who is on call at `at` on each (prefetched) rotation of a change-list page."""
    try:
        found: list[OnCall | None] = list(oncall_for_rotations(rotations, at))
    except previews.BAD_DATA:
        # A stored row that slipped past validation: work the others out one by one.
        found = []
        for rotation in rotations:
            try:
                found.append(oncall_for_rotations([rotation], at)[0])
            except previews.BAD_DATA:
                found.append(None)
    for rotation, oncall in zip(rotations, found, strict=True):
        setattr(rotation, ONCALL_NOW, oncall)


class RotationChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        attach_oncall(list(self.result_list), timezone.now())


class RotationMemberInline(SortableInline):
    model = RotationMember
    formset = RotationMemberFormSet
    fields = ("user",)
    verbose_name_plural = "members (the top of the list is on call first; drag to reorder)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RotationMember]:
        return super().get_queryset(request).select_related("user")

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "user":
            # Engineers only; whoever is on the list already stays choosable.
            object_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            rotation_id = id_from_text(object_id)
            kept = (
                RotationMember.objects.filter(rotation_id=rotation_id).values_list(
                    "user_id", flat=True
                )
                if rotation_id is not None
                else []
            )
            kwargs["queryset"] = engineers_and(keep=kept)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class OverrideInline(admin.TabularInline):
    model = Override
    form = OverrideInlineForm
    formset = OverrideFormSet
    fields = ("user", "replaces", "start", "end", "reason", "confirm_double_booking", "created_by")
    readonly_fields = ("created_by",)
    extra = 0
    verbose_name_plural = "current and upcoming overrides (times in UTC)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Override]:
        return (
            super()
            .get_queryset(request)
            .filter(end__gt=timezone.now())
            .select_related("user", "replaces", "created_by", "rotation__team")
        )


@admin.register(Rotation)
class RotationAdmin(SortableParentAdmin, admin.ModelAdmin):
    form = RotationAdminForm
    list_display = (
        "__str__",
        "team",
        "tier",
        "position",
        "shift",
        "timezone",
        "member_count",
        "oncall_now",
    )
    list_filter = ("team", "tier", "position")
    search_fields = ("name", "team__name")
    readonly_fields = ("next_shifts", "coverage_gaps")
    fieldsets = (
        (None, {"fields": ("team", "name", "tier", "position")}),
        ("Shifts", {"fields": ("shift_length", "handoff_time", "timezone", "start_date")}),
        (
            "Working hours",
            {
                "description": "Leave the hours empty for around-the-clock coverage.",
                "fields": (
                    "working_days",
                    ("working_hours_start", "working_hours_end"),
                    "working_hours_timezone",
                ),
            },
        ),
        ("Preview", {"fields": ("next_shifts", "coverage_gaps")}),
    )
    inlines = (RotationMemberInline, OverrideInline)
    actions = ("rotate_ical_token",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rotation]:
        return rotations_with_members(super().get_queryset(request)).annotate(
            member_total=Count("members", distinct=True)
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RotationChangeList

    @admin.display(description="Shift", ordering="shift_length")
    def shift(self, rotation: Rotation) -> str:
        return duration_words(rotation.shift_length)

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, rotation: Rotation) -> int:
        return getattr(rotation, "member_total", 0)

    @admin.display(description="On call now")
    def oncall_now(self, rotation: Rotation) -> str:
        oncall: OnCall | None = getattr(rotation, ONCALL_NOW, None)
        if oncall is None:
            return "?"
        if oncall.user is None:
            return "nobody (a gap)"
        return f"{oncall.user} (override)" if oncall.override else str(oncall.user)

    @admin.display(description="Next 8 shifts")
    def next_shifts(self, rotation: Rotation) -> SafeString:
        return previews.next_shifts(rotation, timezone.now())

    @admin.display(description="Gaps in the next 4 weeks")
    def coverage_gaps(self, rotation: Rotation) -> SafeString:
        return previews.coverage_gaps(rotation, timezone.now())

    @admin.action(
        description="Rotate iCal token (the old feed URL stops working)", permissions=["change"]
    )
    def rotate_ical_token(self, request: HttpRequest, queryset: QuerySet[Rotation]) -> None:
        rotations = list(queryset)
        for rotation in rotations:
            rotation_feed_rotate(rotation=rotation)
        self.message_user(request, f"New iCal feed token for {len(rotations)} rotation(s).")

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Rotation | None = None,
    ) -> HttpResponse:
        # The effect of the submitted (unsaved) edit, worked out by the members formset.
        preview = next(
            (
                inline.formset.preview
                for inline in context.get("inline_admin_formsets", [])
                if isinstance(inline.formset, RotationMemberFormSet)
            ),
            None,
        )
        context.update(
            change_preview=preview,
            confirm_oncall_change=bool(request.POST.get(CONFIRM_ONCALL_CHANGE)),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            lock_rotations(object_id)  # the override services' lock, for the inline overrides
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_formset(
        self, request: HttpRequest, form: ModelForm[Rotation], formset: Any, change: bool
    ) -> None:
        if formset.model is Override and isinstance(request.user, User):
            _save_overrides(formset, request.user)
            return
        super().save_formset(request, form, formset, change)
        preview = getattr(formset, "preview", None)
        if preview is not None and preview.changes:
            self.message_user(request, "Who is on call changes: " + " ".join(preview.sentences))


def lock_rotations(*ids: object) -> None:
    """Take the override services' row locks before the admin validates, so the checks its
    forms run and the services' own checks at save see the same overrides."""
    rotation_ids = sorted({n for n in map(id_from_text, ids) if n is not None})
    list(Rotation.objects.select_for_update().filter(pk__in=rotation_ids).order_by("pk"))


def _override_values(form: ModelForm[Override]) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "user": data["user"],
        "replaces": data.get("replaces"),
        "start": data["start"],
        "end": data["end"],
        "reason": data.get("reason") or "",
        "confirm_double_booking": bool(data.get("confirm_double_booking")),
    }


def override_save_from_admin(
    *, form: ModelForm[Override], rotation: Rotation, actor: User
) -> Override:
    """An admin form's override, written by the services the portal and the API use (their
    lock, permission and team rules; the colleague concerned is told)."""
    values = _override_values(form)
    if form.instance.pk is None:
        return override_create(rotation=rotation, actor=actor, **values)
    return override_update(override=form.instance, rotation=rotation, actor=actor, **values)


def _save_overrides(formset: BaseInlineFormSet[Override, Rotation, Any], actor: User) -> None:
    """An override formset through the services: removals first, then changes and additions."""
    deleted = formset.deleted_forms
    # What the admin's change message reads (a formset's save() would have set them).
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in deleted:
        if form.instance.pk is not None:
            override_delete(override=form.instance, actor=actor)
            formset.deleted_objects.append(form.instance)
    for form in formset.forms:
        if form in deleted or not form.has_changed():
            continue
        new = form.instance.pk is None
        saved = override_save_from_admin(form=form, rotation=formset.instance, actor=actor)
        if new:
            formset.new_objects.append(saved)
        else:
            formset.changed_objects.append((saved, form.changed_data))


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    form = OverrideAdminForm
    list_display = ("rotation", "user", "start", "end", "replaces", "reason", "created_by")
    list_filter = ("rotation__team", "rotation")
    list_select_related = ("rotation__team", "user", "replaces", "created_by")
    search_fields = ("user__username", "user__display_name", "reason")
    date_hierarchy = "start"
    readonly_fields = ("created_by", "created_at")

    def get_form(
        self, request: HttpRequest, obj: Override | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        # The services' permission rule, told as form errors (managers pass it).
        return type(form.__name__, (form,), {"actor": request.user})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "rotation":
            kwargs["queryset"] = Rotation.objects.select_related("team")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            override_id = id_from_text(object_id)
            saved = (
                Override.objects.filter(pk=override_id).values_list("rotation_id", flat=True)
                if override_id is not None
                else []
            )
            lock_rotations(request.POST.get("rotation"), *saved)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(
        self, request: HttpRequest, obj: Override, form: ModelForm[Override], change: bool
    ) -> None:
        assert isinstance(request.user, User)  # the admin requires a signed-in manager
        saved = override_save_from_admin(form=form, rotation=obj.rotation, actor=request.user)
        # The admin goes on with `obj` (its log entry, the redirect): the row just written.
        obj.pk, obj.created_by, obj.created_at = saved.pk, saved.created_by, saved.created_at

    def delete_model(self, request: HttpRequest, obj: Override) -> None:
        assert isinstance(request.user, User)
        override_delete(override=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Override]) -> None:
        assert isinstance(request.user, User)
        for override in queryset.select_related("rotation__team", "user", "replaces"):
            override_delete(override=override, actor=request.user)


@admin.register(OverrideRequest)
class OverrideRequestAdmin(ReadOnlyAdmin):
    """Covers and swaps asked of a teammate, for managers to look at (people answer them on
    My shifts or through the API; the services change their status)."""

    list_display = ("rotation", "kind", "requester", "recipient", "start", "end", "status")
    list_filter = ("status", "kind", "rotation__team")
    list_select_related = ("rotation__team", "requester", "recipient")
    search_fields = ("requester__username", "recipient__username", "reason")
    date_hierarchy = "start"
