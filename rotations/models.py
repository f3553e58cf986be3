"""Teams, rotations (tier × position), ordered members, overrides, escalation policies.

These replace the handbooks' spreadsheet: a tab per team, veteran and new categories,
"the name at the top of the list", weekly or sprint-long shifts, the CPE manager when the
list runs out, and teams (like Platform) whose people are called directly.
"""

import secrets
import zoneinfo
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from oncall.validators import (
    INSTANT_RANGE_MESSAGE,
    SHIFT_LENGTH_MAX,
    STEP_WAIT_MAX,
    duration_over,
    instant_in_range,
    validate_e164,
    validate_slack_usergroup_id,
    validate_timezone,
)


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class ContactMode(models.TextChoices):
    PAGE = "page", "Page through the portal"
    CALL = "call", "Call directly"


class TeamKind(models.TextChoices):
    ENGINEERING = "engineering", "Engineering"
    SUPPORT = "support", "Support (first and second tier)"


class Team(models.Model):
    slug = models.SlugField(
        unique=True, help_text="Short name used in URLs and the API, e.g. core."
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    escalation_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalation_contact_for",
        help_text="Who is paged when the list runs out (the CPE manager).",
    )
    contact_mode = models.CharField(
        max_length=4,
        choices=ContactMode.choices,
        default=ContactMode.PAGE,
        help_text="Call directly: support dials the team's numbers instead of paging.",
    )
    # Handbook 004: a support team's rotations are its first and second tier on duty.
    kind = models.CharField(
        max_length=12,
        choices=TeamKind.choices,
        default=TeamKind.ENGINEERING,
        db_default=TeamKind.ENGINEERING,
        help_text="Support: its rotations are the first and second tier on duty (handbook 004).",
    )
    announcement_email = models.EmailField(blank=True, help_text="Where status updates go.")
    # db_default: rows written by code from before the column (a rolling deploy) still insert.
    email = models.EmailField(
        blank=True,
        db_default="",
        help_text="The team's own address: end-of-shift reports go here (empty: to every "
        "member of the rotation).",
    )
    slack_usergroup_id = models.CharField(
        max_length=21,
        blank=True,
        db_default="",
        validators=[validate_slack_usergroup_id],
        help_text="Slack user group (S…) set to the people on call at every handoff.",
    )
    # Which of the team's policies pages for what: chosen explicitly, so renaming a policy
    # changes nobody's pager. Each is optional; the engine's fallbacks are in
    # incidents/engine/tracks.py (docs/architecture.md, "Which policy pages").
    default_policy = models.ForeignKey(
        "EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Pages a declared incident (unless the incident or its severity names "
        "another). Empty: the team's oldest policy, else its veteran list.",
    )
    engage_policy = models.ForeignKey(
        "EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="engage (veteran) policy",
        help_text="Engage development: how the veteran tier is paged. Empty: walk the "
        "veteran list, then the escalation contact.",
    )
    new_tier_policy = models.ForeignKey(
        "EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="new-tier policy",
        help_text="Engage development: how the new tier is paged. Empty: its on-call, once.",
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {
            field: "Choose one of this team's own policies."
            for field in POLICY_FIELDS
            if (policy := getattr(self, field)) is not None
            and (self.pk is None or policy.team_id != self.pk)
        }
        if errors:
            raise ValidationError(errors)


# A team's explicit policy references (Team.clean keeps each to the team's own policies).
POLICY_FIELDS = ("default_policy", "engage_policy", "new_tier_policy")


class DirectNumber(models.Model):
    """A number support dials for a call-directly team (the handbooks' Platform tab)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="direct_numbers")
    label = models.CharField(max_length=100, help_text="Who answers, e.g. 'Frank (platform lead)'.")
    phone = models.CharField(max_length=16, validators=[validate_e164])
    position = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ("position", "id")

    def __str__(self) -> str:
        return f"{self.label}: {self.phone}"


class Tier(models.TextChoices):
    VETERAN = "veteran", "Veteran"
    NEW = "new", "New"
    # A support team's tiers (handbook 004): first tier triages, second tier talks to the
    # customer.
    FIRST = "first", "Support first tier"
    SECOND = "second", "Support second tier"
    NONE = "none", "—"


class Position(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Rotation(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.NONE)
    position = models.CharField(max_length=10, choices=Position.choices, default=Position.PRIMARY)
    shift_length = models.DurationField(
        default=timedelta(days=7),
        help_text="Whole hours or days: 7 days is weekly, 14 days a sprint. Whole-day shifts "
        "hand off at the local handoff time, across daylight-saving changes.",
    )
    handoff_time = models.TimeField(default=time(9, 0))
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    start_date = models.DateField(default=date.today, help_text="The date of the first handoff.")
    # Optional working-hours restriction, e.g. Mon–Fri 09:00–17:00 America/New_York.
    working_days = models.JSONField(
        default=list,
        blank=True,
        help_text="Weekdays covered (0 = Monday … 6 = Sunday); empty: all.",
    )
    working_hours_start = models.TimeField(null=True, blank=True)
    working_hours_end = models.TimeField(null=True, blank=True)
    working_hours_timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Defaults to the rotation's.",
    )
    ical_token = models.CharField(
        max_length=64, unique=True, default=new_feed_token, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Veteran before none before new; primary before secondary.
        ordering = ("team__name", "-tier", "position")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "tier", "position"], name="one_rotation_per_tier_position"
            ),
            models.CheckConstraint(
                condition=Q(shift_length__gt=timedelta(0)), name="shift_length_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.name:
            return f"{self.team.name} · {self.name}"
        tier = f"{self.get_tier_display()} " if self.tier != Tier.NONE else ""
        return f"{self.team.name} · {tier}{self.get_position_display().lower()}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def has_working_hours(self) -> bool:
        return self.working_hours_start is not None and self.working_hours_end is not None

    def working_hours_display(self) -> str:
        if not self.has_working_hours:
            return "Around the clock"
        days = sorted(self.working_days) if self.working_days else range(7)
        day_text = ", ".join(WEEKDAY_NAMES[d] for d in days)
        assert self.working_hours_start is not None
        assert self.working_hours_end is not None
        tz = self.working_hours_timezone or self.timezone
        return f"{day_text} {self.working_hours_start:%H:%M}–{self.working_hours_end:%H:%M} {tz}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.start_date is not None and not instant_in_range(self.start_date):
            errors.setdefault("start_date", []).append(INSTANT_RANGE_MESSAGE)
        if self.shift_length is not None:
            if self.shift_length <= timedelta(0):
                errors.setdefault("shift_length", []).append("A shift must last longer than zero.")
            elif too_long := duration_over(self.shift_length, SHIFT_LENGTH_MAX):
                errors.setdefault("shift_length", []).append(too_long)
            elif self.shift_length % timedelta(hours=1):
                errors.setdefault("shift_length", []).append(
                    "A shift lasts a whole number of hours or days."
                )
        start, end = self.working_hours_start, self.working_hours_end
        if (start is None) != (end is None):
            errors.setdefault("working_hours_end", []).append(
                "Give both the start and the end of working hours, or neither."
            )
        elif start is not None and end is not None and end <= start:
            errors.setdefault("working_hours_end", []).append(
                "Working hours must end after they start."
            )
        days = self.working_days or []
        if not isinstance(days, list) or any(
            not isinstance(d, int) or not 0 <= d <= 6 for d in days
        ):
            errors.setdefault("working_days", []).append(
                "Weekdays are numbers from 0 (Monday) to 6 (Sunday)."
            )
        if errors:
            raise ValidationError(errors)


class RotationMember(models.Model):
    """One person in a rotation's ordered list; the lowest position is at the top."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rotation_memberships"
    )
    position = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ("position", "id")
        constraints = [
            models.UniqueConstraint(fields=["rotation", "user"], name="member_once_per_rotation")
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.user}"

    def clean(self) -> None:
        if self.rotation_id and self.user_id:
            team = self.rotation.team
            if not team.members.filter(pk=self.user_id).exists():
                raise ValidationError(
                    {
                        "user": f"{self.user} is not a member of the team {team.name}; add them to the team first."
                    }
                )


