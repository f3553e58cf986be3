"""The insights page and API on a big history: queries and time (issue 17).

Creates, in a throwaway test database next to DATABASE_URL's (PostgreSQL), 100,000 incidents
over two years and 1,000,000 notifications (ten per incident: SMS, voice and email pages over
three steps, some on the new tier's track) with bulk SQL (`generate_series`, no ORM row by
row), their page facts and interruptions (as the outbox keeps them, classified as the beat
task does), 50 people in five time zones and 10 teams with veteran and new rotations, then
fetches each page `runs` times with Django's test client as a signed-in Manager and prints
the queries per page and the median and p90 time (after two warm-up fetches). Aim: at most
12 queries and under 300 ms for the page over 90 days, all teams.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_bench_insights \\
        .venv/bin/python bench/insights.py [runs=20] [incidents=100000]

BENCH_KEEP=1 keeps the database and its data between runs (while tuning; drop it by hand);
BENCH_SLOWEST=1 prints each page's slowest queries (=explain: with the plan of the slowest).
"""

import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"

from bench.review import measure  # noqa: E402

ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles", "UTC")
PAGES_PER_INCIDENT = 10


def _columns(model: Any, given: dict[str, str]) -> tuple[str, str]:
    """Every concrete column of `model` with the SQL expression that fills it: the given
    ones, else a neutral value for its type (NULL where allowed)."""
    from django.db.models import AutoField

    names, values = [], []
    for field in model._meta.concrete_fields:
        if isinstance(field, AutoField):
            continue
        column = field.column
        names.append(f'"{column}"')
        if field.name in given:
            values.append(given[field.name])
        elif field.null:
            values.append("NULL")
        else:
            kind = field.get_internal_type()
            values.append(
                "now()"
                if kind == "DateTimeField"
                else "'{}'::jsonb"
                if kind == "JSONField"
                else "false"
                if kind == "BooleanField"
                else "0"
                if "Integer" in kind
                else "''"
            )
    return ", ".join(names), ", ".join(values)


