"""Severity policies, incidents, their timeline, escalation state and status updates.

An incident's status changes only through `incidents.services.lifecycle.incident_transition`
(the TRANSITIONS map below); its escalation is the `EscalationState` rows, one per track.
"""

from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from notifications.models import Urgency
from oncall.validators import TARGET_MAX, duration_over, validate_instant_range
from rotations.stepping import PolicySnapshot


class Severity(models.TextChoices):
    SEV0 = "SEV0", "SEV0 / P0 (critical)"
    SEV1 = "SEV1", "SEV1 / P1 (major)"
    SEV2 = "SEV2", "SEV2 / P2 (moderate)"
    SEV3 = "SEV3", "SEV3 / P3 (minor)"


class SeverityPolicy(models.Model):
    """What a severity level means: targets, who is paged, updates and postmortems."""

    level = models.CharField(max_length=4, choices=Severity.choices, unique=True)
    description = models.TextField(blank=True)
    urgency = models.CharField(
        max_length=8,
        choices=Urgency.choices,
        default=Urgency.HIGH,
        help_text="Which of each person's notification rules pages them.",
    )
    acknowledge_target = models.DurationField(
        default=timedelta(minutes=10), help_text="Someone should acknowledge within this."
    )
    triage_target = models.DurationField(
        default=timedelta(minutes=30),
        help_text="Severity and the 5Ws confirmed within this, or the support managers are paged.",
    )
    page_both_tiers = models.BooleanField(
        default=False, help_text="Page the new tier's on-call as well as the veteran tier."
    )
    status_updates_required = models.BooleanField(
        default=True, help_text="Company-wide status updates are required while it is open."
    )
    status_update_interval = models.DurationField(
        default=timedelta(hours=1), help_text="How often a status update is due."
    )
    postmortem_required = models.BooleanField(default=True)
    postmortem_emailed = models.BooleanField(
        default=False, help_text="Email the published postmortem to the whole company."
    )
    postmortem_due = models.DurationField(
        default=timedelta(days=5),
        help_text="A postmortem is due this long after the incident is resolved.",
    )
    action_item_due = models.DurationField(
        default=timedelta(days=30),
        help_text="A postmortem's action item is due this long after it is added.",
    )
    escalation_policy = models.ForeignKey(
        "rotations.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Use this policy instead of the team's for incidents of this severity.",
    )
    # Handbook 004: second-tier support keeps the customer informed at this cadence.
    customer_contact_interval = models.DurationField(
        default=timedelta(hours=4),
        help_text="The customer is contacted again within this (second-tier support).",
    )
    # The support ladder (handbook 004): the threshold, the low/high split and rung targets.
    support_manager_required = models.BooleanField(
        default=True,
        db_default=True,
        help_text="At this (suggested, else current) severity the first tier escalates to the "
        "support manager; it may not go straight to engineering.",
    )
    support_escalates_to = models.CharField(
        max_length=20,
        choices=[
            ("engineering_manager", "Engineering manager (low severity)"),
            ("oncall", "On-call engineer (high severity)"),
        ],
        default="oncall",
        db_default="oncall",
        help_text="The rung the support manager's escalation goes to by default.",
    )
    engineering_manager_target = models.DurationField(
        default=timedelta(days=1),
        db_default=timedelta(days=1),
        help_text="The engineering manager takes care of it within this.",
    )
    oncall_target = models.DurationField(
        default=timedelta(hours=4),
        db_default=timedelta(hours=4),
        help_text="The on-call engineer takes care of it within this.",
    )

    class Meta:
        ordering = ("level",)
        verbose_name_plural = "severity policies"

    def __str__(self) -> str:
        return self.get_level_display()

    def clean(self) -> None:
        errors = {}
        for name in (
            "acknowledge_target",
            "triage_target",
            "status_update_interval",
            "postmortem_due",
            "action_item_due",
            "customer_contact_interval",
            "engineering_manager_target",
            "oncall_target",
        ):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                errors[name] = "Give a duration longer than zero."
            elif too_long := duration_over(value, TARGET_MAX):
                errors[name] = too_long
        if errors:
            raise ValidationError(errors)


class Status(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


# The only moves an incident may make. acknowledged → triggered is a reassignment (paging
# starts again); resolved → triggered is a reopen.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.TRIGGERED: frozenset({Status.ACKNOWLEDGED, Status.RESOLVED}),
    Status.ACKNOWLEDGED: frozenset({Status.RESOLVED, Status.TRIGGERED}),
    Status.RESOLVED: frozenset({Status.TRIGGERED}),
}


