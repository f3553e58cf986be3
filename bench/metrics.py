"""A scrape of /metrics, and the beat task that fills its cache, on a big database.

Creates, in a throwaway test database next to DATABASE_URL's (PostgreSQL), 100,000
incidents (2 % still open) and 1,000,000 notifications (a few hundred pending), 20 teams
with 40 rotations of 5 people, 10,000 inbound events: one template row each, copied by
`INSERT … SELECT … FROM generate_series` in the database (seconds, not hours). Then:

- the scrape: GET /metrics with the bearer token, `runs` times: median, p90, queries
  (aim, issue 18: under 50 ms, no query at all);
- the beat task (`metrics_refresh`) and the auditor's checks: median time and queries, and
  every query's EXPLAIN: a sequential scan of a big table is flagged.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_h_monitoring_bench \\
        .venv/bin/python bench/metrics.py [runs=50] [incidents=100000] [notifications=1000000]

BENCH_KEEP=1 keeps the database and its data between runs (while tuning; drop it by hand).
"""

import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"

TOKEN = "bench-token"
SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
BIG_TABLES = ("incidents_incident", "notifications_notification", "incidents_inboundevent")


def copy_rows(model: Any, template: Any, count: int, overrides: dict[str, str]) -> None:
    """`count` copies of `template` (every column but the id), with SQL expressions of the
    series number `n` for the columns in `overrides`."""
    from django.db import connection

    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = [overrides[c].replace("%", "%%") if c in overrides else f't."{c}"' for c in columns]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({", ".join(f'"{c}"' for c in columns)}) '
            f'SELECT {", ".join(values)} FROM "{table}" t, generate_series(1, %s) n '
            f"WHERE t.id = %s",
            [count, template.pk],
        )


