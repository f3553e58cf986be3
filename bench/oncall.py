"""Benchmark: "who is on call for this team now" and a rotation's 16-week feed.

Builds, in a throwaway test database, a team of 50 people on four rotations (veteran/new ×
primary/secondary) with 200 overrides, then prints the median and p95 time and the query
count of:

* who is on call for the team now (rotations.selectors.team_oncall);
* a rotation's feed: its shifts from 4 weeks back to 12 ahead (rotations.selectors.
  rotation_shifts), serialised to iCalendar when rotations.ical exists.

Run (SQLite in memory; set DATABASE_URL=postgres://... to use a throwaway PostgreSQL DB):

    DJANGO_SETTINGS_MODULE=oncall.settings.test .venv/bin/python bench/oncall.py [--runs N]

Aim: at most 3 queries and under 5 ms for who is on call.
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)
from django.utils import timezone  # noqa: E402

from oncall.models import User  # noqa: E402
from rotations import selectors  # noqa: E402
from rotations.models import (  # noqa: E402
    Override,
    Position,
    Rotation,
    RotationMember,
    Team,
    Tier,
)

MEMBERS = 50
OVERRIDES = 200
FEED_PAST = timedelta(weeks=4)
FEED_AHEAD = timedelta(weeks=12)
AIM_QUERIES = 3
AIM_MS = 5.0


def build(now: datetime) -> tuple[Team, Rotation]:
    """A team of 50 (25 veterans, 25 new) on four weekly rotations with 200 overrides."""
    users = User.objects.bulk_create(
        User(username=f"bench{i:02d}", email=f"bench{i:02d}@example.com", timezone="UTC")
        for i in range(MEMBERS)
    )
    team = Team.objects.create(slug="bench", name="Bench", escalation_contact=users[0])
    team.members.set(users)
    veterans, new = users[: MEMBERS // 2], users[MEMBERS // 2 :]
    rotations = []
    for tier, people in ((Tier.VETERAN, veterans), (Tier.NEW, new)):
        for offset, position in enumerate((Position.PRIMARY, Position.SECONDARY)):
            rotation = Rotation.objects.create(
                team=team,
                tier=tier,
                position=position,
                shift_length=timedelta(days=7),
                timezone="America/New_York",
                start_date=date(2025, 1, 6),
            )
            ordered = people[offset:] + people[:offset]
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=u, position=i) for i, u in enumerate(ordered)
            )
            rotations.append(rotation)
    # 50 twelve-hour covers per rotation, one every three days from 100 days ago, so some
    # cover "now" and the feed window holds a few dozen of them.
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=100)
    Override.objects.bulk_create(
        Override(
            rotation=rotation,
            user=users[(r * 7 + i) % MEMBERS],
            start=first + timedelta(days=3 * i, hours=r),
            end=first + timedelta(days=3 * i, hours=r + 12),
            reason="bench",
        )
        for r, rotation in enumerate(rotations)
        for i in range(OVERRIDES // len(rotations))
    )
    return team, rotations[0]


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float, int]:
    """Median and p95 in milliseconds over `runs` calls, and the queries of one call."""
    for _ in range(5):  # warm caches (zoneinfo, prepared plans, imports)
        fn()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        fn()
    p95 = statistics.quantiles(timings, n=20)[-1]
    return statistics.median(timings), p95, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        now = timezone.now()
        team, rotation = build(now)
        token = rotation.ical_token

        def who_is_on_call() -> list[selectors.OnCall]:
            return selectors.team_oncall(team_slug=team.slug, at=timezone.now())

        has_ical = importlib.util.find_spec("rotations.ical") is not None

        def feed() -> object:
            at = timezone.now()
            found = selectors.rotations_with_members(
                Rotation.objects.filter(ical_token=token)
            ).get()
            shifts = selectors.rotation_shifts(
                rotation=found, start=at - FEED_PAST, end=at + FEED_AHEAD
            )
            if not has_ical:
                return shifts
            from rotations import ical

            return ical.feed_calendar(
                name=f"On call: {ical.rotation_role(found)}", shifts=shifts, stamp=at
            )

        oncall = measure(who_is_on_call, args.runs)
        feed_figures = measure(feed, args.runs)
        shifts = selectors.rotation_shifts(
            rotation=rotation, start=now - FEED_PAST, end=now + FEED_AHEAD
        )
        people = [o.user.username if o.user else "-" for o in who_is_on_call()]
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    vendor = connection.vendor
    print(f"Bench on {vendor}: 1 team, {MEMBERS} members, 4 rotations, {OVERRIDES} overrides,")
    print(f"{args.runs} runs each (after 5 warm-up calls).")
    print()
    print(f"{'':52} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    rows = [
        ("who is on call now (team_oncall)", oncall),
        (
            "12-week feed, 1 rotation ("
            + ("shifts + iCal" if has_ical else "shifts only")
            + f", {len(shifts)} shifts)",
            feed_figures,
        ),
    ]
    for label, (median, p95, count) in rows:
        print(f"{label:52} {median:10.2f} {p95:8.2f} {count:8d}")
    print()
    print(f"On call now: {', '.join(people)}")
    median, _, count = oncall
    verdict = "met" if median < AIM_MS and count <= AIM_QUERIES else "NOT met"
    print(f"Aim for who is on call (<= {AIM_QUERIES} queries, < {AIM_MS:g} ms median): {verdict}.")


if __name__ == "__main__":
    main()