# One limit for the model, the API and the portal's override form.
OVERRIDE_REASON_MAX = 200


class Override(models.Model):
    """Someone covers a rotation for a window (a cover or one half of a swap)."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    start = models.DateTimeField()
    end = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="overrides",
        help_text="Who covers.",
    )
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by_overrides",
        help_text="Whose shift is covered (optional).",
    )
    reason = models.CharField(max_length=OVERRIDE_REASON_MAX, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("start",)
        indexes = [models.Index(fields=["rotation", "end", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="override_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} covers {self.rotation} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC"

    def clean(self) -> None:
        far = {
            name: INSTANT_RANGE_MESSAGE
            for name in ("start", "end")
            if getattr(self, name) and not instant_in_range(getattr(self, name))
        }
        if far:
            raise ValidationError(far)
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "An override must end after it starts."})
        if self.rotation_id and self.start and self.end:
            clash = (
                Override.objects.filter(
                    rotation_id=self.rotation_id, start__lt=self.end, end__gt=self.start
                )
                .exclude(pk=self.pk)
                .select_related("user")
                .first()
            )
            if clash is not None:
                raise ValidationError(
                    f"This overlaps another override on the same rotation: {clash.user} from "
                    f"{clash.start:%Y-%m-%d %H:%M} to {clash.end:%Y-%m-%d %H:%M} UTC."
                )


class OverrideRequestKind(models.TextChoices):
    COVER = "cover", "Cover (the requester takes the recipient's shift)"
    SWAP = "swap", "Swap (the two trade shifts)"


class OverrideRequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# Only a pending request changes, once; services.override_request_transition keeps this map.
OVERRIDE_REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    OverrideRequestStatus.PENDING: frozenset(
        {
            OverrideRequestStatus.ACCEPTED,
            OverrideRequestStatus.DECLINED,
            OverrideRequestStatus.CANCELLED,
            OverrideRequestStatus.EXPIRED,
        }
    ),
}


class OverrideRequest(models.Model):
    """A cover or swap that waits for the other person's answer (an engineer cannot change a
    teammate's shifts alone).

    `start`/`end`: for a cover, the recipient's shift the requester takes; for a swap, the
    requester's own shift the recipient takes, and `swap_start`/`swap_end` the recipient's
    shift the requester takes in return. Accepting makes the override(s).
    """

    rotation = models.ForeignKey(
        Rotation, on_delete=models.CASCADE, related_name="override_requests"
    )
    kind = models.CharField(max_length=10, choices=OverrideRequestKind.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="override_requests_made"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="override_requests_received",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    swap_start = models.DateTimeField(null=True, blank=True)
    swap_end = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=OVERRIDE_REASON_MAX, blank=True)
    status = models.CharField(
        max_length=10,
        choices=OverrideRequestStatus.choices,
        default=OverrideRequestStatus.PENDING,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("start", "id")
        indexes = [models.Index(fields=["status", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="override_request_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} request by {self.requester} to {self.recipient}"

    @property
    def is_swap(self) -> bool:
        return self.kind == OverrideRequestKind.SWAP

    @property
    def first_start(self) -> datetime:
        """When the first shift the request concerns begins (it expires then)."""
        starts = [self.start] + ([self.swap_start] if self.swap_start else [])
        return min(starts)

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})
        if self.requester_id and self.requester_id == self.recipient_id:
            raise ValidationError({"recipient": "A request goes to someone else."})
        if self.kind == OverrideRequestKind.SWAP:
            if self.swap_start is None or self.swap_end is None:
                raise ValidationError({"swap_start": "A swap needs the shift given in return."})
            if self.swap_end <= self.swap_start:
                raise ValidationError({"swap_end": "The end must be after the start."})
        elif self.swap_start is not None or self.swap_end is not None:
            raise ValidationError({"swap_start": "Only a swap names a shift in return."})


class PersonalFeed(models.Model):
    """The secret token of a person's own iCal feed (all their shifts, every rotation)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"