class Source(models.TextChoices):
    MANUAL = "manual", "Declared by hand"
    ENGAGE = "engage", "Engage development"
    API = "api", "API"
    INTEGRATION = "integration", "Integration"


class Via(models.TextChoices):
    DASHBOARD = "dashboard", "Dashboard"
    LINK = "link", "Link in a page"
    API = "api", "API"
    INTEGRATION = "integration", "Integration"
    SYSTEM = "system", "System"
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice call"
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"


# Input limits, one place for the model, the API's serializers and the portal's forms.
TITLE_MAX = 300
TEXT_MAX = 20_000  # descriptions, notes, status updates, resolve notes, reopen reasons
TICKET_MAX = 100
REQUESTER_MAX = 150
PHONE_MAX = 40
BRIDGE_MAX = 500
ACTIONABLE_REASON_MAX = 500  # why an incident was (not) actionable
FIVE_W_MAX = 2000  # each of triage's 5Ws (the portal's triage form)
SERVICE_MAX = 100  # an incident's service name (incidents.triage)


class ContactMode(models.TextChoices):
    PAGE = "page", "Paged through the portal"
    CALL = "call", "Call directly"


class Category(models.TextChoices):
    SECURITY = "security", "Security"
    CUSTOMER = "customer", "Customer report"
    ALERT = "alert", "Alert"
    OTHER = "other", "Other"


class Rung(models.TextChoices):
    """The support ladder of handbook 004, in order: where an incident stands and who is
    expected to act next. Empty: not on the ladder (declared straight to engineering)."""

    NONE = "", "—"
    FIRST_TIER = "first_tier", "First-tier support"
    SUPPORT_MANAGER = "support_manager", "Support manager"
    ENGINEERING_MANAGER = "engineering_manager", "Engineering manager"
    ONCALL = "oncall", "On-call engineer"


