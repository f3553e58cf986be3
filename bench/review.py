"""The weekly review page and the postmortem list on a big history: queries and time.

Creates, in a throwaway test database next to DATABASE_URL's (PostgreSQL), 100,000
incidents over two years (3,000 more in one busy week ten weeks ago), 5,000 postmortems with
their 13 sections each and 20,000 action items (bulk_create, about a minute), then fetches
each page `runs` times with Django's test client as a signed-in Manager and prints the
queries per page and the median and p90 time (after two warm-up fetches). Aim (issue 14): at
most 20 queries and under 100 ms each.

The review keeps its parts between views (`postmortems.stamp`), so it is fetched viewed again
(no write since), then each time after one kind of write, made before every fetch as the
portal makes it: an acknowledgement of this week's incident, of one in the busy week, a
postmortem's section saved, an action item saved, and "nothing kept" (every part's token
moved: what a person's or a team's rename costs, and the first view of a week, or any view
after the cache was emptied).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_bench_review \\
        .venv/bin/python bench/review.py [runs=20] [incidents=100000]

BENCH_KEEP=1 keeps the database and its data between runs (while tuning; drop it by hand).
"""

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"

WORDS = [
    "certificate",
    "renewal",
    "expired",
    "checkout",
    "latency",
    "database",
    "replica",
    "failover",
    "queue",
    "backlog",
    "deploy",
    "rollback",
    "canary",
    "dns",
    "timeout",
    "retry",
    "storm",
    "cache",
    "eviction",
    "memory",
    "leak",
    "disk",
    "full",
    "alarm",
    "threshold",
    "playbook",
    "runbook",
    "metric",
    "dashboard",
    "pager",
    "escalation",
    "customer",
    "impact",
    "payment",
    "gateway",
    "login",
    "search",
    "index",
    "cluster",
    "node",
    "kernel",
    "upgrade",
    "config",
    "drift",
    "quota",
    "throttle",
    "rate",
    "limit",
    "webhook",
    "integration",
    "monitoring",
    "alert",
    "noise",
    "flapping",
    "health",
    "check",
]


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def build(incident_count: int) -> dict[str, Any]:
    from django.utils import timezone

    from incidents.models import Incident, Severity, Status
    from oncall.roles import MANAGER
    from postmortems.models import (
        ActionItem,
        ActionItemStatus,
        Postmortem,
        PostmortemSection,
        PostmortemStatus,
        PostmortemTemplate,
    )
    from postmortems.review import IsoWeek
    from postmortems.search import search_document_refresh
    from rotations.models import Team
    from tests.factories import UserFactory

    rng = random.Random(14)
    now = timezone.now()
    manager = UserFactory.create(username="bench-manager", roles=[MANAGER])
    people = [manager] + [UserFactory.create(username=f"bench-{n}") for n in range(49)]
    teams = [Team.objects.create(slug=f"team-{n}", name=f"Team {n}") for n in range(10)]
    busy = IsoWeek.of(now - timedelta(weeks=10))
    severities = list(Severity.values)

    started = time.perf_counter()
    batch: list[Incident] = []
    span = timedelta(days=730).total_seconds()
    for n in range(incident_count + 3000):
        if n < incident_count:
            at = now - timedelta(seconds=rng.uniform(0, span))
        else:
            at = busy.start + timedelta(seconds=rng.uniform(0, 7 * 86400 - 1))
        acked = at + timedelta(minutes=rng.uniform(1, 60)) if rng.random() < 0.9 else None
        resolved = (
            (acked or at) + timedelta(minutes=rng.uniform(5, 600)) if rng.random() < 0.85 else None
        )
        resolved = resolved if resolved and resolved < now else None
        acked = acked if acked and acked < now else None
        status = Status.RESOLVED if resolved else Status.ACKNOWLEDGED if acked else Status.TRIGGERED
        batch.append(
            Incident(
                title=f"{words(rng, 4)} {n}",
                severity=rng.choice(severities),
                status=status,
                team=rng.choice(teams),
                triggered_at=at,
                acknowledged_at=acked,
                resolved_at=resolved,
            )
        )
        if len(batch) == 5000:
            Incident.objects.bulk_create(batch)
            batch = []
    Incident.objects.bulk_create(batch)
    print(f"incidents: {Incident.objects.count():,} in {time.perf_counter() - started:.1f} s")
    page_facts()

    started = time.perf_counter()
    template = PostmortemTemplate.objects.prefetch_related("sections").get(is_default=True)
    template_sections = list(template.sections.all())
    resolved_rows = list(
        Incident.objects.filter(status=Status.RESOLVED)
        .order_by("?")
        .values_list("id", "title", "resolved_at")[:5000]
    )
    postmortems = []
    for incident_id, title, resolved_at in resolved_rows:
        assert resolved_at is not None  # resolved incidents only
        roll = rng.random()
        pm_status = (
            PostmortemStatus.PUBLISHED
            if roll < 0.8
            else PostmortemStatus.IN_REVIEW
            if roll < 0.83
            else PostmortemStatus.DRAFT
        )
        created = resolved_at + timedelta(minutes=1)
        published = (
            created + timedelta(days=rng.uniform(1, 10)) if pm_status == "published" else None
        )
        postmortems.append(
            Postmortem(
                incident_id=incident_id,
                title=title,
                owner=rng.choice(people),
                status=pm_status,
                template=template,
                due_at=created + timedelta(days=5),
                created_at=created,
                updated_at=created,
                submitted_at=created if pm_status != "draft" else None,
                published_at=min(published, now) if published else None,
            )
        )
    Postmortem.objects.bulk_create(postmortems, batch_size=2000)
    sections = [
        PostmortemSection(
            postmortem=postmortem,
            position=section.position,
            key=section.key,
            title=section.heading,
            prompt=section.prompt,
            body=words(rng, rng.randint(20, 80)) if rng.random() < 0.7 else "",
        )
        for postmortem in postmortems
        for section in template_sections
    ]
    PostmortemSection.objects.bulk_create(sections, batch_size=5000)
    items = []
    for n in range(20000):
        postmortem = rng.choice(postmortems)
        created = postmortem.created_at + timedelta(hours=rng.uniform(1, 200))
        roll = rng.random()
        item_status = (
            ActionItemStatus.DONE
            if roll < 0.6
            else ActionItemStatus.WONT_DO
            if roll < 0.7
            else ActionItemStatus.OPEN
            if roll < 0.9
            else ActionItemStatus.IN_PROGRESS
        )
        completed = (
            min(created + timedelta(days=rng.uniform(1, 40)), now)
            if item_status in ("done", "wont_do")
            else None
        )
        items.append(
            ActionItem(
                postmortem=postmortem,
                title=f"{words(rng, 5)} {n}",
                owner=rng.choice(people),
                kind=rng.choice(["investigate", "mitigate", "repair", "detect", "prevent"]),
                status=item_status,
                due_date=(created + timedelta(days=30)).date(),
                created_at=created,
                updated_at=created,
                completed_at=completed,
            )
        )
    ActionItem.objects.bulk_create(items, batch_size=5000)
    search_document_refresh()  # bulk_create bypasses the services that keep it
    print(
        f"postmortems: {len(postmortems):,} with {len(sections):,} sections, "
        f"{len(items):,} action items in {time.perf_counter() - started:.1f} s"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"manager": manager, "busy": busy, "team": teams[3]}


