"""iCal feeds: valid RFC 5545 that calendar clients can subscribe to, behind secret tokens."""

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from icalendar import Calendar, Event

from oncall.models import User
from rotations.models import Position, Rotation, Tier
from rotations.services import personal_feed_get, personal_feed_rotate, rotation_feed_rotate
from tests.factories import OverrideFactory, RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
# Mid-October 2026: the window reaches past the 2026-11-01 change from EDT to EST.
NOW = datetime(2026, 10, 15, 12, tzinfo=UTC)
PAST, AHEAD = timedelta(weeks=4), timedelta(weeks=12)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice() -> User:
    return UserFactory.create(username="alice", first_name="Alice", last_name="Adams")


@pytest.fixture
def bob() -> User:
    return UserFactory.create(username="bob", first_name="Bob", last_name="Brown")


@pytest.fixture
def rotation(alice: User, bob: User) -> Rotation:
    """Weekly, Monday 09:00 America/New_York, from Monday 2026-01-05."""
    team = TeamFactory.create(slug="core", name="Core")
    return RotationFactory.create(
        team=team, tier=Tier.VETERAN, position=Position.PRIMARY, members=[alice, bob]
    )


def rotation_url(rotation: Rotation) -> str:
    return reverse("rotations:rotation-feed", args=[rotation.ical_token])


def fetch(client: Client, url: str) -> tuple[Calendar, list[Event], bytes]:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    events = [e for e in calendar.walk("VEVENT") if isinstance(e, Event)]
    return calendar, events, response.content


def start(event: Event) -> datetime:
    value = event.decoded("dtstart")
    assert isinstance(value, datetime)
    return value


def end(event: Event) -> datetime:
    value = event.decoded("dtend")
    assert isinstance(value, datetime)
    return value


def test_rotation_feed_is_a_valid_calendar_without_login(
    client: Client, rotation: Rotation
) -> None:
    calendar, events, raw = fetch(client, rotation_url(rotation))
    assert calendar["VERSION"] == "2.0"
    assert "On-call portal" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == "On call: Core · Veteran primary"
    assert events
    for event in events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            assert prop in event
        assert event.decoded("dtstamp") == NOW
        assert end(event) > start(event)
    # Lines end in CRLF and every date-time is written in UTC ("Z"), not in a local zone.
    text = raw.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert "TZID" not in text
    stamps = re.findall(r"^(?:DTSTART|DTEND|DTSTAMP)[:;](.*)\r$", text, re.MULTILINE)
    assert len(stamps) == 3 * len(events)
    assert all(re.fullmatch(r"\d{8}T\d{6}Z", s) for s in stamps), stamps


def test_rotation_feed_covers_four_weeks_back_to_twelve_ahead(
    client: Client, rotation: Rotation
) -> None:
    _, events, _ = fetch(client, rotation_url(rotation))
    starts = [start(e) for e in events]
    assert starts == sorted(starts)
    lo, hi = NOW - PAST, NOW + AHEAD
    assert all(end(e) > lo and start(e) < hi for e in events)  # every event is in the window
    assert starts[0] <= lo < end(events[0])  # the shift running 4 weeks ago, whole
    assert start(events[-1]) < hi <= end(events[-1])  # the shift running 12 weeks ahead
    # Back to back: no holes, no overlaps, every handoff Monday.
    for before, after in pairwise(events):
        assert end(before) == start(after)
    assert len(events) in (16, 17)


def test_calendar_clients_may_ask_with_head(client: Client, rotation: Rotation) -> None:
    response = client.head(rotation_url(rotation))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"


def test_summaries_name_team_tier_position_and_person(
    client: Client, rotation: Rotation, alice: User, bob: User
) -> None:
    _, events, _ = fetch(client, rotation_url(rotation))
    summaries = [str(e["SUMMARY"]) for e in events]
    assert "On call Core · Veteran primary: Alice Adams" in summaries
    assert "On call Core · Veteran primary: Bob Brown" in summaries
    # The list alternates alice, bob, alice…
    names = ["Alice" if "Alice" in s else "Bob" for s in summaries]
    assert all(a != b for a, b in pairwise(names))


def test_handoffs_stay_at_0900_new_york_across_the_november_dst_change(
    client: Client, rotation: Rotation
) -> None:
    _, events, _ = fetch(client, rotation_url(rotation))
    local_starts = [start(e).astimezone(NY) for e in events]
    assert all((s.weekday(), s.hour, s.minute) == (0, 9, 0) for s in local_starts)
    utc_starts = {start(e) for e in events}
    # EDT (UTC-4) before 2026-11-01, EST (UTC-5) after.
    assert datetime(2026, 10, 26, 13, tzinfo=UTC) in utc_starts
    assert datetime(2026, 11, 2, 14, tzinfo=UTC) in utc_starts
    spanning = next(e for e in events if start(e) == datetime(2026, 10, 26, 13, tzinfo=UTC))
    assert end(spanning) - start(spanning) == timedelta(hours=169)


