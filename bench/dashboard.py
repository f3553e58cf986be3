"""Benchmark: the live support dashboard (`/` for support roles) and its refresh.

Builds, in a throwaway test database, 20 teams (one support desk with a first and a second
tier, 19 engineering teams with a veteran and a new tier and, for every fourth, numbers to
call directly), 2,000 people and 100,000 incidents of which 300 are open (a third of those
untriaged, every tenth past its rung's target, 50 with a customer contact due, 10 paging the
viewer). Then, as a support person signed in, times and counts the queries of:

* the page (`GET /`);
* the refresh with every section changed (`GET /incidents/support/live/` with no versions);
* the refresh with nothing changed (the poller's usual case: 204, no body).

Run (SQLite in memory; set DATABASE_URL=postgres://... to use a throwaway PostgreSQL DB):

    DJANGO_SETTINGS_MODULE=oncall.settings.test .venv/bin/python bench/dashboard.py \\
        [--incidents 100000] [--open 300] [--teams 20] [--users 2000] [--runs 20]

Aim: at most 15 queries and under 50 ms for the refresh.
"""

import argparse
import os
import re
import statistics
import sys
import time
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings.test")

import django

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)
from django.utils import timezone  # noqa: E402

from incidents.engine import SUBJECT_TYPE  # noqa: E402
from incidents.models import CustomerContact, Incident, Rung, Severity, Status  # noqa: E402
from notifications.models import Notification  # noqa: E402
from notifications.models import Status as PageStatus  # noqa: E402
from oncall.models import User  # noqa: E402
from oncall.roles import SUPPORT  # noqa: E402
from rotations.models import (  # noqa: E402
    ContactMode,
    DirectNumber,
    Rotation,
    RotationMember,
    Team,
    TeamKind,
    Tier,
)

LEVELS = list(Severity.values)
RUNGS = [Rung.FIRST_TIER, Rung.SUPPORT_MANAGER, Rung.ENGINEERING_MANAGER, Rung.ONCALL, Rung.NONE]


def build(*, incidents: int, open_: int, teams: int, users: int) -> User:
    now = timezone.now()
    people = User.objects.bulk_create(
        User(username=f"person{n}", email=f"person{n}@example.com", phone=f"+1202555{n:04d}")
        for n in range(users)
    )
    viewer = people[0]
    viewer.groups.add(Group.objects.get(name=SUPPORT))
    rows = Team.objects.bulk_create(
        Team(
            slug=f"team{n}",
            name=f"Team {n:02d}",
            kind=TeamKind.SUPPORT if n == 0 else TeamKind.ENGINEERING,
            contact_mode=ContactMode.CALL if n % 4 == 3 else ContactMode.PAGE,
        )
        for n in range(teams)
    )
    DirectNumber.objects.bulk_create(
        DirectNumber(team=team, label=f"Lead {i}", phone=f"+1303555{n:02d}{i:02d}", position=i)
        for n, team in enumerate(rows)
        if team.contact_mode == ContactMode.CALL
        for i in range(2)
    )
    rotations = Rotation.objects.bulk_create(
        Rotation(
            team=team,
            tier=tier,
            shift_length=timedelta(days=7),
            handoff_time=clock(9),
            timezone="America/New_York",
            start_date=date(2026, 1, 5),
        )
        for team in rows
        for tier in (
            (Tier.FIRST, Tier.SECOND) if team.kind == TeamKind.SUPPORT else (Tier.VETERAN, Tier.NEW)
        )
    )
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, user=people[(7 * n + i) % users], position=i)
        for n, rotation in enumerate(rotations)
        for i in range(4)
    )
    closed = incidents - open_
    batch = 5000
    for start in range(0, closed, batch):
        Incident.objects.bulk_create(
            Incident(
                title=f"Past incident {n}",
                team=rows[n % teams],
                severity=LEVELS[n % 4],
                status=Status.RESOLVED,
                triggered_at=now - timedelta(days=400) + timedelta(minutes=5 * n),
                resolved_at=now - timedelta(days=400) + timedelta(minutes=5 * n + 30),
                triage_confirmed_at=now - timedelta(days=400) + timedelta(minutes=5 * n + 10),
            )
            for n in range(start, min(start + batch, closed))
        )
    # Every time below is at least 5 minutes from now: no target passes while measuring.
    now = timezone.now()
    live = Incident.objects.bulk_create(
        Incident(
            title=f"Open incident {n}",
            team=rows[n % teams],
            severity=LEVELS[n % 4],
            status=Status.TRIGGERED if n % 2 else Status.ACKNOWLEDGED,
            triggered_at=now - timedelta(minutes=10 * n + 5),
            triage_confirmed_at=None if n % 3 == 0 else now - timedelta(minutes=n),
            rung=RUNGS[n % len(RUNGS)],
            next_target_at=now + timedelta(minutes=(-5 if n % 10 == 0 else 60)),
        )
        for n in range(open_)
    )
    CustomerContact.objects.bulk_create(
        CustomerContact(
            incident=incident,
            channel="email",
            summary="Told the customer where we are",
            at=now - timedelta(hours=2),
            by=people[n % users],
            next_due_at=now + timedelta(minutes=-5 if n % 2 else 25),
        )
        for n, incident in enumerate(live[:50])
    )
    Notification.objects.bulk_create(
        Notification(
            idempotency_key=f"bench:{incident.pk}",
            channel="email",
            address=viewer.email,
            recipient=viewer,
            subject_type=SUBJECT_TYPE,
            subject_id=incident.pk,
            status=PageStatus.SENT,
        )
        for incident in [i for i in live if i.status == Status.TRIGGERED][:10]
    )
    return viewer


