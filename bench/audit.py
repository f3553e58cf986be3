"""The audit trail's page and API on a long history: queries and time.

Creates, in a throwaway test database next to DATABASE_URL's (PostgreSQL), `entries` audit
entries (default 500,000) over two years, spread over the audited types and 50 people
(bulk_create), then fetches each page `runs` times with Django's test client as a signed-in
Manager and prints the queries per page and the median and p90 time (after two warm-up
fetches). Aim: a fixed number of queries and well under 100 ms whatever the filter.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_bench_audit \\
        .venv/bin/python bench/audit.py [runs=20] [entries=500000]

BENCH_KEEP=1 keeps the database and its data between runs (while tuning; drop it by hand).
"""

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"

from bench.review import measure  # noqa: E402


def build(entry_count: int) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from audit.models import AuditEntry, Via
    from audit.selectors import object_types
    from oncall.roles import MANAGER
    from tests.factories import UserFactory

    rng = random.Random(18)
    now = timezone.now()
    manager = UserFactory.create(username="bench-manager", roles=[MANAGER])
    people = [manager] + [UserFactory.create(username=f"bench-{n}") for n in range(49)]
    types = list(object_types().values())
    span = timedelta(days=730).total_seconds()
    started = time.perf_counter()
    batch: list[AuditEntry] = []
    for n in range(entry_count):
        content_type = rng.choice(types)
        object_id = rng.randint(1, 2000)
        batch.append(
            AuditEntry(
                content_type=content_type,
                object_pk=str(object_id),
                object_id=object_id,
                object_repr=f"{content_type.model} {object_id}",
                action=rng.choice((0, 1, 1, 1, 2)),
                changes={"name": [f"before {n}", f"after {n}"], "position": [n, n + 1]},
                actor=rng.choice(people) if rng.random() < 0.8 else None,
                via=rng.choice(Via.values),
                timestamp=now - timedelta(seconds=span * (1 - n / entry_count)),
            )
        )
        if len(batch) == 10000:
            AuditEntry.objects.bulk_create(batch)
            batch = []
    AuditEntry.objects.bulk_create(batch)
    print(f"entries: {AuditEntry.objects.count():,} in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"manager": manager, "person": people[7]}


def main(runs: int = 20, entries: int = 500_000) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL)")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases

    from audit.models import AuditEntry

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    keep = bool(os.environ.get("BENCH_KEEP"))
    old = setup_databases(verbosity=0, interactive=False, keepdb=keep)
    try:
        from oncall.models import User

        manager = User.objects.filter(username="bench-manager").first() if keep else None
        world = (
            {"manager": manager, "person": User.objects.get(username="bench-7")}
            if manager
            else build(entries)
        )
        client = Client()
        client.force_login(world["manager"])
        person = world["person"].pk
        middle = AuditEntry.objects.order_by("id").values_list("id", flat=True)[entries // 2]
        pages = {
            "page, no filter": "/audit/",
            "page, one type": "/audit/?object_type=rotation",
            "page, one person": f"/audit/?actor={person}",
            "page, type + person": f"/audit/?object_type=team&actor={person}",
            "page, one week": "/audit/?from=2026-01-05&to=2026-01-11",
            "page, one object": "/audit/?object_type=rotation&object_id=17",
            "page, older (mid-table)": f"/audit/?before={middle}",
            "API, no filter": "/api/v1/audit/",
            "API, type + since": "/api/v1/audit/?object_type=user&since=2025-06-01T00:00:00Z",
            "API, one person": f"/api/v1/audit/?actor={person}",
        }
        print(f"{'page':28} {'queries':>7} {'median ms':>10} {'p90 ms':>8}  status")
        for name, url in pages.items():
            queries, median, p90, status = measure(client, url, runs)
            print(f"{name:28} {queries:7d} {median:10.1f} {p90:8.1f}  {status}")
    finally:
        if not keep:
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