def build(incident_count: int) -> dict[str, Any]:
    from django.db import connection

    from incidents.interruptions import fill_with
    from incidents.models import Incident, Interruption, PageFacts
    from incidents.pagefacts import page_facts_refresh
    from notifications.models import Notification
    from oncall.roles import MANAGER
    from rotations.models import Position, Rotation, RotationMember, Team, Tier
    from tests.factories import UserFactory

    manager = UserFactory.create(username="bench-manager", roles=[MANAGER], timezone="UTC")
    people = [manager] + [
        UserFactory.create(username=f"bench-{n}", timezone=ZONES[n % len(ZONES)]) for n in range(49)
    ]
    teams = [Team.objects.create(slug=f"team-{n}", name=f"Team {n}") for n in range(10)]
    for n, team in enumerate(teams):
        for tier, offset in ((Tier.VETERAN, 0), (Tier.NEW, 3)):
            rotation = Rotation.objects.create(
                team=team,
                tier=tier,
                position=Position.PRIMARY,
                shift_length=__import__("datetime").timedelta(days=7),
                handoff_time=__import__("datetime").time(9),
                timezone=ZONES[n % len(ZONES)],
                start_date=__import__("datetime").date(2024, 1, 1),
            )
            members = [people[(n * 5 + offset + k) % 50] for k in range(3)]
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=u, position=k) for k, u in enumerate(members)
            )
    user_ids = [p.pk for p in people]
    team_ids = [t.pk for t in teams]

    started = time.perf_counter()
    names, values = _columns(
        Incident,
        {
            "title": "'bench incident ' || g",
            "severity": "(ARRAY['SEV0','SEV1','SEV2','SEV3'])[1 + g % 4]",
            "status": "CASE WHEN g % 10 = 0 THEN 'triggered' ELSE 'resolved' END",
            "source": "'manual'",
            "contact_mode": "'page'",
            "direct_numbers": "'[]'::jsonb",
            "category": "'other'",
            "team": f"(ARRAY{team_ids})[1 + g % {len(team_ids)}]",
            "triggered_at": "now() - (g * interval '730 days' / {n})",
            "acknowledged_at": "CASE WHEN g % 10 = 0 OR g % 7 = 0 THEN NULL ELSE "
            "now() - (g * interval '730 days' / {n}) + (g % 37) * interval '1 minute' END",
            "acknowledged_by": f"CASE WHEN g % 10 = 0 OR g % 7 = 0 THEN NULL ELSE "
            f"(ARRAY{user_ids})[1 + g % 50] END",
            "resolved_at": "CASE WHEN g % 10 = 0 THEN NULL ELSE "
            "now() - (g * interval '730 days' / {n}) + (3 + g % 301) * interval '1 minute' END",
            "triage_confirmed_at": "now() - (g * interval '730 days' / {n}) + (g % 23) * interval '1 minute'",
            "actionable": "CASE WHEN g % 13 = 0 THEN false WHEN g % 3 = 0 THEN true END",
            "created_at": "now()",
        },
    )
    values = values.replace("{n}", str(incident_count))
    table = Incident._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {values} "
            f"FROM generate_series(1, {incident_count}) AS g"
        )
    print(f"incidents: {Incident.objects.count():,} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    names, values = _columns(
        Notification,
        {
            "idempotency_key": "'inc' || i.id || ':' || CASE WHEN k % 4 = 3 THEN 'new' ELSE 'main' END"
            " || ':r0:s' || (k / 4) || ':w0:u' || (ARRAY{users})[1 + (i.id + k) % 50] || ':' || k",
            "recipient": "(ARRAY{users})[1 + (i.id + k) % 50]",
            "channel": "(ARRAY['sms','voice','email','sms','email'])[1 + k % 5]",
            "address": "'+12025550100'",
            "subject_type": "'incident'",
            "subject_id": "i.id",
            "status": "CASE WHEN k = 9 THEN 'cancelled' ELSE 'sent' END",
            "urgency": "'high'",
            "data": "'{}'::jsonb",
            "created_at": "i.triggered_at + k * interval '2 minutes'",
            "sent_at": "CASE WHEN k = 9 THEN NULL ELSE i.triggered_at + k * interval '2 minutes' END",
        },
    )
    values = values.replace("{users}", str(user_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Notification._meta.db_table} ({names}) SELECT {values} "
            f"FROM {table} i CROSS JOIN generate_series(0, {PAGES_PER_INCIDENT - 1}) AS k"
        )
    print(
        f"notifications: {Notification.objects.count():,} in {time.perf_counter() - started:.1f} s"
    )
    # What the outbox keeps as it writes an incident's pages (and migration 0019 fills).
    started = time.perf_counter()
    ids = list(Incident.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        page_facts_refresh(ids[start : start + 2000])
    print(f"page facts: {PageFacts.objects.count():,} in {time.perf_counter() - started:.1f} s")
    # What the outbox keeps as it moves pages to sent (and migration 0020 fills).
    started = time.perf_counter()
    fill_with(notification=Notification, interruption=Interruption)
    found = Interruption.objects.count()
    print(f"interruptions: {found:,} in {time.perf_counter() - started:.1f} s")
    classified()
    return {"manager": manager, "team": teams[3]}


def classified() -> None:
    """Classify every interruption not classified yet, as the beat task does as they come
    (`insights.classify`), then VACUUM: it sets the visibility map the index-only scans read."""
    from django.db import connection

    from insights.classify import classify_pending

    started, done = time.perf_counter(), 0
    while found := classify_pending(limit=100_000):
        done += found
    if done:
        print(f"classified: {done:,} in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:  # outside the transaction
        cursor.execute("VACUUM ANALYZE")


def existing() -> dict[str, Any] | None:
    """The world a kept database already holds (BENCH_KEEP), if it was built."""
    from oncall.models import User
    from rotations.models import Team

    manager = User.objects.filter(username="bench-manager").first()
    team = Team.objects.filter(slug="team-3").first()
    return {"manager": manager, "team": team} if manager and team else None


def main(runs: int = 20, incidents: int = 100_000) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL)")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases

    from postmortems.review import IsoWeek

    # Not setup_test_environment(): it instruments every template render (see bench/review.py).
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    keep = bool(os.environ.get("BENCH_KEEP"))
    old = setup_databases(verbosity=0, interactive=False, keepdb=keep)
    try:
        world = existing() if keep else None
        if world:
            classified()  # a database kept from before the kinds were stored
        else:
            world = build(incidents)
        client = Client()
        client.force_login(world["manager"])
        team = world["team"].slug
        pages = {
            "page, 90 days, all teams": "/insights/?range=90",
            "page, 30 days, all teams": "/insights/?range=30",
            "page, 90 days, one team": f"/insights/?range=90&team={team}",
            "page, 90 days, new tier": "/insights/?range=90&tier=new",
            "page, 2 years": "/insights/?range=custom&from=2024-12-03&to=2026-12-02",
            "API, 90 days": "/api/v1/insights/?from=2026-09-03&to=2026-12-01",
            "review, this week": f"/postmortems/review/{IsoWeek.current()}/",
        }
        print(f"\n{'page':<26} {'status':>6} {'queries':>7} {'median ms':>10} {'p90 ms':>8}")
        for name, url in pages.items():
            queries, median, p90, status = measure(client, url, runs)
            print(f"{name:<26} {status:>6} {queries:>7} {median:>10.1f} {p90:>8.1f}")
    finally:
        if not keep:
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    arguments = dict(arg.split("=", 1) for arg in sys.argv[1:])
    main(**{key: int(value) for key, value in arguments.items()})