def build(incident_count: int, notification_count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from incidents.models import EscalationState, EscalationStatus, Incident
    from integrations.models import InboundEvent
    from notifications.models import Channel, ContactMethod, Notification, NotificationRule
    from oncall.health import heartbeat_record
    from tests.factories import (
        IncidentFactory,
        IntegrationFactory,
        RotationFactory,
        TeamFactory,
        UserFactory,
    )

    started = time.perf_counter()
    now = timezone.now()
    teams = [TeamFactory.create(slug=f"team-{n}") for n in range(20)]
    people = UserFactory.create_batch(100)
    for n, team in enumerate(teams):
        members = people[(n * 5) % 100 : (n * 5) % 100 + 5]
        RotationFactory.create(team=team, position="primary", members=members)
        if n % 4:  # a quarter of the secondaries have nobody: uncovered hours
            RotationFactory.create(team=team, position="secondary", members=members[::-1])
        else:
            RotationFactory.create(team=team, position="secondary")
    for person in people[::2]:  # half the people can be paged at high urgency
        method = ContactMethod.objects.create(
            user=person, channel=Channel.SMS, address=f"+1555555{person.pk:04d}", verified_at=now
        )
        NotificationRule.objects.create(user=person, urgency="high", contact_method=method)

    template = IncidentFactory.create(team=teams[0], status="resolved")
    team_ids = ",".join(str(t.pk) for t in teams)
    copy_rows(
        Incident,
        template,
        incident_count - 1,
        {
            "title": "'Checkout errors ' || n",
            "team_id": f"(ARRAY[{team_ids}])[1 + n % 20]",
            "severity": "(ARRAY['SEV0','SEV1','SEV2','SEV3'])[1 + n % 4]",
            "source": "(ARRAY['manual','integration','support','alert'])[1 + n % 4]",
            "status": "CASE WHEN n % 50 = 0 THEN 'triggered' WHEN n % 50 = 1 THEN "
            "'acknowledged' ELSE 'resolved' END",
            "triggered_at": "now() - n * interval '10 minutes'",
        },
    )
    print(f"incidents: {Incident.objects.count():,} in {time.perf_counter() - started:.1f} s")

    row = Notification.objects.create(
        idempotency_key="template",
        channel=Channel.SMS,
        address="+15555550100",
        recipient=people[0],
        subject="SEV2 #1",
        body="Checkout errors",
        subject_type="incident",
        subject_id=template.pk,
        status="sent",
        sent_at=now,
        due_at=now,
    )
    copy_rows(
        Notification,
        row,
        notification_count - 1,
        {
            "idempotency_key": "'bench:' || n",
            "channel": "(ARRAY['email','sms','voice','slack','webhook'])[1 + n % 5]",
            # 1 in 5,000 pending (due in the future: held for a slot), the rest final.
            "status": "CASE WHEN n % 5000 = 0 THEN 'pending' WHEN n % 97 = 0 THEN 'failed' "
            "ELSE 'sent' END",
            "not_before": "CASE WHEN n % 5000 = 0 THEN now() + interval '1 hour' END",
            "deadline": "CASE WHEN n % 5000 = 0 THEN now() + interval '61 minutes' END",
            "created_at": "now() - n * interval '1 minute'",
            "due_at": "now() - n * interval '1 minute'",
            "sent_at": "CASE WHEN n % 5000 <> 0 AND n % 97 <> 0 THEN "
            "now() - n * interval '1 minute' + interval '2 seconds' END",
            "subject_id": f"{template.pk} + n % {incident_count}",
        },
    )
    print(
        f"notifications: {Notification.objects.count():,} in {time.perf_counter() - started:.1f} s"
    )

    integration = IntegrationFactory.create(team=teams[0])
    event = InboundEvent.objects.create(
        integration=integration,
        kind="events_v2",
        payload={"x": 1},
        dedup_key="k",
        status="processed",
    )
    copy_rows(
        InboundEvent,
        event,
        9_999,
        {
            "dedup_key": "'k' || n",
            "status": "CASE WHEN n % 200 = 0 THEN 'accepted' ELSE 'processed' END",
            "received_at": "now() - n * interval '1 second'",
        },
    )
    open_ids = list(Incident.objects.filter(status="triggered").values_list("pk", flat=True)[:500])
    EscalationState.objects.bulk_create(
        EscalationState(
            incident_id=pk,
            track="main",
            status=EscalationStatus.ACTIVE,
            next_action_at=now + timedelta(minutes=5),
            triggered_at=now,
            snapshot={"name": "p", "steps": []},
        )
        for pk in open_ids
    )
    heartbeat_record()
    with connection.cursor() as cursor:
        # As autovacuum leaves a table: statistics, and the visibility map that lets the
        # counts read the indexes alone (index-only scans).
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def timed(call: Callable[[], Any], runs: int) -> tuple[float, float, int, list[str]]:
    """Median and p90 milliseconds, queries of one run, and their SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()  # warm
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    sql = [q["sql"] for q in captured.captured_queries]
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], len(sql), sql


def explain(sql: list[str]) -> None:
    """Each query's plan in one line; a sequential scan of a big table is flagged."""
    from django.db import connection

    with connection.cursor() as cursor:
        for query in sql:
            if not query.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + query)
            plan = [row[0] for row in cursor.fetchall()]
            scans = [line.strip() for line in plan if "Scan" in line]
            flag = any(table in BIG_TABLES for table in SEQ_SCAN.findall("\n".join(plan)))
            total = plan[-1].strip()
            print(f"  {'SEQ SCAN OF A BIG TABLE ' if flag else ''}{query[:90]}")
            for scan in scans:
                print(f"      {scan.split('  (')[0][:110]}")
            print(f"      {total}")


def main(runs: int = 50, incidents: int = 100_000, notifications: int = 1_000_000) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL)")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases

    from incidents.models import Incident
    from monitoring.gauges import metrics_refresh
    from monitoring.selfcheck import selfcheck_run

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.METRICS_TOKEN = TOKEN
    keep = bool(os.environ.get("BENCH_KEEP"))
    old = setup_databases(verbosity=0, interactive=False, keepdb=keep)
    try:
        if not (keep and Incident.objects.count() >= incidents):
            build(incidents, notifications)
        client = Client()
        headers = {"Authorization": f"Bearer {TOKEN}"}

        refresh = timed(metrics_refresh, max(3, runs // 10))
        checks = timed(selfcheck_run, runs)
        scrape = timed(lambda: client.get("/metrics", headers=headers), runs)
        size = len(client.get("/metrics", headers=headers).content)
        print(f"\n{'what':<34} {'queries':>7} {'median ms':>10} {'p90 ms':>8}")
        for name, (median, p90, queries, _) in {
            f"scrape /metrics ({size:,} bytes)": scrape,
            "beat task metrics_refresh": refresh,
            "auditor's four checks": checks,
        }.items():
            print(f"{name:<34} {queries:>7} {median:>10.1f} {p90:>8.1f}")
        print("\nEXPLAIN ANALYZE, metrics_refresh:")
        explain(refresh[3])
        print("\nEXPLAIN ANALYZE, self-checks:")
        explain(checks[3])
    finally:
        if not keep:
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    arguments = dict(arg.split("=", 1) for arg in sys.argv[1:])
    main(**{key: int(value) for key, value in arguments.items()})