def test_uids_are_unique_and_stable_between_fetches(
    client: Client, rotation: Rotation, frozen_now: time_machine.Traveller
) -> None:
    OverrideFactory.create(
        rotation=rotation,
        user=rotation.team.members.get(username="bob"),
        start=datetime(2026, 10, 20, tzinfo=UTC),
        end=datetime(2026, 10, 21, tzinfo=UTC),
    )
    _, first, _ = fetch(client, rotation_url(rotation))
    _, again, _ = fetch(client, rotation_url(rotation))
    uids = [str(e["UID"]) for e in first]
    assert len(set(uids)) == len(uids)
    assert uids == [str(e["UID"]) for e in again]
    # A day later the window has moved, but the events still in it keep their UIDs and times.
    frozen_now.shift(timedelta(days=1))
    _, later, _ = fetch(client, rotation_url(rotation))
    before = {str(e["UID"]): (start(e), end(e)) for e in first}
    after = {str(e["UID"]): (start(e), end(e)) for e in later}
    common = before.keys() & after.keys()
    assert len(common) >= len(before) - 1
    assert all(before[uid] == after[uid] for uid in common)


def test_overrides_are_events_of_their_own(
    client: Client, rotation: Rotation, alice: User, bob: User
) -> None:
    # Alice's shift is Oct 12–19 (2026-10-12 is shift 40); bob covers a day in the next one.
    override = OverrideFactory.create(
        rotation=rotation,
        user=alice,
        replaces=bob,
        start=datetime(2026, 10, 20, 4, tzinfo=UTC),
        end=datetime(2026, 10, 21, 4, tzinfo=UTC),
    )
    _, events, _ = fetch(client, rotation_url(rotation))
    by_uid = {str(e["UID"]): e for e in events}
    event = by_uid[f"override-{override.pk}@oncall"]
    assert str(event["SUMMARY"]) == "On call Core · Veteran primary: Alice Adams (override)"
    assert (start(event), end(event)) == (override.start, override.end)
    # Bob's week is cut around it: before and after, both still his.
    around = [e for e in events if "Bob" in str(e["SUMMARY"]) and start(e).month == 10]
    assert any(end(e) == override.start for e in around)
    assert any(start(e) == override.end for e in around)


def test_person_feed_has_only_their_shifts_on_every_rotation(
    client: Client, rotation: Rotation, alice: User, bob: User
) -> None:
    platform = TeamFactory.create(slug="platform", name="Platform")
    RotationFactory.create(team=platform, tier=Tier.NONE, members=[bob, alice])
    other_team_rotation = RotationFactory.create(
        team=TeamFactory.create(slug="vro", name="VRO"), members=[bob]
    )
    other_team_rotation.team.members.add(alice)
    cover = OverrideFactory.create(
        rotation=other_team_rotation,
        user=alice,
        start=datetime(2026, 11, 3, 14, tzinfo=UTC),
        end=datetime(2026, 11, 4, 14, tzinfo=UTC),
    )
    url = reverse("rotations:person-feed", args=[personal_feed_get(user=alice).token])
    calendar, events, _ = fetch(client, url)
    assert str(calendar["X-WR-CALNAME"]) == "On call: Alice Adams"
    summaries = [str(e["SUMMARY"]) for e in events]
    assert all(s.endswith(("Alice Adams", "Alice Adams (override)")) for s in summaries)
    assert any(s.startswith("On call Core · Veteran primary") for s in summaries)
    assert any(s.startswith("On call Platform · Primary") for s in summaries)
    assert f"override-{cover.pk}@oncall" in {str(e["UID"]) for e in events}
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    lo, hi = NOW - PAST, NOW + AHEAD
    assert all(end(e) > lo and start(e) < hi for e in events)
    assert max(end(e) for e in events) >= hi - timedelta(weeks=2)


@pytest.mark.parametrize("kind", ["rotation", "person"])
@pytest.mark.parametrize(
    "token", ["A" * 43, "nope-nope-nope-nope", "x" * 64], ids=["unknown", "short", "long"]
)
def test_unknown_token_is_404_and_reveals_nothing(
    client: Client, rotation: Rotation, kind: str, token: str
) -> None:
    personal_feed_get(user=rotation.team.members.get(username="alice"))
    response = client.get(f"/ical/{kind}/{token}.ics")
    assert response.status_code == 404
    assert b"VCALENDAR" not in response.content
    assert b"Core" not in response.content


def test_rotating_the_rotation_token_retires_the_old_url(
    client: Client, rotation: Rotation
) -> None:
    old = rotation_url(rotation)
    assert client.get(old).status_code == 200
    rotation_feed_rotate(rotation=rotation)
    assert client.get(old).status_code == 404
    assert client.get(rotation_url(rotation)).status_code == 200


def test_rotating_the_personal_token_retires_the_old_url(client: Client, alice: User) -> None:
    old = reverse("rotations:person-feed", args=[personal_feed_get(user=alice).token])
    assert client.get(old).status_code == 200
    feed = personal_feed_rotate(user=alice)
    assert client.get(old).status_code == 404
    assert client.get(reverse("rotations:person-feed", args=[feed.token])).status_code == 200


def test_feed_of_a_deactivated_person_is_gone(client: Client, alice: User) -> None:
    url = reverse("rotations:person-feed", args=[personal_feed_get(user=alice).token])
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get(url).status_code == 404