class EscalationPolicy(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="escalation_policies")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times to run all steps if nobody acknowledges."
    )

    class Meta:
        ordering = ("team__name", "name")
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="policy_name_unique_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.team.name} · {self.name}"

    def clean(self) -> None:
        if self.pk is None or self.team_id is None:
            return
        # A team's references stay on its own policies: a referenced policy keeps its team.
        referenced_by = (
            Team.objects.exclude(pk=self.team_id)
            .filter(
                Q(default_policy=self.pk) | Q(engage_policy=self.pk) | Q(new_tier_policy=self.pk)
            )
            .first()
        )
        if referenced_by is not None:
            raise ValidationError(
                {
                    "team": f"{referenced_by.name} pages with this policy; choose another "
                    "policy there before moving it to another team."
                }
            )


class StepAction(models.TextChoices):
    ROTATION_ONCALL = "rotation_oncall", "Page the on-call of a rotation"
    WALK_ROTATION = "walk_rotation", "Walk the rotation's list (next person each wait)"
    USERS = "users", "Page named people"
    TEAM = "team", "Page the whole team"
    ESCALATION_CONTACT = "escalation_contact", "Page the team's escalation contact"


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0, db_index=True)
    action = models.CharField(
        max_length=20, choices=StepAction.choices, default=StepAction.ROTATION_ONCALL
    )
    rotation = models.ForeignKey(
        Rotation, null=True, blank=True, on_delete=models.PROTECT, related_name="escalation_steps"
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    wait = models.DurationField(
        default=timedelta(minutes=10),
        help_text="How long to wait for an acknowledgement before the next page (to the second). "
        "For 'walk the list', the wait between each person.",
    )

    class Meta:
        ordering = ("position", "id")

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.get_action_display()}"

    def clean(self) -> None:
        if self.wait is not None and self.wait < timedelta(0):
            raise ValidationError({"wait": "The wait cannot be negative."})
        if too_long := duration_over(self.wait, STEP_WAIT_MAX):
            raise ValidationError({"wait": too_long})
        if self.action in (StepAction.ROTATION_ONCALL, StepAction.WALK_ROTATION):
            if self.rotation is None:
                raise ValidationError({"rotation": "Choose the rotation this step pages."})
            if not self.rotation.members.exists():
                raise ValidationError(
                    {
                        "rotation": f"The rotation {self.rotation} has nobody in it; add members first."
                    }
                )
            if self.policy_id and self.rotation.team_id != self.policy.team_id:
                raise ValidationError({"rotation": "The rotation belongs to another team."})
        elif self.rotation is not None:
            raise ValidationError({"rotation": "Only rotation steps name a rotation."})
        no_contact = self.policy_id and self.policy.team.escalation_contact_id is None
        if self.action == StepAction.ESCALATION_CONTACT and no_contact:
            raise ValidationError(
                {"action": f"The team {self.policy.team.name} has no escalation contact to page."}
            )


class ConfigVersion(models.Model):
    """A token that changes, in the same transaction, with every write to what "who is on
    duty" is made of (teams, their numbers, rotations, members and people's names), so a
    reader that polls (the support dashboard) keeps that configuration between polls and
    reads it again only when the token moved (`rotations.stamp`). A new random token, not a
    counter: a rolled-back write leaves the old token, which still names the old contents."""

    name = models.CharField(max_length=32, primary_key=True)
    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name}: {self.token}"
