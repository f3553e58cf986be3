"""2,000 escalations due in the same second, through real worker and beat processes.

Prints lateness from the due time to the outbox row (p50, p99, max), lost and duplicated
pages. Needs PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_bench_esc \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/escalation.py \\
        [count=2000] [pool=threads] [concurrency=8] [lead_seconds=45] [escalation_workers=0]

`escalation_workers` > 0 adds that many worker processes consuming only the escalation
queue (`-Q escalation`, same pool and concurrency), as the scale path runs workers per queue.
Besides lateness to the row's created_at, it prints lateness to when the row was first seen
committed (polled every 0.1 s), which includes the batch's commit.

It creates (and drops) a throwaway test database next to DATABASE_URL's and FLUSHDBs the
Redis db of REDIS_URL. One worker on every queue (escalation and delivery, as in
Procfile.dev) and beat (ESCALATION_SWEEP_SECONDS, 5 s unless set) run as subprocesses.

How the escalations come due together: `incident_declare` starts paging at once, so the
incidents are declared without a policy first, then each gets its track from the engine's
own `escalation_start(..., at=due)`, which writes the state with `next_action_at = due` and
sends the step task with that ETA on commit, exactly as a declaration does for "now". Only
lateness after `due` is measured; the script checks creation finished before `due`.
"""