def page_facts() -> None:
    """What the pages told of 19 incidents in 20, as `incidents.pagefacts` keeps it (the
    review's headline reads them with the week's incidents): a quarter escalated, a fifth
    paged the new tier."""
    from incidents.models import Incident, PageFacts

    started = time.perf_counter()
    rows = Incident.objects.order_by("id").values_list("id", "acknowledged_at", "triggered_at")
    batch = [
        PageFacts(
            incident_id=pk,
            triggered_at=triggered,
            paged_veteran=True,
            paged_new=pk % 5 == 0,
            escalated=pk % 4 == 0,
            acknowledger_paged_veteran=acknowledged is not None,
        )
        for pk, acknowledged, triggered in rows.iterator(chunk_size=5000)
        if pk % 20
    ]
    PageFacts.objects.bulk_create(batch, batch_size=5000)
    print(f"page facts: {len(batch):,} in {time.perf_counter() - started:.1f} s")


def existing() -> dict[str, Any] | None:
    """The world a kept database holds from an earlier run, or None."""
    from django.contrib.auth import get_user_model

    from incidents.models import Incident, PageFacts
    from postmortems.review import IsoWeek
    from rotations.models import Team

    manager = get_user_model().objects.filter(username="bench-manager").first()
    if manager is None:
        return None
    if not PageFacts.objects.exists():  # kept from before the bench wrote them
        page_facts()
    busy_at = Incident.objects.filter(title__endswith=" 100000").values_list(
        "triggered_at", flat=True
    )
    return {
        "manager": manager,
        "busy": IsoWeek.of(busy_at[0]),
        "team": Team.objects.get(slug="team-3"),
    }


