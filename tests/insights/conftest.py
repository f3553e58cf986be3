"""A small history with hand-computed figures (see `test_figures.py` for the arithmetic).

Range: Monday 2 March 2026 to Monday 16 March 2026 (UTC), 14 days; the previous period is
16 February to 2 March. The US leaves standard time on Sunday 8 March 2026 (New York goes
from UTC-5 to UTC-4); Europe on Sunday 29 March (Berlin from UTC+1 to UTC+2).
"""

import itertools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from incidents.models import Incident, Status
from incidents.pagefacts import page_facts_refresh
from insights.selectors import Filters
from notifications.models import Channel, Notification
from notifications.models import Status as NStatus
from notifications.services.outbox import notification_transition
from oncall.models import User
from oncall.roles import ENGINEER
from rotations.models import Team, Tier
from tests.factories import IncidentFactory, RotationFactory, TeamFactory, UserFactory

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 16, tzinfo=UTC)
UTC_ZONE = zoneinfo.ZoneInfo("UTC")
_keys = itertools.count(1)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def page(
    incident: Incident,
    user: User,
    sent_at: datetime | None,
    *,
    channel: str = Channel.SMS,
    track: str = "main",
    step: str = "r0:s0:w0",
    status: str = NStatus.SENT,
) -> Notification:
    """A page written pending and moved to `status` by the outbox's one transition (at
    `sent_at` when sent), which keeps the interruptions as it does for every page."""
    n = next(_keys)
    row = Notification.objects.create(
        idempotency_key=f"inc{incident.pk}:{track}:{step}:u{user.pk}:{channel}:{n}",
        recipient=user,
        channel=channel,
        address="+12025550100" if channel != Channel.EMAIL else "a@example.com",
        subject_type="incident",
        subject_id=incident.pk,
    )
    page_facts_refresh([incident.pk])  # as the outbox does when it writes an incident's pages
    if status == NStatus.SENT:
        assert sent_at is not None
        with time_machine.travel(sent_at, tick=False):
            notification_transition(notification=row, to=NStatus.SENDING)
            notification_transition(notification=row, to=NStatus.SENT)
    elif status != NStatus.PENDING:
        notification_transition(notification=row, to=NStatus(status))
    return row


def incident(
    team: Team,
    triggered: datetime,
    *,
    ack: int | None = None,
    res: int | None = None,
    by: User | None = None,
    **extra: object,
) -> Incident:
    """ack / res: minutes after the trigger."""
    status = (
        Status.RESOLVED if res is not None else Status.ACKNOWLEDGED if ack else Status.TRIGGERED
    )
    return IncidentFactory.create(
        team=team,
        triggered_at=triggered,
        acknowledged_at=triggered + timedelta(minutes=ack) if ack is not None else None,
        acknowledged_by=by if ack is not None else None,
        resolved_at=triggered + timedelta(minutes=res) if res is not None else None,
        status=status,
        **extra,
    )


@dataclass
class History:
    team: Team
    other: Team
    alice: User
    bob: User
    carol: User
    incidents: dict[str, Incident]

    def filters(self, **kwargs: object) -> Filters:
        return Filters(start=START, end=END, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def history(db: None) -> History:
    alice = UserFactory.create(
        username="alice",
        first_name="Alice",
        last_name="A",
        timezone="America/New_York",
        roles=[ENGINEER],
    )
    bob = UserFactory.create(
        username="bob", first_name="Bob", last_name="B", timezone="Europe/Berlin", roles=[ENGINEER]
    )
    carol = UserFactory.create(
        username="carol", first_name="Carol", last_name="C", timezone="Asia/Tokyo", roles=[ENGINEER]
    )
    team = TeamFactory.create(slug="core", name="Core")
    other = TeamFactory.create(slug="edge", name="Edge")
    # Alice is always on call (one member); Carol covers weekdays 09–17 New York time.
    RotationFactory(team=team, tier=Tier.VETERAN, members=[alice])
    RotationFactory(
        team=other,
        tier=Tier.VETERAN,
        working_days=[0, 1, 2, 3, 4],
        working_hours_start=time(9),
        working_hours_end=time(17),
        members=[carol],
    )
    A = incident(team, at(3, 10), ack=2, res=30, by=alice, triage_confirmed_at=at(3, 10, 5))
    B = incident(team, at(4, 10), ack=4, res=60, by=alice, triage_confirmed_at=at(4, 10, 15))
    C = incident(team, at(5, 10), ack=6, res=90, by=bob)
    D = incident(other, at(6, 10), ack=20, res=120, by=carol)
    E = incident(team, at(7, 10), res=3)  # resolved in 3 minutes, never acknowledged: noise
    F = incident(team, at(8, 10))  # still open
    G = incident(team, at(9, 10), ack=8, res=10, by=alice, actionable=False)
    P = incident(team, at(20, 10, month=2), ack=10)  # the previous period
    incident(team, datetime(2026, 1, 1, tzinfo=UTC), ack=1, res=2)  # before both periods
    # Alice (New York): business ×2 (one deduplicated), sleep ×2 across midnight, off on a
    # Saturday, off ×2 on the first weekday after the DST change.
    page(A, alice, at(3, 15))  # Tue 10:00 EST: business
    page(A, alice, at(3, 15, 0, 30), channel=Channel.VOICE)  # same minute: not counted again
    page(A, alice, at(3, 15, 1, 10), step="r0:s1:w0")  # next minute, second step: escalated
    page(F, alice, at(4, 4), channel=Channel.EMAIL)  # email does not interrupt
    page(B, alice, at(4, 4, 59))  # Tue 23:59 EST: sleep
    page(B, alice, at(4, 5, 1))  # Wed 00:01 EST: sleep
    page(D, alice, at(7, 16))  # Sat 11:00 EST: off (weekend)
    page(F, alice, at(9, 12, 30))  # Mon 08:30 EDT (07:30 in EST, asleep): off
    page(F, alice, at(9, 21, 30))  # Mon 17:30 EDT (16:30 in EST, working): off
    page(F, alice, None, status=NStatus.CANCELLED)  # never sent
    # Bob (Berlin), paged by the new tier's track.
    page(B, bob, at(3, 22, 30), track="new")  # Tue 23:30 CET: sleep
    page(C, bob, at(6, 16, 30), track="new")  # Fri 17:30 CET: off
    page(C, bob, at(5, 8), track="new.g2")  # Thu 09:00 CET: business
    # Carol (Tokyo) works New York hours: Tue 10:00 EST is business though 00:00 in Tokyo.
    page(D, carol, at(3, 15))
    page(P, alice, at(20, 15, month=2))  # the previous period
    return History(
        team,
        other,
        alice,
        bob,
        carol,
        {"A": A, "B": B, "C": C, "D": D, "E": E, "F": F, "G": G, "P": P},
    )
