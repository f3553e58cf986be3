"""Storm control through real processes (issue 11, point 2): 60 incidents for one person in ten
minutes, compressed ten times (one a second, intervals and delays a tenth of production's).

A real `celery worker` (prefork, two processes racing for the same number) and `celery beat`
run the engine and deliver to a local Twilio peer. Every page must be sent, or carried in
another page's message, within one minimum interval of when it was due; no two messages to one
number or one phone line may be closer than the interval; a call whose incident was
acknowledged before its slot is never made; every page is on its incident's timeline.
"""

import itertools
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from incidents.models import Incident, Severity, TimelineEvent, TimelineKind, Via
from incidents.services import incident_acknowledge, incident_declare
from notifications.models import Channel, ContactMethod, Notification, NotificationRule, Status
from rotations.models import StepAction
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, TeamFactory, UserFactory
from tests.reliability.conftest import Cluster, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

SID = "AC0123456789abcdef0123456789abcdef"
NUMBER = "+12025550199"
INCIDENTS = 60
EVERY = 1.0  # seconds between incidents (production: 10 s)
INTERVAL: dict[str, int] = {Channel.SMS: 3, Channel.VOICE: 6}  # production: 30 s, 60 s
WINDOW = 1  # the bundle window, seconds
CALL_DELAY = 12  # the person's rule: call 12 s after the text (production default: 120 s)
ACK_EVERY = 10  # every tenth incident is acknowledged 3 s after it was declared
ACK_AFTER = 3.0


@dataclass
class TwilioPeer:
    """A local Twilio: records when each message or call arrived and what it carried."""

    server: HTTPServer
    received: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        kind = Channel.SMS if request.path.endswith("Messages.json") else Channel.VOICE
        self.received.append((datetime.now(UTC), kind, form))
        return Response(f'{{"sid": "X{len(self.received)}"}}', 201, mimetype="application/json")

    def messages(self) -> dict[int, tuple[datetime, str, dict[str, str]]]:
        """Carrier notification id → (arrival, channel, form); from its status callback URL."""
        found = {}
        for at, kind, form in self.received:
            match = re.search(r"/twilio/status/(\d+)/", urlsplit(form["StatusCallback"]).path)
            assert match, form
            found[int(match.group(1))] = (at, kind, form)
        return found


@pytest.fixture
def twilio(httpserver: HTTPServer) -> TwilioPeer:
    peer = TwilioPeer(httpserver)
    httpserver.expect_request(
        re.compile(rf"/twilio/2010-04-01/Accounts/{SID}/(Messages|Calls)\.json")
    ).respond_with_handler(peer.handle)
    return peer


@pytest.fixture
def storm_cluster(cluster: Cluster, twilio: TwilioPeer) -> Cluster:
    cluster.env.update(
        {
            "TWILIO_BASE_URL": twilio.server.url_for("/twilio"),
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": "storm-token",
            "TWILIO_FROM": "+15005550006",
            "NOTIFY_MIN_INTERVAL_SMS": str(INTERVAL[Channel.SMS]),
            "NOTIFY_MIN_INTERVAL_VOICE": str(INTERVAL[Channel.VOICE]),
            "NOTIFY_BUNDLE_WINDOW_SMS": str(WINDOW),
            "NOTIFY_BUNDLE_WINDOW_VOICE": str(WINDOW),
            "NOTIFY_SWEEP_SECONDS": "1",
        }
    )
    return cluster


