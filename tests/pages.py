"""A lived-in portal for layout and accessibility tests: the main pages, by role.

The demo seed (people, teams, rotations, contact methods) plus incidents with the kind of
text that breaks layouts: long titles, unbroken monitoring URLs, many rows, pages sent.
"""

from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from io import StringIO

from django.apps import apps
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from incidents.engine.due import escalation_run_due
from incidents.models import Incident, Severity
from incidents.services import (
    incident_acknowledge,
    incident_add_note,
    incident_declare,
    incident_engage,
    incident_resolve,
)
from notifications.models import Notification
from notifications.signing import ack_path
from oncall.demo import DEMO_PASSWORD
from oncall.models import User
from postmortems.models import Postmortem
from postmortems.review import IsoWeek
from postmortems.services import action_item_create, postmortem_start, postmortem_update
from reports.models import OnCallReport
from reports.services import shift_reports_create
from rotations.models import Rotation, Team

# The dev outbox page is served with the console channel on, to superusers: the portal's
# tests set OUTBOX_SETTINGS and sign in as OUTBOX_ADMIN (made by portal_build) to see it.
OUTBOX_ADMIN = "root"
OUTBOX_SETTINGS = {"NOTIFY_CONSOLE": True}

LONG_URL = (
    "https://grafana.example.com/d/checkout-latency-eu-west-1/checkout-api-latency"
    "?orgId=1&var-region=eu-west-1&var-service=checkout-api&from=now-6h&to=now"
)
TITLES = (
    "Checkout API returns 502 for EU customers after the payment-gateway certificate rotation",
    f"Latency above the SLO on checkout-api-eu-west-1-production-canary: {LONG_URL}",
    "Nightly reconciliation job stuck: "
    "ReconciliationWorkerPoolExhaustedExceptionWhileWaitingForLedgerLock",
    "Search results empty for every customer on the mobile app since the 14:05 deploy",
)


@dataclass(frozen=True)
class Portal:
    """What the pages show: who to sign in as and where to go."""

    engineer: str
    incident: Incident
    rotation: Rotation
    ack_path: str
    postmortem: Postmortem
    report_id: int

    def pages(self) -> list[tuple[str, str | None, str]]:
        """(name, username or None for anonymous, path) of every main page."""
        return [
            ("login", None, "/accounts/login/"),
            ("home", self.engineer, "/"),
            ("incidents", "santhosh", "/incidents/"),
            ("incident", self.engineer, f"/incidents/{self.incident.pk}/"),
            ("declare", "santhosh", "/incidents/declare/"),
            ("engage", "santhosh", "/incidents/engage/"),
            ("oncall", "dinesh", "/oncall/"),
            ("my-shifts", self.engineer, "/me/shifts/"),
            ("rotation", self.engineer, f"/rotations/{self.rotation.pk}/"),
            ("profile", self.engineer, "/notifications/profile/"),
            ("untested", "raja", "/notifications/untested/"),
            ("postmortems", self.engineer, "/postmortems/"),
            ("review", "dinesh", f"/postmortems/review/{IsoWeek.current()}/"),
            # Superusers only, and only with the console channel on (see OUTBOX_SETTINGS).
            ("outbox", OUTBOX_ADMIN, "/notifications/outbox/"),
            ("postmortem", self.engineer, f"/postmortems/{self.postmortem.pk}/"),
            ("postmortem-edit", "morgan", f"/postmortems/{self.postmortem.pk}/edit/"),
            ("my-action-items", self.engineer, "/postmortems/action-items/mine/"),
            ("my-reports", self.engineer, "/reports/"),
            ("report", self.engineer, f"/reports/{self.report_id}/"),
            ("shift-reminders", self.engineer, "/reports/reminders/"),
            ("hours", self.engineer, "/reports/hours/"),
            ("audit", "morgan", "/audit/"),
            # Last: the walk ends signed out, as the tests that sign in afterwards expect.
            ("ack-link", None, self.ack_path),
        ]


def default_postmortem_template() -> None:
    """The default template as its data migration makes it (a transactional test's flush
    removes migrated rows)."""
    migration = import_module("postmortems.migrations.0002_default_template")
    migration.create(apps, None)


def portal_build() -> Portal:
    """Seed the demo, then fill it with incidents the way a busy day would."""
    call_command("seed_demo", stdout=StringIO())
    User.objects.create_superuser(OUTBOX_ADMIN, password=DEMO_PASSWORD)
    people = {user.username: user for user in User.objects.all()}
    core = Team.objects.get(slug="core")
    support, alice = people["santhosh"], people["alice"]

    engaged = [
        incident_engage(
            team=core,
            ticket=f"CSD-{1200 + n}",
            requester_name="Santhosh Kumar (second shift, Bengaluru support desk)",
            requester_phone="+91 98123 45601 ext. 4455",
            bridge=f"https://meet.example.com/j/incident-bridge-csd-{1200 + n}?pwd=Zx81kQ0vLmN3",
            actor=support,
        )
        for n in range(4)
    ]
    declared = [
        incident_declare(
            title=TITLES[n % len(TITLES)],
            description=f"Seen on {LONG_URL}",
            severity=(Severity.SEV1, Severity.SEV2, Severity.SEV3)[n % 3],
            team=core,
            ticket=f"CSD-{1300 + n}",
            actor=support,
            commander=alice if n % 4 == 0 else None,
        )
        for n in range(20)
    ]
    # Run every due step so the pages go out (notifications with ack links, timeline rows).
    escalation_run_due(now=timezone.now() + timedelta(hours=1))

    incident = declared[1]
    for n in range(3):
        incident_add_note(
            incident=incident,
            actor=alice,
            text=f"Rolled back canary {n}; still seeing errors on {LONG_URL}",
        )
    for done in declared[10:16]:
        incident_acknowledge(incident=done, actor=people["morgan"])  # a Manager may
        incident_resolve(incident=done, actor=alice, note="Certificate chain fixed.")
    incident_acknowledge(incident=engaged[0], actor=people["morgan"])

    # The engineer whose phone rang: whoever tops the veteran list this week.
    page = (
        Notification.objects.filter(recipient__isnull=False, subject_type="incident")
        .order_by("pk")
        .first()
    )
    assert page is not None, "the demo escalation paged nobody"
    paged = page.recipient
    assert paged is not None
    rotation = Rotation.objects.filter(team=core, members__user=paged).order_by("pk").first()
    assert rotation is not None
    # A postmortem being written, with long words in it and action items for the engineer.
    default_postmortem_template()
    postmortem = postmortem_start(incident=declared[10], actor=people["morgan"])
    postmortem = postmortem_update(
        postmortem=postmortem,
        actor=people["morgan"],
        version=postmortem.version,
        sections={"summary": f"Certificate chain broke; see {LONG_URL}", "impact": TITLES[2]},
    )
    for n, title in enumerate(TITLES):
        action_item_create(
            postmortem=postmortem,
            actor=people["morgan"],
            title=title,
            owner=paged,
            kind="repair",
            due_date=timezone.localdate() + timedelta(days=n * 5 - 5),
        )
    # The running shift of every rotation has its draft (as if beat had run at its start).
    with override_settings(REPORTS_CATCH_UP=timedelta(days=15)):
        shift_reports_create(now=timezone.now())
    report = OnCallReport.objects.filter(rotation=rotation).order_by("-shift_start").first()
    assert report is not None, "no on-call report was drafted for the paged engineer's rotation"
    return Portal(
        engineer=paged.username,
        incident=incident,
        rotation=rotation,
        ack_path=ack_path(notification_id=page.pk),
        postmortem=postmortem,
        report_id=report.pk,
    )
