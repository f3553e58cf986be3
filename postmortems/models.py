"""Postmortems, their templates, sections, timelines, revisions and action items.

A postmortem's status changes only through `postmortems.services.postmortem_transition`
(TRANSITIONS below), an action item's through `action_item_transition` (ACTION_ITEM_TRANSITIONS).
A postmortem copies its template's sections when it is made (`PostmortemSection` rows), so
editing or deleting a template later changes no postmortem.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

from incidents.models import TEXT_MAX, TITLE_MAX
from oncall.validators import validate_instant_range

SECTION_KEY_MAX = 50
HEADING_MAX = 200
TICKET_URL_MAX = 500


class PostmortemTemplate(models.Model):
    """Ordered sections a new postmortem starts with (Managers edit them in the admin)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(
        default=False, help_text="New postmortems use this template (only one is the default)."
    )

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=("is_default",),
                condition=models.Q(is_default=True),
                name="one_default_postmortem_template",
                violation_error_message="Another template is already the default.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PostmortemTemplateSection(models.Model):
    template = models.ForeignKey(
        PostmortemTemplate, on_delete=models.CASCADE, related_name="sections"
    )
    position = models.PositiveIntegerField(default=0, db_index=True)
    key = models.SlugField(
        max_length=SECTION_KEY_MAX,
        help_text="Stable name of the section (e.g. summary); the review page looks for some.",
    )
    heading = models.CharField(max_length=HEADING_MAX)
    prompt = models.TextField(blank=True, help_text="Shown to the writer above the section.")

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("template", "key"), name="one_template_section_per_key")
        ]

    def __str__(self) -> str:
        return self.heading


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


# The only moves a postmortem makes: submitted for review, published, and a published one
# back to review to correct it.
TRANSITIONS: dict[str, frozenset[str]] = {
    PostmortemStatus.DRAFT: frozenset({PostmortemStatus.IN_REVIEW}),
    PostmortemStatus.IN_REVIEW: frozenset({PostmortemStatus.PUBLISHED}),
    PostmortemStatus.PUBLISHED: frozenset({PostmortemStatus.IN_REVIEW}),
}


class Postmortem(models.Model):
    """One per incident (the `incident` is unique: racing drafts make one row)."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="postmortem"
    )
    title = models.CharField(max_length=TITLE_MAX)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_postmortems",
    )
    status = models.CharField(
        max_length=16, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT
    )
    template = models.ForeignKey(
        PostmortemTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The template its sections were copied from (kept only for reference).",
    )
    due_at = models.DateTimeField(null=True, blank=True, validators=[validate_instant_range])
    # Counts saves of the content: a save naming an older version is refused (no lost edit).
    version = models.PositiveIntegerField(default=1)
    # Response facts computed from the incident's record when drafted (drafting.response_facts).
    facts = models.JSONField(default=dict, blank=True)
    no_action_items_reason = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="Why this postmortem has no action items."
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # PostgreSQL only: the title and every section as one full-text document
    # (`postmortems.search`, kept by the services; GIN index in migration 0004).
    search = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("status", "due_at"), name="postmortem_status_due"),
            # The weekly review: published that week; the list: newest first.
            models.Index(fields=("published_at",), name="postmortem_published"),
            models.Index(fields=("created_at", "id"), name="postmortem_created"),
        ]

    def __str__(self) -> str:
        return f"Postmortem of {self.incident.number}: {self.title}"

    def section_body(self, key: str) -> str:
        """The body of a section (empty when it has none); reads the prefetched sections."""
        return next((s.body for s in self.sections.all() if s.key == key), "")

    @property
    def closed_out(self) -> bool:
        """Every action item is done or won't-do, and there is at least one or a reason."""
        items = list(self.action_items.all())
        if not items:
            return bool(self.no_action_items_reason.strip())
        return all(item.status in CLOSED_ACTION_ITEM_STATUSES for item in items)


class PostmortemSection(models.Model):
    """A section as the postmortem was created with it (copied from its template)."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveIntegerField(default=0)
    key = models.SlugField(max_length=SECTION_KEY_MAX)
    title = models.CharField(max_length=HEADING_MAX)
    prompt = models.TextField(blank=True)
    body = models.TextField(blank=True, max_length=TEXT_MAX)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=("postmortem", "key"), name="one_section_per_key")
        ]

    def __str__(self) -> str:
        return self.title


class PostmortemTimelineEntry(models.Model):
    """An editable line of the postmortem's timeline (imported from the incident's)."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="timeline")
    position = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()
    text = models.TextField(max_length=TEXT_MAX)
    key_moment = models.BooleanField(default=False)

    class Meta:
        ordering = ("position", "id")
        verbose_name_plural = "postmortem timeline entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.text[:60]}"


