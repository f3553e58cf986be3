"""Managers edit postmortem templates (drag-ordered sections); postmortems and action items
are changed here through the same services as everywhere (version check, revision,
timeline, rules), never by saving the rows directly."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest

from postmortems import services
from postmortems.models import (
    ActionItem,
    ActionItemStatus,
    Postmortem,
    PostmortemRevision,
    PostmortemSection,
    PostmortemStatus,
    PostmortemTemplate,
    PostmortemTemplateSection,
    PostmortemTimelineEntry,
    ReviewMeeting,
)
from rotations.admin.sortable import SortableInline, SortableParentAdmin

# --- templates -----------------------------------------------------------------------------


class TemplateSectionInline(SortableInline):
    model = PostmortemTemplateSection
    fields = ("key", "heading", "prompt")
    verbose_name_plural = "sections (in this order; drag to reorder)"


@admin.register(PostmortemTemplate)
class PostmortemTemplateAdmin(SortableParentAdmin, admin.ModelAdmin):
    list_display = ("name", "is_default")
    fields = ("name", "description", "is_default")
    inlines = (TemplateSectionInline,)


# --- postmortems ---------------------------------------------------------------------------


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SectionInline(admin.StackedInline):
    """Section bodies are edited here; the save goes through `postmortem_update`."""

    model = PostmortemSection
    fields = ("title", "prompt", "body")
    readonly_fields = ("title", "prompt")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("postmortems.change_postmortem") and (
            obj is None or obj.status != PostmortemStatus.PUBLISHED
        )


class TimelineEntryInline(_ReadOnlyInline):
    model = PostmortemTimelineEntry
    fields = ("at", "key_moment", "text")
    readonly_fields = fields


class RevisionInline(_ReadOnlyInline):
    model = PostmortemRevision
    fields = ("version", "author", "created_at", "changed")
    readonly_fields = fields


class ActionItemInline(_ReadOnlyInline):
    model = ActionItem
    fields = ("title", "owner", "kind", "priority", "status", "due_date")
    readonly_fields = fields
    show_change_link = True


class PostmortemForm(forms.ModelForm):
    # The version the page was opened at: a save after someone else's is refused.
    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Postmortem
        fields = ("title", "owner", "due_at", "no_action_items_reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        saved = Postmortem.objects.filter(pk=self.instance.pk).values_list("version", flat=True)
        if data.get("version") is not None and data["version"] not in saved:
            raise ValidationError(
                "Someone else saved this postmortem since you opened it; reload to see their "
                "changes (nothing of yours was saved)."
            )
        if self.instance.status == PostmortemStatus.PUBLISHED:
            raise ValidationError("This postmortem is published; reopen it to correct it.")
        return data


def _run(request: HttpRequest, queryset: QuerySet[Postmortem], to: PostmortemStatus) -> None:
    for postmortem in queryset.select_related("incident"):
        try:
            services.postmortem_transition(
                postmortem=postmortem,
                to=to,
                actor=request.user,  # type: ignore[arg-type]
            )
        except services.PostmortemError as error:
            messages.error(request, f"{postmortem.incident.number}: {error}")
        else:
            messages.success(
                request, f"{postmortem.incident.number}: {PostmortemStatus(to).label.lower()}."
            )


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    form = PostmortemForm
    list_display = ("incident", "title", "owner", "status", "due_at", "published_at")
    list_filter = ("status", "incident__severity")
    search_fields = ("title", "incident__title")
    list_select_related = ("incident", "owner")
    readonly_fields = (
        "incident",
        "status",
        "facts",
        "created_at",
        "submitted_at",
        "published_at",
        "closed_out",
    )
    fieldsets = (
        (None, {"fields": ("incident", "title", "owner", "status", "due_at", "version")}),
        ("Action items", {"fields": ("no_action_items_reason", "closed_out")}),
        ("Record", {"fields": ("facts", "created_at", "submitted_at", "published_at")}),
    )
    inlines = (SectionInline, ActionItemInline, TimelineEntryInline, RevisionInline)
    actions = ("submit", "publish", "reopen")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drafted on resolve, or started from the incident (postmortem_start)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True, description="Closed out")
    def closed_out(self, postmortem: Postmortem) -> bool:
        return postmortem.closed_out

    @admin.action(description="Submit for review", permissions=["change"])
    def submit(self, request: HttpRequest, queryset: QuerySet[Postmortem]) -> None:
        _run(request, queryset, PostmortemStatus.IN_REVIEW)

    @admin.action(description="Publish", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Postmortem]) -> None:
        _run(request, queryset, PostmortemStatus.PUBLISHED)

    @admin.action(description="Reopen a published postmortem", permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Postmortem]) -> None:
        for postmortem in queryset.select_related("incident"):
            try:
                services.postmortem_reopen(postmortem=postmortem, actor=request.user)  # type: ignore[arg-type]
            except services.PostmortemError as error:
                messages.error(request, f"{postmortem.incident.number}: {error}")

    def save_model(self, request: HttpRequest, obj: Postmortem, form: Any, change: bool) -> None:
        pass  # written with the sections in save_related, through postmortem_update

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        bodies: dict[str, str] = {}
        for formset in formsets:
            if isinstance(formset, BaseInlineFormSet) and formset.model is PostmortemSection:
                for section_form in formset.forms:
                    if section_form.has_changed():
                        bodies[section_form.instance.key] = section_form.cleaned_data["body"]
        data = form.cleaned_data
        try:
            services.postmortem_update(
                postmortem=form.instance,
                actor=request.user,  # type: ignore[arg-type]
                version=data["version"],
                title=data["title"],
                owner=data["owner"],
                due_at=data["due_at"],
                no_action_items_reason=data["no_action_items_reason"],
                sections=bodies,
            )
        except (services.PostmortemError, ValidationError) as error:
            messages.error(request, f"Not saved: {error}")


# --- action items --------------------------------------------------------------------------


class ActionItemForm(forms.ModelForm):
    # Not a model field of the form: the status moves only through action_item_transition.
    status = forms.ChoiceField(choices=ActionItemStatus.choices)

    class Meta:
        model = ActionItem
        fields = ("title", "description", "owner", "kind", "priority", "due_date", "ticket_url")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].initial = self.instance.status


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    form = ActionItemForm
    list_display = ("title", "postmortem", "owner", "kind", "priority", "status", "due_date")
    list_filter = ("status", "kind", "priority")
    search_fields = ("title", "description")
    list_select_related = ("postmortem__incident", "owner")
    readonly_fields = ("postmortem", "completed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # added to a postmortem (action_item_create)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # closed as won't-do instead, so the record stays

    def save_model(self, request: HttpRequest, obj: ActionItem, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            services.action_item_update(
                item=obj,
                actor=request.user,  # type: ignore[arg-type]
                title=data["title"],
                description=data["description"],
                owner=data["owner"],
                kind=data["kind"],
                priority=data["priority"],
                due_date=data["due_date"],
                ticket_url=data["ticket_url"],
            )
            if data["status"] != form.fields["status"].initial:
                services.action_item_transition(
                    item=obj,
                    to=ActionItemStatus(data["status"]),
                    actor=request.user,  # type: ignore[arg-type]
                )
        except (services.PostmortemError, ValidationError) as error:
            messages.error(request, f"Not saved: {error}")


# --- the weekly review meeting -------------------------------------------------------------


@admin.register(ReviewMeeting)
class ReviewMeetingAdmin(admin.ModelAdmin):
    """Read here; written on the review page or through the API (`postmortems.meetings`:
    versions, who may)."""

    list_display = ("__str__", "week", "held_at", "held_by", "version", "updated_at")
    list_select_related = ("held_by",)
    date_hierarchy = "week"
    fields = (
        "week",
        "attendees",
        "notes",
        "decisions",
        "held_at",
        "held_by",
        "version",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