def test_sixty_incidents_for_one_person_in_ten_minutes_are_bundled_never_queued(
    storm_cluster: Cluster, twilio: TwilioPeer
) -> None:
    person = UserFactory.create(username="storm")
    rules = [(Channel.SMS, 0), (Channel.VOICE, CALL_DELAY)]
    for channel, delay in rules:
        method = ContactMethod.objects.create(
            user=person, channel=channel, address=NUMBER, verified_at=datetime.now(UTC)
        )
        NotificationRule.objects.create(
            user=person, urgency="high", contact_method=method, delay=delay
        )
    team = TeamFactory.create(slug="storm", name="Storm")
    policy = EscalationPolicyFactory.create(team=team, name="Page the person")
    EscalationStepFactory.create(
        policy=policy, action=StepAction.USERS, wait=timedelta(hours=1), users=[person]
    )
    storm_cluster.start_beat()
    storm_cluster.start_worker("storm", pool="prefork", concurrency=2)

    started = time.monotonic()
    incidents: list[Incident] = []
    acknowledged: list[Incident] = []
    to_ack: list[tuple[float, Incident]] = []
    for n in range(INCIDENTS):
        while time.monotonic() < started + n * EVERY:
            if to_ack and to_ack[0][0] <= time.monotonic():
                acknowledged.append(incident_acknowledge(incident=to_ack.pop(0)[1], actor=person))
            time.sleep(0.02)
        incident = incident_declare(
            title=f"Storm {n}",
            actor=None,
            severity=Severity.SEV2,  # high urgency: text at once, call after CALL_DELAY
            team=team,
            escalation_policy=policy,
            via=Via.API,
        )
        incidents.append(incident)
        if n % ACK_EVERY == ACK_EVERY - 1:
            to_ack.append((time.monotonic() + ACK_AFTER, incident))
    for ack_at, incident in to_ack:
        time.sleep(max(0.0, ack_at - time.monotonic()))
        acknowledged.append(incident_acknowledge(incident=incident, actor=person))
    declared_for = time.monotonic() - started

    pages = Notification.objects.filter(
        subject_type="incident", subject_id__in=[i.pk for i in incidents]
    )

    def settled() -> bool:
        wanted = {(i.pk, c) for i in incidents for c in (Channel.SMS, Channel.VOICE)}
        done = pages.filter(status__in=[Status.SENT, Status.FAILED, Status.CANCELLED])
        return wanted <= set(done.values_list("subject_id", "channel"))

    wait_until(
        settled,
        timeout=CALL_DELAY + 60,
        what="every page of the storm to be sent, carried or cancelled",
        detail=storm_cluster.logs,
        interval=0.5,
    )
    time.sleep(2)  # a message sent twice would arrive now
    rows = list(pages.order_by("id"))
    acked_ids = {i.pk for i in acknowledged}

    # Nothing crashed, nothing failed, nothing was paged twice.
    for proc in storm_cluster.procs:
        assert proc.alive(), f"{proc.name} died:\n{proc.log()[-4000:]}"
        assert "Traceback" not in proc.log(), proc.log()[-4000:]
    assert len(rows) == 2 * INCIDENTS, "one text and one call row per incident"
    assert not [r for r in rows if r.status == Status.FAILED], [r.last_error for r in rows]

    # A call made pointless by an acknowledgement is never made; every other page went out.
    messages = twilio.messages()
    carried_by: dict[int, int] = {r.pk: r.bundled_into_id or r.pk for r in rows}
    for row in rows:
        if row.channel == Channel.VOICE and row.subject_id in acked_ids:
            assert row.status == Status.CANCELLED, row
            assert row.pk not in messages
            assert carried_by[row.pk] == row.pk, "a cancelled call rides in no other call"
        elif row.subject_id in acked_ids and row.status == Status.CANCELLED:
            # Acknowledged before its text's slot came: the text is not sent either.
            assert row.pk not in messages
            assert carried_by[row.pk] == row.pk
        else:
            assert row.status == Status.SENT, (row, row.last_error)
            assert carried_by[row.pk] in messages, f"row {row.pk}: its message never arrived"
    assert len(twilio.received) == len(messages), "no message sent twice"

    # Never later than one interval after it was due (text: declared; call: its rule's delay).
    lateness: dict[str, timedelta] = {}
    for row in rows:
        if row.status != Status.SENT:
            continue
        assert row.due_at is not None
        late = messages[carried_by[row.pk]][0] - row.due_at
        lateness[row.channel] = max(lateness.get(row.channel, timedelta(0)), late)
    for paged_by, worst in lateness.items():
        bound = timedelta(seconds=INTERVAL[paged_by] + WINDOW)
        assert worst <= bound, f"a {paged_by} page was {worst} late (bound {bound})"

    # The phone rang at most once per interval, per channel.
    arrivals: dict[str, list[datetime]] = defaultdict(list)
    starts: dict[str, list[datetime]] = defaultdict(list)
    closest: dict[str, timedelta] = {}
    began_at = {r.pk: r.attempted_at for r in rows if r.attempted_at is not None}
    for carrier, (arrived, kind, _) in messages.items():
        arrivals[kind].append(arrived)
        starts[kind].append(began_at[carrier])
    for kind in (str(Channel.SMS), str(Channel.VOICE)):
        interval = timedelta(seconds=INTERVAL[kind])
        gaps = [b - a for a, b in itertools.pairwise(sorted(starts[kind]))]
        assert min(gaps) >= interval, f"two {kind} messages {min(gaps)} apart"
        # At the peer, arrivals add the HTTP hop's jitter (a cold worker's first request can
        # take a second); the limit is on when messages start, so only count them here.
        heard = sorted(arrivals[kind])
        closest[kind] = min(b - a for a, b in itertools.pairwise(heard))
        began = sorted(starts[kind])
        assert len(heard) <= (began[-1] - began[0]).total_seconds() / INTERVAL[kind] + 1

    # Each message names how many pages it carries; the first a bundle names is the gravest/latest.
    for carrier, (_, kind, form) in messages.items():
        size = sum(1 for r in rows if carried_by[r.pk] == carrier)
        if kind == Channel.SMS and size > 1:
            assert f"{size} pages for you:" in form["Body"], form["Body"]
            assert f"Ack all {size}: " in form["Body"]
        if kind == Channel.VOICE and size > 1:
            assert f"You have {size} pages." in form["Twiml"]

    # Each incident's timeline says its person was paged, carried or not.
    sent_events = set(
        TimelineEvent.objects.filter(
            incident__in=incidents, kind=TimelineKind.PAGE_SENT
        ).values_list("data__notification_id", flat=True)
    )
    missing = [r.pk for r in rows if r.status == Status.SENT and r.pk not in sent_events]
    assert not missing, f"pages sent but not on their incident's timeline: {missing}"

    counts = {kind: len(arrivals[kind]) for kind in arrivals}
    print(
        f"\nstorm: {INCIDENTS} incidents in {declared_for:.0f}s "
        f"(= {declared_for * 10 / 60:.1f} min at production pace), {len(rows)} pages, "
        f"{counts.get(Channel.SMS, 0)} texts and {counts.get(Channel.VOICE, 0)} calls, "
        f"{sum(r.status == Status.CANCELLED for r in rows)} pages cancelled by an ack, "
        "worst lateness "
        + ", ".join(
            f"{kind} {worst.total_seconds():.2f}s (bound {INTERVAL[kind] + WINDOW}s)"
            for kind, worst in sorted(lateness.items())
        )
        + "; closest messages (started / arrived): "
        + ", ".join(
            f"{kind} {min(b - a for a, b in itertools.pairwise(sorted(starts[kind]))).total_seconds():.2f}s"
            f" / {closest[kind].total_seconds():.2f}s"
            for kind in sorted(closest)
        )
    )
