"""The hour classifier (business / off / sleep) and a shift's facts from the record."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.models import Status, TimelineEvent, TimelineKind
from reports.stats import (
    BUSINESS,
    OFF,
    SLEEP,
    ShiftWindow,
    business_hours,
    hour_kind,
    hours_split,
    shifts_stats,
)
from rotations import resolver
from tests.factories import IncidentFactory, RotationFactory
from tests.incidents.conftest import Core

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def default(tz: ZoneInfo) -> resolver.WorkingHours:
    return business_hours(None, tz)


@pytest.mark.parametrize(
    ("local", "kind"),
    [
        (datetime(2026, 1, 13, 9, 0), BUSINESS),  # Tuesday 09:00
        (datetime(2026, 1, 13, 16, 59), BUSINESS),
        (datetime(2026, 1, 13, 17, 0), OFF),
        (datetime(2026, 1, 13, 21, 59), OFF),
        (datetime(2026, 1, 13, 22, 0), SLEEP),
        (datetime(2026, 1, 14, 7, 59), SLEEP),
        (datetime(2026, 1, 14, 8, 0), OFF),
        (datetime(2026, 1, 17, 11, 0), OFF),  # Saturday noon: not business
        (datetime(2026, 1, 17, 23, 0), SLEEP),
    ],
)
@pytest.mark.parametrize("tz", [NY, BERLIN])
def test_an_instant_is_classified_in_the_persons_own_zone(
    local: datetime, kind: str, tz: ZoneInfo
) -> None:
    at = local.replace(tzinfo=tz).astimezone(UTC)
    assert hour_kind(at, person_tz=tz, business=default(tz)) == kind


def test_one_instant_is_business_in_berlin_and_sleep_in_new_york() -> None:
    at = datetime(2026, 1, 13, 9, 30, tzinfo=UTC)  # 10:30 Berlin, 04:30 New York
    assert hour_kind(at, person_tz=BERLIN, business=default(BERLIN)) == BUSINESS
    assert hour_kind(at, person_tz=NY, business=default(NY)) == SLEEP


def test_a_rotations_working_hours_are_business_hours(db: None) -> None:
    rotation = RotationFactory.build(
        working_days=[5, 6], working_hours_start=time(10), working_hours_end=time(14)
    )
    hours = business_hours(rotation, BERLIN)
    saturday = datetime(2026, 1, 17, 11, tzinfo=NY)
    tuesday = datetime(2026, 1, 13, 11, tzinfo=NY)
    assert hour_kind(saturday, person_tz=BERLIN, business=hours) == BUSINESS
    assert hour_kind(tuesday, person_tz=BERLIN, business=hours) == OFF


def test_a_day_across_midnight_splits_8_business_6_off_10_sleep() -> None:
    start = datetime(2026, 1, 13, 9, tzinfo=NY)  # Tuesday 09:00 to Wednesday 09:00
    split = hours_split(start, start + 24 * H, person_tz=NY, business=default(NY))
    assert split == {BUSINESS: 8 * H, OFF: 6 * H, SLEEP: 10 * H}


def test_a_weekend_has_no_business_hours() -> None:
    start = datetime(2026, 1, 17, 0, tzinfo=BERLIN)  # Saturday and Sunday
    split = hours_split(start, start + 48 * H, person_tz=BERLIN, business=default(BERLIN))
    assert split == {BUSINESS: timedelta(0), OFF: 28 * H, SLEEP: 20 * H}


@pytest.mark.parametrize(
    ("tz", "sunday", "night"),
    [
        # Spring forward: the night of Sat 7 → Sun 8 March 2026 in New York lasts 9 hours.
        (NY, datetime(2026, 3, 7, 12), 9 * H),
        # Berlin changes on 29 March 2026.
        (BERLIN, datetime(2026, 3, 28, 12), 9 * H),
        # Fall back: the night of 31 Oct → 1 Nov 2026 in New York lasts 11 hours.
        (NY, datetime(2026, 10, 31, 12), 11 * H),
    ],
)
def test_a_dst_night_is_an_hour_shorter_or_longer(
    tz: ZoneInfo, sunday: datetime, night: timedelta
) -> None:
    start = sunday.replace(tzinfo=tz)  # Saturday noon to Sunday noon, local
    end = (sunday + timedelta(days=1)).replace(tzinfo=tz)
    split = hours_split(start, end, person_tz=tz, business=default(tz))
    assert split[SLEEP] == night
    assert split[BUSINESS] == timedelta(0)
    assert sum(split.values(), timedelta(0)) == end.astimezone(UTC) - start.astimezone(UTC)


def test_a_shifts_facts_count_pages_by_hour_and_roles_and_time_engaged(core: Core) -> None:
    bob = core.people["bob"]  # NY; the veteran on call 12–19 January
    start = datetime(2026, 1, 12, 14, tzinfo=UTC)
    end = start + timedelta(days=7)
    paged_at_night = IncidentFactory.create(
        team=core.team,
        triggered_at=datetime(2026, 1, 14, 8, tzinfo=UTC),  # 03:00 NY: sleep
        status=Status.RESOLVED,
        acknowledged_by=bob,
        acknowledged_at=datetime(2026, 1, 14, 8, 5, tzinfo=UTC),
        resolved_by=bob,
        resolved_at=datetime(2026, 1, 14, 9, 5, tzinfo=UTC),
    )
    still_open = IncidentFactory.create(
        team=core.team, triggered_at=datetime(2026, 1, 15, 16, tzinfo=UTC), commander=bob
    )
    IncidentFactory.create(
        team=core.team,
        triggered_at=datetime(2026, 1, 2, tzinfo=UTC),
        status=Status.RESOLVED,
        resolved_at=datetime(2026, 1, 3, tzinfo=UTC),
    )
    for incident, at in (
        (paged_at_night, datetime(2026, 1, 14, 8, tzinfo=UTC)),
        (still_open, datetime(2026, 1, 15, 16, tzinfo=UTC)),  # 11:00 NY Thursday: business
        (still_open, datetime(2026, 1, 15, 23, tzinfo=UTC)),  # 18:00 NY: off
        (still_open, datetime(2026, 1, 20, 23, tzinfo=UTC)),  # after the shift
    ):
        TimelineEvent.objects.create(
            incident=incident, kind=TimelineKind.PAGED, at=at, data={"user_id": bob.pk}
        )
    TimelineEvent.objects.create(
        incident=still_open,
        kind=TimelineKind.PAGED,
        at=datetime(2026, 1, 15, 16, tzinfo=UTC),
        data={"user_id": core.people["alice"].pk},
    )
    window = ShiftWindow("bob", core.veteran, bob.pk, NY, start, end)

    stats = shifts_stats([window], now=end + H)["bob"]

    assert (
        stats["pages"],
        stats["business_hours_pages"],
        stats["off_hours_pages"],
        stats["sleep_hours_pages"],
    ) == (3, 1, 1, 1)
    assert stats["engaged_seconds"] == 3600
    roles = {row["id"]: row["roles"] for row in stats["incidents"]}
    assert roles == {
        paged_at_night.pk: ["paged", "acknowledged", "resolved"],
        still_open.pk: ["paged", "commanded", "open"],
    }


def test_a_running_shift_counts_up_to_now(core: Core) -> None:
    bob = core.people["bob"]
    start = datetime(2026, 1, 12, 14, tzinfo=UTC)
    incident = IncidentFactory.create(team=core.team, triggered_at=start + H)
    TimelineEvent.objects.create(
        incident=incident, kind=TimelineKind.PAGED, at=start + 2 * H, data={"user_id": bob.pk}
    )
    window = ShiftWindow(1, core.veteran, bob.pk, NY, start, start + timedelta(days=7))
    assert shifts_stats([window], now=start + H)[1]["pages"] == 0
    assert shifts_stats([window], now=start + 3 * H)[1]["pages"] == 1