class Incident(models.Model):
    title = models.CharField(max_length=TITLE_MAX)
    description = models.TextField(blank=True)
    body = models.TextField(blank=True, help_text="The incident body: details, bridge notes.")
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.SEV2)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.TRIGGERED, db_index=True
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    team = models.ForeignKey(
        "rotations.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    escalation_policy = models.ForeignKey(
        "rotations.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    contact_mode = models.CharField(
        max_length=4, choices=ContactMode.choices, default=ContactMode.PAGE
    )
    # For call-directly teams: the numbers support dials, as they were at declaration.
    direct_numbers = models.JSONField(default=list, blank=True)
    dedup_key = models.CharField(max_length=255, blank=True, db_index=True)
    ticket = models.CharField(max_length=TICKET_MAX, blank=True, help_text="e.g. CSD-123")
    requester_name = models.CharField(max_length=REQUESTER_MAX, blank=True)
    requester_phone = models.CharField(
        max_length=PHONE_MAX, blank=True, help_text="Call-back number."
    )
    bridge = models.CharField(
        max_length=BRIDGE_MAX, blank=True, help_text="Conference bridge (link or dial-in)."
    )
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commanded_incidents",
    )
    # Triage: the 5Ws (handbook 004), confirmed together with the severity.
    who = models.TextField(blank=True)
    what = models.TextField(blank=True)
    where = models.TextField(blank=True)
    when = models.TextField(blank=True)
    how = models.TextField(blank=True)
    triage_confirmed_at = models.DateTimeField(null=True, blank=True)
    triage_paged_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Triage's checklist (handbook 004, incidents.triage): links gathered, the five priority
    # answers (1–4 each), why the confirmed severity differs from the suggestion, and the
    # service affected (from the alert's labels, or typed in triage; playbooks key on it).
    evidence = models.JSONField(default=list, blank=True, db_default=[])
    triage_answers = models.JSONField(default=dict, blank=True, db_default={})
    triage_reason = models.TextField(blank=True, db_default="")
    service = models.CharField(
        max_length=SERVICE_MAX,
        blank=True,
        db_default="",
        db_index=True,
        help_text="The service affected, e.g. checkout-api.",
    )

    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.CharField(
        max_length=10,
        choices=Category.choices,
        default=Category.OTHER,
        db_default=Category.OTHER,
    )
    # Where the incident stands on the support ladder and when its current target falls due
    # (handbook 004; null: no target running).
    rung = models.CharField(
        max_length=20, choices=Rung.choices, blank=True, default=Rung.NONE, db_default=""
    )
    next_target_at = models.DateTimeField(null=True, blank=True)
    # When the incident reached its rung (the rung targets count from it).
    rung_at = models.DateTimeField(null=True, blank=True)
    triggered_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_via = models.CharField(max_length=16, choices=Via.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_via = models.CharField(max_length=16, choices=Via.choices, blank=True)
    last_status_update_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # "Was this actionable?" (issue 17): answered on a resolved incident by its commander or
    # whoever acknowledged it (or a Manager); null: not answered. Feeds the noise figures.
    actionable = models.BooleanField(
        null=True, blank=True, help_text="Was this incident actionable? Null: not answered."
    )
    actionable_reason = models.CharField(
        max_length=ACTIONABLE_REASON_MAX, blank=True, default="", db_default=""
    )
    actionable_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actionable_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-triggered_at", "-id")
        indexes = [
            models.Index(fields=("status", "triggered_at"), name="incident_open"),
            # /metrics' counts (monitoring.gauges): open ones by team, severity and status,
            # and all of them by team, severity and source, each from an index alone.
            models.Index(
                fields=("status", "team", "severity"),
                name="incident_open_counts",
                condition=models.Q(status__in=("triggered", "acknowledged")),
            ),
            models.Index(fields=("team", "severity", "source"), name="incident_totals"),
            # The targets sweep: open incidents whose next target falls due.
            models.Index(
                fields=("next_target_at",),
                name="incident_target_due",
                condition=models.Q(next_target_at__isnull=False) & ~models.Q(status="resolved"),
            ),
        ]
        constraints = [
            # One open incident per team and dedup key (the API's dedup). Integrations key
            # theirs per integration instead (AlertGroup), so their incidents are left out.
            models.UniqueConstraint(
                fields=("team", "dedup_key"),
                condition=models.Q(status__in=(Status.TRIGGERED, Status.ACKNOWLEDGED))
                & ~models.Q(dedup_key="")
                & ~models.Q(source=Source.INTEGRATION),
                name="one_open_incident_per_dedup_key",
                violation_error_code="dedup_key_in_use",
                violation_error_message="An open incident of this team already has this dedup key.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        """INC-<pk>: the primary key is a race-free sequence."""
        return f"INC-{self.pk}" if self.pk else "INC-?"

    @property
    def is_open(self) -> bool:
        return self.status != Status.RESOLVED

    @property
    def five_ws(self) -> dict[str, str]:
        return {n: getattr(self, n) for n in ("who", "what", "where", "when", "how")}


class PageFacts(models.Model):
    """What an incident's pages tell (the insights figures, issue 17), kept beside the pages by
    `incidents.pagefacts.page_facts_refresh` in the transaction that writes them, and again
    when the acknowledger changes; the figures read these instead of every page. An incident
    without a row was never paged."""

    incident = models.OneToOneField(
        Incident, primary_key=True, on_delete=models.CASCADE, related_name="page_facts"
    )
    # A page on the veteran tier's tracks (every track but the new tier's) / the new tier's.
    paged_veteran = models.BooleanField(default=False)
    paged_new = models.BooleanField(default=False)
    # Escalated: a page beyond the first step (a later step, a repeat of the policy, the next
    # person of a walk, a responder, a missed target's page).
    escalated = models.BooleanField(default=False)
    # Its acknowledger was paged for it by the veteran tier / by the new tier.
    acknowledger_paged_veteran = models.BooleanField(default=False)
    acknowledger_paged_new = models.BooleanField(default=False)
    # The incident's `triggered_at` as of the refresh (a reopening refreshes it): a period's
    # escalated incidents are read through `page_facts_escalated` alone, a few hundred rows
    # hashed once, where asking each incident of a busy week for its row cost a third of the
    # weekly review's read.
    triggered_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "page facts"
        indexes = [
            models.Index(
                fields=("triggered_at",),
                condition=models.Q(escalated=True),
                name="page_facts_escalated",
            )
        ]

    def __str__(self) -> str:
        return f"page facts of incident {self.incident_id}"


class Interruption(models.Model):
    """One interruption (the insights figures, issue 17): a person paged about an incident by
    SMS or voice within one UTC minute, however many pages that minute held. Kept beside the
    pages by `incidents.interruptions` in the transaction that moves a page to sent (or from
    sent to failed), so the figures read one row per interruption instead of deduplicating
    every page."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The incident as its pages name it (`Notification.subject_id`), without a foreign key:
    # the rows mirror the pages whatever becomes of the incident.
    incident_id = models.BigIntegerField()
    minute = models.DateTimeField()  # the pages' sent_at cut to the UTC minute
    # A page of that minute on the new tier's track / on any other track (the veteran tier).
    is_new = models.BooleanField(default=False)
    is_veteran = models.BooleanField(default=False)
    # Business, off or sleep hours for the recipient (`insights.classify`: 0, 1, 2), as
    # classified by the classifier with this fingerprint; spec 0: not classified yet (the
    # outbox writes rows with SQL, so the defaults are the database's).
    kind = models.PositiveSmallIntegerField(db_default=0)
    spec = models.IntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("recipient", "incident_id", "minute"), name="interruption_slot"
            )
        ]
        indexes = [
            # A range of minutes read from the index alone.
            models.Index(
                fields=(
                    "minute",
                    "recipient",
                    "incident_id",
                    "is_new",
                    "is_veteran",
                    "kind",
                    "spec",
                ),
                name="interruption_minute_kind",
            ),
            # The rows not classified yet, for the beat task.
            models.Index(
                fields=("id",), condition=models.Q(spec=0), name="interruption_unclassified"
            ),
        ]

    def __str__(self) -> str:
        return f"interruption of user {self.recipient_id} about incident {self.incident_id}"


class TimelineKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    ENGAGED = "engaged", "Development engaged"
    CALL_DIRECTLY = "call_directly", "Call directly"
    CALL = "call", "Call made"
    PAGED = "paged", "Paged"
    ESCALATION = "escalation", "Escalation"
    PAGE_SENT = "page_sent", "Page sent"
    PAGE_FAILED = "page_failed", "Page failed"
    PAGE_CANCELLED = "page_cancelled", "Page cancelled"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    ESCALATED_NOW = "escalated_now", "Escalated now"
    REASSIGNED = "reassigned", "Reassigned"
    SEVERITY = "severity", "Severity changed"
    COMMANDER = "commander", "Commander set"
    NOTE = "note", "Note"
    DETAILS = "details", "Details changed"
    ALERT = "alert", "Alert"
    STATUS_UPDATE = "status_update", "Status update"
    TRIAGE = "triage", "Triage confirmed"
    TRIAGE_OVERDUE = "triage_overdue", "Triage overdue"
    UPDATE_DUE = "update_due", "Status update due"
    REMINDER_ACKNOWLEDGED = "reminder_ack", "Reminder acknowledged"
    # Written by the postmortems app (above incidents) about this incident's postmortem.
    POSTMORTEM_DRAFTED = "postmortem_drafted", "Postmortem drafted"
    POSTMORTEM_SUBMITTED = "postmortem_submitted", "Postmortem in review"
    POSTMORTEM_PUBLISHED = "postmortem_published", "Postmortem published"
    POSTMORTEM_REOPENED = "postmortem_reopened", "Postmortem reopened"
    ACTION_ITEM_ADDED = "action_item_added", "Action item added"
    ACTION_ITEM_STATUS = "action_item_status", "Action item changed"
    # The support ladder (handbook 004).
    PLAYBOOK = "playbook", "Playbook tried"
    TIER_ESCALATED = "tier_escalated", "Escalated to the next rung"
    RESPONDER_ADDED = "responder_added", "Responder added"
    TARGET_MISSED = "target_missed", "Target missed"
    COUNCIL_DECISION = "council_decision", "Engineering council decision"
    CUSTOMER_CONTACT = "customer_contact", "Customer contacted"
    CATEGORY = "category", "Category changed"
    ACTIONABLE = "actionable", "Actionable answered"


class TimelineEvent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.SYSTEM)
    at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"

    @property
    def attribution(self) -> str:
        """Who made the change and how, to show after the message: "Bob via dashboard", "Bob"
        (the system acted on Bob's behalf), "via integration" (no person); empty for the
        system's own steps."""
        via = "" if self.via == Via.SYSTEM else f"via {self.get_via_display().lower()}"
        if self.actor is None:
            return via
        return f"{self.actor.name} {via}".strip()


class EscalationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DONE = "done", "Done (every step ran)"
    STOPPED = "stopped", "Stopped"


# A track runs until every step has run (done) or paging stops (acknowledged, resolved,
# reassigned, or the incident is no longer triggered when a step falls due). A reopen or
# reassignment starts new states (the next generation); it never revives an old one.
ESCALATION_TRANSITIONS: dict[str, frozenset[str]] = {
    EscalationStatus.ACTIVE: frozenset({EscalationStatus.DONE, EscalationStatus.STOPPED}),
    EscalationStatus.DONE: frozenset(),
    EscalationStatus.STOPPED: frozenset(),
}


class EscalationState(models.Model):
    """One escalation track of an incident: the truth the engine and its tasks act on.

    `snapshot` is the policy frozen at trigger, stored as `PolicySnapshot.to_json()`; read
    it as `policy_snapshot`. Its status changes only through
    `incidents.engine.escalation_transition` (the ESCALATION_TRANSITIONS map above).
    """

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="escalation_states"
    )
    track = models.CharField(max_length=50)
    generation = models.PositiveIntegerField(
        default=1, help_text="1 for the first trigger; each reopen or reassignment adds one."
    )
    policy = models.ForeignKey(
        "rotations.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    snapshot = models.JSONField()
    triggered_at = models.DateTimeField()
    step_index = models.PositiveIntegerField(default=0)
    repeat_index = models.PositiveIntegerField(default=0)
    walk_position = models.PositiveIntegerField(default=0)
    next_action_at = models.DateTimeField(null=True, blank=True)
    guard_token = models.UUIDField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=EscalationStatus.choices, default=EscalationStatus.ACTIVE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("incident", "generation", "id")
        indexes = [models.Index(fields=("status", "next_action_at"), name="escalation_due")]
        constraints = [
            models.UniqueConstraint(
                fields=("incident", "track", "generation"), name="one_state_per_track"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident.number} {self.track} ({self.status})"

    @cached_property
    def policy_snapshot(self) -> PolicySnapshot:
        """The frozen policy, typed (the stored JSON never changes after the trigger)."""
        return PolicySnapshot.from_json(self.snapshot)

    @property
    def key_prefix(self) -> str:
        """The start of every idempotency key this track pages with."""
        track = self.track if self.generation == 1 else f"{self.track}.g{self.generation}"
        return f"inc{self.incident_id}:{track}"


class StatusUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField()
    severity = models.CharField(max_length=4, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    recipients = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.incident.number} update {self.created_at:%Y-%m-%d %H:%M}"


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    FORUM = "forum", "Support forum"
    CHAT = "chat", "Chat"
    OTHER = "other", "Other"


CONTACT_SUMMARY_MAX = 2000


class CustomerContact(models.Model):
    """One conversation with the customer about an incident (handbook 004, COMMUNICATE):
    logged by second-tier support; `next_due_at` is when the customer hears from us again."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="customer_contacts"
    )
    channel = models.CharField(max_length=8, choices=ContactChannel.choices)
    summary = models.TextField(max_length=CONTACT_SUMMARY_MAX)
    at = models.DateTimeField(help_text="When the customer was contacted.")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next contact is due (null: none planned)."
    )
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=("next_due_at",), name="customer_contact_due")]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.get_channel_display()} {self.at:%Y-%m-%d %H:%M}"


class CouncilChoice(models.TextChoices):
    """The engineering council's next course of action (handbook 004, REMEDIATE)."""

    GATHER_INFORMATION = "gather_information", "Gather more information"
    ALLOCATE_SHORT_TERM = "allocate_short_term", "Allocate engineers, short term (next day)"
    ALLOCATE_LONG_TERM = "allocate_long_term", "Allocate engineers, long term (a sprint)"
    ROLLBACK = "rollback", "Roll back the beta flag or release"


class CouncilDecision(models.Model):
    """What the engineering council decided for an incident; the latest row stands."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="council_decisions"
    )
    decision = models.CharField(max_length=20, choices=CouncilChoice.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="council_actions"
    )
    due_on = models.DateField(
        validators=[validate_instant_range],
        help_text="When the owner is due to report back or deliver.",
    )
    note = models.TextField(blank=True, max_length=TEXT_MAX)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("-decided_at", "-id")

    def __str__(self) -> str:
        return f"{self.incident.number}: {self.get_decision_display()}"
