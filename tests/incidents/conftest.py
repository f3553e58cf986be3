"""A team shaped like the handbooks' Core tab: veteran and new lists, a CPE manager."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidents.engine import escalation_sweep
from incidents.models import Incident
from notifications.models import Notification, Status
from oncall.celery import app as celery_app
from oncall.models import User
from rotations.models import Rotation, Team, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory

# A Tuesday in week 2 of rotations started Monday 2026-01-05: bob tops the veteran list,
# erin the new one.
T0 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)


@dataclass
class Core:
    team: Team
    veteran: Rotation
    new: Rotation
    people: dict[str, User]


@pytest.fixture
def core(db: None) -> Core:
    people = {
        n: UserFactory.create(username=n)
        for n in ("alice", "bob", "carol", "dave", "erin", "morgan", "john")
    }
    team = TeamFactory.create(
        slug="core",
        name="Core",
        escalation_contact=people["morgan"],
        announcement_email="core@example.com",
    )
    veteran = RotationFactory.create(
        team=team, tier=Tier.VETERAN, members=[people[n] for n in ("alice", "bob", "carol")]
    )
    new = RotationFactory.create(team=team, tier=Tier.NEW, members=[people["dave"], people["erin"]])
    return Core(team, veteran, new, people)


def paged(incident: Incident) -> list[str]:
    """Who was paged about the incident, in order (one entry per outbox row)."""
    rows = Notification.objects.filter(subject_type="incident", subject_id=incident.pk)
    return [n.recipient.username for n in rows.order_by("created_at", "id") if n.recipient]


def minute_by_minute(traveller: Any, minutes: int) -> None:
    """Let the sweeper run every minute for this long (beat's job, in fast-forward)."""
    for _ in range(minutes):
        traveller.shift(timedelta(minutes=1))
        escalation_sweep()


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Tasks the services queue on commit, recorded instead of sent."""
    sent: list[dict[str, Any]] = []

    def send_task(name: str, args: list[Any] | None = None, **options: Any) -> None:
        sent.append({"name": name, "args": list(args or []), **options})

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent


def pending(incident: Incident) -> int:
    return Notification.objects.filter(
        subject_type="incident", subject_id=incident.pk, status=Status.PENDING
    ).count()


def answers_suggesting(level: str) -> dict[str, int]:
    """Triage's five answers, all the same number, that suggest `level` (incidents.triage:
    all 1 → 5 points SEV3, all 2 → 10 SEV2, all 3 → 15 SEV1, all 4 → 20 SEV0)."""
    value = {"SEV3": 1, "SEV2": 2, "SEV1": 3, "SEV0": 4}[level]
    names = ("users_affected", "which_users", "user_impact", "company_impact", "stakeholder_view")
    return dict.fromkeys(names, value)


# The support ladder's desk fixture (tests/incidents/ladder.py).
from tests.incidents.ladder import desk  # noqa: E402, F401
