"""Benchmark: the shift-start task (reports.services.shift_reports_create) over 500 rotations.

Builds, in a throwaway test database, 250 teams with a veteran and a new rotation each
(500 tiered rotations, two people each, every fifth rotation with an override over the
shift), then times and counts the queries of:

* a cold run at a handoff (every rotation's draft is written);
* a second run a minute later (nothing to write: the beat's usual case);
* the Slack groups of every team (the same task, at the handoff; every team has a group:
  one outbox row each, written one by one) and a minute later (nothing to write);
* the shift reminders half an hour before the handoff (every incoming person's reminder).

Run (SQLite in memory; set DATABASE_URL=postgres://... to use a throwaway PostgreSQL DB):

    DJANGO_SETTINGS_MODULE=oncall.settings.test .venv/bin/python bench/shift_reports.py \\
        [--rotations 500] [--runs 5]

Aim: a constant number of queries (seven), not one per rotation.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

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

from oncall.models import User  # noqa: E402
from reports.models import OnCallReport  # noqa: E402
from reports.services import shift_reports_create  # noqa: E402
from reports.shift_reminders import shift_reminders_send  # noqa: E402
from reports.slack_group import slack_groups_update  # noqa: E402
from rotations.models import Override, Rotation, RotationMember, Team, Tier  # noqa: E402

# Monday 2026-01-12 09:00 New York: the second weekly handoff.
HANDOFF = datetime(2026, 1, 12, 14, tzinfo=UTC)


def build(rotations: int) -> None:
    teams = Team.objects.bulk_create(
        Team(slug=f"team{n}", name=f"Team {n}") for n in range(rotations // 2)
    )
    people = User.objects.bulk_create(
        User(username=f"person{n}", email=f"person{n}@example.com") for n in range(rotations)
    )
    rows = Rotation.objects.bulk_create(
        Rotation(
            team=team,
            tier=tier,
            shift_length=timedelta(days=7),
            handoff_time=clock(9),
            timezone="America/New_York",
            start_date=date(2026, 1, 5),
        )
        for team in teams
        for tier in (Tier.VETERAN, Tier.NEW)
    )
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, user=people[(n + i) % len(people)], position=i)
        for n, rotation in enumerate(rows)
        for i in range(2)
    )
    Override.objects.bulk_create(
        Override(
            rotation=rotation,
            user=people[(n + 5) % len(people)],
            start=HANDOFF - timedelta(hours=1),
            end=HANDOFF + timedelta(days=7),
        )
        for n, rotation in enumerate(rows)
        if n % 5 == 0
    )


def measure(now: datetime, task: Any = None) -> tuple[float, int, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        done = task(now=now) if task else shift_reports_create(now=now).created
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len(queries), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rotations", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        build(args.rotations)
        cold, warm = [], []
        for n in range(args.runs):
            OnCallReport.objects.all().delete()
            cold.append(measure(HANDOFF + timedelta(minutes=1)))
            warm.append(measure(HANDOFF + timedelta(minutes=2 + n)))
        drafts = OnCallReport.objects.count()
        Team.objects.update(slack_usergroup_id="S0ONCALL1")
        groups = [measure(HANDOFF + timedelta(minutes=1), slack_groups_update)]
        groups_idle = [measure(HANDOFF + timedelta(minutes=2), slack_groups_update)]
        reminders = [measure(HANDOFF - timedelta(minutes=30), shift_reminders_send)]
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    print(f"shift-start task over {args.rotations} rotations on {connection.vendor}")
    for name, rows in (
        ("drafting run", cold),
        ("idle run", warm),
        ("slack groups", groups),
        ("slack idle", groups_idle),
        ("reminders", reminders),
    ):
        times = [ms for ms, _, _ in rows]
        print(
            f"  {name:13s} median {statistics.median(times):7.1f} ms, max {max(times):7.1f} ms, "
            f"queries {sorted({q for _, q, _ in rows})}, drafted {sorted({c for _, _, c in rows})}"
        )
    print(f"  drafts after the last run: {drafts}")


if __name__ == "__main__":
    main()
