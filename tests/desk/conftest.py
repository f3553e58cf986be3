"""A support desk shaped like handbook 004: first tier Santhosh then Dinesh (daily), second
tier Noah, Dinesh the support manager (the team's escalation contact); and Core, an
engineering team, beside it."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import Rotation, Team, TeamKind, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory

# Tuesday 2026-01-13 15:00 UTC: day 8 of daily rotations started Monday 2026-01-05 at 09:00
# New York, so the first tier (Santhosh, Dinesh) is on shift index 8 → Santhosh.
T0 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)


@dataclass
class Desk:
    team: Team
    first: Rotation
    second: Rotation
    core: Team
    people: dict[str, User]


@pytest.fixture
def desk(db: None) -> Desk:
    people = {
        "santhosh": UserFactory.create(username="santhosh", roles=[SUPPORT]),
        "dinesh": UserFactory.create(username="dinesh", roles=[SUPPORT, SUPPORT_MANAGER]),
        "noah": UserFactory.create(username="noah", roles=[SUPPORT]),
        "alice": UserFactory.create(username="alice", roles=[ENGINEER], phone="+12025550111"),
        "raja": UserFactory.create(username="raja", roles=[MANAGER]),
    }
    team = TeamFactory.create(
        slug="support", name="Support", escalation_contact=people["dinesh"], kind=TeamKind.SUPPORT
    )
    first = RotationFactory.create(
        team=team,
        tier=Tier.FIRST,
        shift_length=timedelta(days=1),
        handoff_time=time(9),
        members=[people["santhosh"], people["dinesh"]],
    )
    second = RotationFactory.create(team=team, tier=Tier.SECOND, members=[people["noah"]])
    core = TeamFactory.create(slug="core", name="Core", escalation_contact=people["raja"])
    RotationFactory.create(team=core, tier=Tier.VETERAN, members=[people["alice"]])
    return Desk(team, first, second, core, people)