SLOWEST: dict[str, list[tuple[float, str]]] = {}


def measure(client: Client, url: str, expect: int) -> tuple[float, int, bytes]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url, headers={"HX-Request": "true"} if "live" in url else {})
        elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == expect, (url, response.status_code)
    SLOWEST[url] = sorted(
        ((float(q["time"]) * 1000, q["sql"][:110]) for q in queries.captured_queries),
        reverse=True,
    )[:3]
    return elapsed, len(queries), response.content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=300)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--slowest", action="store_true", help="the 3 slowest queries of each")
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        viewer = build(
            incidents=args.incidents, open_=args.open, teams=args.teams, users=args.users
        )
        built = time.perf_counter() - started
        client = Client()
        client.force_login(viewer)
        page = [measure(client, "/", 200) for _ in range(args.runs)]
        html = page[-1][2].decode()
        match = re.search(r'id="dash-poll" hx-get="([^"]+)"', html)
        assert match
        poll = match.group(1).replace("&amp;", "&")
        full = [measure(client, "/incidents/support/live/", 200) for _ in range(args.runs)]
        # The poller as the last refresh left it (the page's, later: what changed meanwhile).
        first = client.get(poll, headers={"HX-Request": "true"})
        if first.status_code == 200:
            match = re.search(r'id="dash-poll" hx-get="([^"]+)"', first.content.decode())
            assert match
            print("changed since the page:", re.findall(r'id="dash-(\w+)"', first.content.decode()))
            poll = match.group(1).replace("&amp;", "&")
        idle = [measure(client, poll, 204) for _ in range(args.runs)]
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    print(
        f"support dashboard: {args.incidents} incidents ({args.open} open), {args.teams} teams, "
        f"{args.users} people, on {connection.vendor} (built in {built:.0f} s), {args.runs} runs"
    )
    for name, rows, url in (
        ("page GET /", page, "/"),
        ("refresh, all changed", full, "/incidents/support/live/"),
        ("refresh, unchanged", idle, poll),
    ):
        times = [ms for ms, _, _ in rows]
        print(
            f"  {name:21s} median {statistics.median(times):7.1f} ms, max {max(times):7.1f} ms, "
            f"queries {sorted({q for _, q, _ in rows})}, {len(rows[-1][2])} bytes"
        )
        if args.slowest:
            for ms, sql in SLOWEST[url]:
                print(f"      {ms:6.1f} ms  {sql}")


if __name__ == "__main__":
    main()