def writes(busy: Any) -> dict[str, Any]:
    """Writes the review's parts are kept across or not (`postmortems.stamp`), each as the
    portal makes it, through the models' signals: the same rows saved with their own
    values, so every fetch finds the same page. "nothing kept" moves every part."""
    from incidents.models import Incident, Status
    from postmortems.models import ActionItem, PostmortemSection
    from postmortems.review import IsoWeek
    from postmortems.stamp import touch_review

    acknowledged = Incident.objects.filter(status=Status.ACKNOWLEDGED)
    this_week = IsoWeek.current()
    now = acknowledged.filter(triggered_at__gte=this_week.start).latest("triggered_at")
    then = acknowledged.filter(triggered_at__gte=busy.start, triggered_at__lt=busy.end).first()
    assert then is not None
    section = PostmortemSection.objects.filter(key="summary").latest("id")
    item = ActionItem.objects.latest("id")
    return {
        "ack this week": lambda: now.save(update_fields=["status", "acknowledged_at"]),
        "ack in busy week": lambda: then.save(update_fields=["status", "acknowledged_at"]),
        "pm edit": lambda: section.save(update_fields=["body"]),
        "item edit": lambda: item.save(update_fields=["status"]),
        "nothing kept": touch_review,
    }


def measure(client: Any, url: str, runs: int, write: Any = None) -> tuple[int, float, float, int]:
    """`write`: made before each fetch (a view after it); else what a second viewer finds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        client.get(url)
    times = []
    queries = 0
    status = 0
    for _ in range(runs):
        if write:
            write()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        queries, status = len(captured), response.status_code
    if os.environ.get("BENCH_SLOWEST"):  # the slowest queries of the last fetch
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
        for query in slowest:
            print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}")
        if os.environ.get("BENCH_SLOWEST") == "explain":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + slowest[0]["sql"])
                print("\n".join("      " + row[0] for row in cursor.fetchall()))
    times.sort()
    return queries, statistics.median(times), times[int(0.9 * (len(times) - 1))], status


def main(runs: int = 20, incidents: int = 100_000) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL)")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases

    from postmortems.review import IsoWeek

    # Not setup_test_environment(): it instruments every template render so the test client
    # can keep copies of each context, which costs more than the page itself.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # BENCH_KEEP=1 keeps the test database and its data for the next run (while tuning).
    keep = bool(os.environ.get("BENCH_KEEP"))
    old = setup_databases(verbosity=0, interactive=False, keepdb=keep)
    try:
        world = existing() if keep else None
        world = world or build(incidents)
        client = Client()
        client.force_login(world["manager"])
        this_week = f"/postmortems/review/{IsoWeek.current()}/"
        busy_week = f"/postmortems/review/{world['busy']}/"
        busy_api = f"/api/v1/reviews/{world['busy']}/"
        pages = {
            "review, this week": this_week,
            "review, busy week": busy_week,
            "review API, busy week": busy_api,
            "list, no filter": "/postmortems/",
            "list, team + status": f"/postmortems/?team={world['team'].slug}&status=published",
            "list, search": "/postmortems/?q=certificate+renewal",
            "list, search page 5": "/postmortems/?q=failover&page=5",
        }
        # The review's parts kept between views (postmortems.stamp): the first view after
        # a write re-reads the parts it changed; "nothing kept" all of them.
        made = writes(world["busy"])
        after = {
            "this week, after an ack": (this_week, made["ack this week"]),
            "this week, nothing kept": (this_week, made["nothing kept"]),
            "busy week, ack this week": (busy_week, made["ack this week"]),
            "busy week, ack in it": (busy_week, made["ack in busy week"]),
            "busy week, pm edit": (busy_week, made["pm edit"]),
            "busy week, item edit": (busy_week, made["item edit"]),
            "busy week, nothing kept": (busy_week, made["nothing kept"]),
            "API busy, ack in it": (busy_api, made["ack in busy week"]),
            "API busy, nothing kept": (busy_api, made["nothing kept"]),
        }
        if os.environ.get("BENCH_PROFILE"):  # where one fetch of a page spends its time
            import cProfile
            import pstats

            name = os.environ["BENCH_PROFILE"]
            url, write = after.get(name) or (pages[name], None)
            client.get(url), client.get(url)  # warm: imports, templates
            if write:
                write()
            profiler = cProfile.Profile()
            profiler.runcall(client.get, url)
            pstats.Stats(profiler).sort_stats(
                os.environ.get("BENCH_PROFILE_SORT", "cumulative")
            ).print_stats(30)
        print(f"\n{'page':<28} {'status':>6} {'queries':>7} {'median ms':>10} {'p90 ms':>8}")
        rows = [*((name, url, None) for name, url in pages.items())]
        rows += [(name, url, write) for name, (url, write) in after.items()]
        for name, url, write in rows:
            queries, median, p90, status = measure(client, url, runs, write)
            print(f"{name:<28} {status:>6} {queries:>7} {median:>10.1f} {p90:>8.1f}")
    finally:
        if not keep:
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    arguments = dict(arg.split("=", 1) for arg in sys.argv[1:])
    main(**{key: int(value) for key, value in arguments.items()})