import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"
os.environ.setdefault("NOTIFY_CONSOLE", "0")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main(
    count: int = 2000,
    pool: str = "threads",
    concurrency: int = 8,
    lead: int = 45,
    escalation_workers: int = 0,
) -> None:
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    os.environ["TEST_CELERY_BROKER_URL"] = redis_url
    sweep = int(os.environ.setdefault("ESCALATION_SWEEP_SECONDS", "5"))

    import django

    django.setup()
    import redis
    from django.db import connection, transaction
    from django.test.utils import setup_databases, teardown_databases
    from django.utils import timezone

    from incidents import engine
    from incidents.models import EscalationState, Severity, TimelineEvent, TimelineKind
    from incidents.services import incident_declare
    from notifications.models import Notification
    from oncall.models import User
    from rotations.models import EscalationPolicy, EscalationStep, StepAction, Team

    redis.Redis.from_url(redis_url).flushdb()
    old = setup_databases(verbosity=0, interactive=False)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "VAR_DIR": str(ROOT / "var" / "bench-escalation"),
    }
    (ROOT / "var" / "bench-escalation").mkdir(parents=True, exist_ok=True)
    names = ("worker", "beat", *(f"escalation{i}" for i in range(escalation_workers)))
    logs = {name: ROOT / "var" / f"bench-escalation-{name}.log" for name in names}
    procs: list[subprocess.Popen[bytes]] = []
    celery = [sys.executable, "-m", "celery", "-A", "oncall"]
    commands = {
        "worker": [*celery, "worker", "--pool", pool, "--concurrency", str(concurrency),
                   "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        "beat": [*celery, "beat", "--loglevel", "INFO",
                 "--schedule", str(ROOT / "var" / "bench-escalation" / "beat-schedule")],
        **{f"escalation{i}": [*celery, "worker", "--pool", pool, "--concurrency",
                              str(concurrency), "-Q", "escalation", "--hostname",
                              f"escalation{i}@%h", "--loglevel", "WARNING",
                              "--without-gossip", "--without-mingle"]
           for i in range(escalation_workers)},
    }  # fmt: skip
    try:
        for name, command in commands.items():
            with logs[name].open("w") as out:
                procs.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )

        responder = User.objects.create_user(username="responder", email="responder@example.com")
        team = Team.objects.create(slug="bench", name="Bench", escalation_contact=responder)
        policy = EscalationPolicy.objects.create(team=team, name="Bench")
        step = EscalationStep.objects.create(
            policy=policy, position=0, action=StepAction.USERS, wait=timedelta(minutes=10)
        )
        step.users.set([responder])

        started = time.monotonic()
        incidents = [
            incident_declare(title=f"Bench {i}", actor=None, severity=Severity.SEV3)
            for i in range(count)
        ]
        declared = time.monotonic() - started
        due = (timezone.now() + timedelta(seconds=lead)).replace(microsecond=0)
        snapshot = engine.snapshot_policy(policy=policy, at=due)
        track = engine.Track("main", policy, snapshot)
        for incident in incidents:
            with transaction.atomic():
                engine.escalation_start(incident=incident, tracks=[track], at=due)
        scheduled = time.monotonic() - started - declared
        if timezone.now() >= due - timedelta(seconds=1):
            sys.exit(f"creation ran past the due time; raise lead_seconds (now {lead})")
        print(f"declared {count} incidents in {declared:.1f}s, scheduled their tracks in "
              f"{scheduled:.1f}s; all due at {due:%H:%M:%S} UTC "
              f"({(due - timezone.now()).total_seconds():.1f}s ahead)")  # fmt: skip

        ids = [i.pk for i in incidents]
        rows = Notification.objects.filter(subject_type="incident", subject_id__in=ids)
        deadline = time.monotonic() + (due - timezone.now()).total_seconds() + 180
        seen: dict[int, float] = {}  # subject id → seconds after due it was first visible
        while len(seen) < count and time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                sys.exit("a worker or beat process died; see var/bench-escalation-*.log")
            polled = (timezone.now() - due).total_seconds()
            for subject_id in rows.values_list("subject_id", flat=True):
                if subject_id is not None and subject_id not in seen:
                    seen[subject_id] = polled
            time.sleep(0.1)
        time.sleep(sweep + 2)  # late duplicates (a sweep racing a task) would show by now

        created = list(rows.values_list("subject_id", "idempotency_key", "created_at"))
        per_incident = Counter(subject_id for subject_id, _, _ in created)
        lost = [pk for pk in ids if per_incident[pk] == 0]
        duplicated = sum(n - 1 for n in per_incident.values() if n > 1)
        pages_logged = TimelineEvent.objects.filter(
            incident_id__in=ids, kind=TimelineKind.PAGED
        ).count()
        first_row: dict[int, float] = {}
        for subject_id, _, at in created:
            assert subject_id is not None
            late = (at - due).total_seconds()
            first_row[subject_id] = min(late, first_row.get(subject_id, late))
        lateness = sorted(first_row.values())
        active = EscalationState.objects.filter(incident_id__in=ids, status="active").count()

        print()
        print(f"escalations due in the same second: {count}")
        print(f"worker: 1 process, {pool} pool, concurrency {concurrency}, every queue; "
              f"{escalation_workers} more on the escalation queue only; "
              f"beat sweeping every {sweep}s")  # fmt: skip
        if lateness:
            print(f"lateness due → outbox row: p50 {statistics.median(lateness) * 1000:.0f} ms, "
                  f"p99 {percentile(lateness, 0.99) * 1000:.0f} ms, "
                  f"max {lateness[-1] * 1000:.0f} ms, "
                  f"min {lateness[0] * 1000:.0f} ms")  # fmt: skip
        visible = sorted(seen.values())
        if visible:
            print(f"lateness due → row visible (committed; polled every 0.1 s): "
                  f"p50 {statistics.median(visible) * 1000:.0f} ms, "
                  f"p99 {percentile(visible, 0.99) * 1000:.0f} ms, "
                  f"max {visible[-1] * 1000:.0f} ms")  # fmt: skip
        print(f"pages: {len(created)} outbox rows, {pages_logged} timeline pages; "
              f"lost {len(lost)}, duplicated {duplicated}; tracks still active {active}")  # fmt: skip
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        connection.close()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        count=int(args[0]) if len(args) > 0 else 2000,
        pool=args[1] if len(args) > 1 else "threads",
        concurrency=int(args[2]) if len(args) > 2 else 8,
        lead=int(args[3]) if len(args) > 3 else 45,
        escalation_workers=int(args[4]) if len(args) > 4 else 0,
    )