class PostmortemRevision(models.Model):
    """One save of a postmortem: who, when, what changed, the texts before and after."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(help_text="The version this save made.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    # Section keys, and "title", "timeline", "no_action_items_reason" when those changed.
    changed = models.JSONField(default=list)
    # {name: {"before": ..., "after": ...}} for each changed name.
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ("-version", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("postmortem", "version"), name="one_revision_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.postmortem_id} v{self.version}"


class ActionItemKind(models.TextChoices):
    INVESTIGATE = "investigate", "Investigate"
    MITIGATE = "mitigate", "Mitigate"
    REPAIR = "repair", "Repair"
    DETECT = "detect", "Detect"
    PREVENT = "prevent", "Prevent"


class ActionItemPriority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


CLOSED_ACTION_ITEM_STATUSES = frozenset({ActionItemStatus.DONE, ActionItemStatus.WONT_DO})
OPEN_ACTION_ITEM_STATUSES = frozenset({ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS})

ACTION_ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ActionItemStatus.OPEN: frozenset(
        {ActionItemStatus.IN_PROGRESS, ActionItemStatus.DONE, ActionItemStatus.WONT_DO}
    ),
    ActionItemStatus.IN_PROGRESS: frozenset(
        {ActionItemStatus.OPEN, ActionItemStatus.DONE, ActionItemStatus.WONT_DO}
    ),
    # Reopened when it turns out not to be finished.
    ActionItemStatus.DONE: frozenset({ActionItemStatus.OPEN}),
    ActionItemStatus.WONT_DO: frozenset({ActionItemStatus.OPEN}),
}

# A ticket in JIRA or the like: a web address, nothing else.
ticket_url_validator = URLValidator(schemes=["http", "https"])


class ActionItem(models.Model):
    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=TITLE_MAX)
    description = models.TextField(blank=True, max_length=TEXT_MAX)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items"
    )
    kind = models.CharField(max_length=16, choices=ActionItemKind.choices)
    priority = models.CharField(
        max_length=8, choices=ActionItemPriority.choices, default=ActionItemPriority.MEDIUM
    )
    status = models.CharField(
        max_length=16, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    due_date = models.DateField(validators=[validate_instant_range])
    ticket_url = models.URLField(
        max_length=TICKET_URL_MAX,
        blank=True,
        validators=[ticket_url_validator],
        help_text="The ticket that tracks it (http or https).",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("due_date", "id")
        indexes = [
            models.Index(fields=("owner", "status", "due_date"), name="action_item_owner_due"),
            models.Index(fields=("status", "due_date"), name="action_item_due"),
            # The weekly review's overdue items, ranked per owner: read in the ranking's order
            # from the index alone, where sorting every overdue item cost most of that list.
            models.Index(
                fields=("owner", "due_date", "id"),
                condition=models.Q(status__in=sorted(OPEN_ACTION_ITEM_STATUSES)),
                name="action_item_open_owner_due",
            ),
            # The weekly review: opened and closed that week.
            models.Index(fields=("created_at",), name="action_item_created"),
            models.Index(fields=("completed_at",), name="action_item_completed"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        closed = self.status in CLOSED_ACTION_ITEM_STATUSES
        if closed != (self.completed_at is not None):
            raise ValidationError(
                {"completed_at": "Set exactly when the item is done or won't be done."}
            )


class ReviewMeeting(models.Model):
    """The weekly postmortem review of one ISO week (handbook 004): who came, the notes and
    the decisions (Markdown), and whether it was held. Written by `postmortems.meetings`."""

    week = models.DateField(
        unique=True,
        validators=[validate_instant_range],
        help_text="The Monday of the ISO week (in the company's time zone).",
    )
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="review_meetings"
    )
    notes = models.TextField(blank=True, max_length=TEXT_MAX, help_text="Markdown.")
    decisions = models.TextField(blank=True, max_length=TEXT_MAX, help_text="Markdown.")
    held_at = models.DateTimeField(null=True, blank=True, validators=[validate_instant_range])
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Counts saves of notes, decisions and attendees: a save naming an older one is refused.
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ("-week",)

    def __str__(self) -> str:
        year, week, _ = self.week.isocalendar()
        return f"Postmortem review {year}-W{week:02d}"

    def clean(self) -> None:
        if self.week is not None and self.week.weekday() != 0:
            raise ValidationError({"week": "A review week is named by its Monday."})


class ReviewWrite(models.Model):
    """One row per write to what the weekly review shows (`postmortems.stamp`): a part's
    version is the newest id with the number of writes to it, so writers only insert (no
    shared row to lock) and a write counts from the moment it commits."""

    # The parts of the review the write changes (`postmortems.stamp.Part`, a bit each).
    parts = models.PositiveSmallIntegerField(db_default=7)
    # The week whose incidents it changes (its Monday), for the incidents part; null: every
    # week's.
    week = models.DateField(null=True, blank=True)
    # How many writes the row stands for: 1, or more for a row older writes of the same
    # parts and week were folded into (keeping the newest id among them).
    weight = models.PositiveIntegerField(db_default=1)

    class Meta:
        db_table = "postmortems_review_write"

    def __str__(self) -> str:
        return f"review write {self.pk}"
