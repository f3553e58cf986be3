"""End-of-shift on-call reports (handbook 001: "create the report at the beginning of your
shift to take notes in … send it as an email and add it to the database").

One report per rotation and shift start (`unique_report_per_shift`), drafted by the beat task
`reports.shift_start` for whoever covers the shift. Its status changes only through
`reports.services.report_transition` (TRANSITIONS below); submitting freezes `stats`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from incidents.models import TEXT_MAX

# The most off-hours time one shift can report (a sprint: 14 days).
OFF_HOURS_MAX = Decimal(24 * 14)


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


# The only move a report makes: submitted once, at or before the handoff.
TRANSITIONS: dict[str, frozenset[str]] = {
    ReportStatus.DRAFT: frozenset({ReportStatus.SUBMITTED}),
    ReportStatus.SUBMITTED: frozenset(),
}


class Effort(models.TextChoices):
    NONE = "none", "None"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    EXTREME = "extreme", "Extreme"


# What the person writes (Markdown, rendered only through oncall.markup).
WRITTEN_FIELDS = ("summary", "ongoing", "unplanned", "engineering", "handoff_notes")


class OnCallReport(models.Model):
    rotation = models.ForeignKey(
        "rotations.Rotation", on_delete=models.CASCADE, related_name="oncall_reports"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oncall_reports"
    )
    shift_start = models.DateTimeField()
    shift_end = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    summary = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="What happened during the shift."
    )
    ongoing = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="Incidents still open, and their state."
    )
    unplanned = models.TextField(
        blank=True,
        max_length=TEXT_MAX,
        help_text="Unplanned requests and blockers (CI, QA, failed deployments).",
    )
    engineering = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="Better-engineering tasks done or proposed."
    )
    handoff_notes = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="For the next on-call."
    )
    effort = models.CharField(max_length=8, choices=Effort.choices, blank=True)
    off_hours_spent = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(OFF_HOURS_MAX)],
        help_text="Hours spent on call work outside working hours.",
    )
    # The facts from the record, frozen on submit (reports.stats.report_stats); empty while
    # a draft, whose facts are computed live.
    stats = models.JSONField(default=dict, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The incoming on-call read this report's handoff ("Got the handoff").
    handoff_acknowledged_at = models.DateTimeField(null=True, blank=True)
    handoff_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-shift_start", "rotation_id")
        constraints = [
            models.UniqueConstraint(
                fields=("rotation", "shift_start"), name="unique_report_per_shift"
            ),
            models.CheckConstraint(
                condition=models.Q(shift_end__gt=models.F("shift_start")),
                name="report_shift_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=("user", "shift_start"), name="report_user_start"),
            models.Index(fields=("status", "shift_end"), name="report_status_end"),
        ]

    def __str__(self) -> str:
        return f"On-call report of {self.user} for {self.rotation} from {self.shift_start:%Y-%m-%d %H:%M} UTC"

    @property
    def is_draft(self) -> bool:
        return self.status == ReportStatus.DRAFT

    @property
    def is_written(self) -> bool:
        """Whether the person has written anything yet (an untouched draft may move)."""
        return (
            any(getattr(self, name).strip() for name in WRITTEN_FIELDS)
            or bool(self.effort)
            or self.off_hours_spent is not None
        )


# How long before a shift starts or ends a person is told (minutes; None: off). Issue 15
# point 5: the default is an hour before the start and nothing before the end.
REMINDER_LEADS: tuple[tuple[int, str], ...] = (
    (15, "15 minutes before"),
    (30, "30 minutes before"),
    (60, "1 hour before"),
    (120, "2 hours before"),
    (240, "4 hours before"),
    (720, "12 hours before"),
    (1440, "1 day before"),
)
DEFAULT_BEFORE_START = 60
DEFAULT_BEFORE_END: int | None = None


def _lead_field(default: int | None, words: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        null=True,
        blank=True,
        default=default,
        choices=REMINDER_LEADS,
        help_text=f"{words}; empty: no reminder.",
    )


class ShiftReminderSetting(models.Model):
    """A person's shift reminders (no row: the defaults)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="shift_reminder_setting",
    )
    before_start = _lead_field(DEFAULT_BEFORE_START, "Minutes before a shift starts")
    before_end = _lead_field(DEFAULT_BEFORE_END, "Minutes before a shift ends")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Shift reminders of {self.user}"
