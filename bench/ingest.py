"""Events per second and p99 through POST /v2/enqueue, against a one-row-insert baseline.

Runs gunicorn on 127.0.0.1 against PostgreSQL and drives it with 8 client threads (a mix
of new and repeated dedup keys), then the same load against a baseline view that only
inserts one row; prints both and their ratio (what a monitoring client experiences):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_bench_ingest \\
    REDIS_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python bench/ingest.py [requests] [clients] [workers] [during|after]

The two targets alternate in four rounds each, so that a drift of the machine's speed hits
both alike. /v2/enqueue stores each accepted event and wakes a drain (one Redis SET NX per
event, one task per burst); a `celery worker -Q ingest` started here folds them into
incidents for a team with a rotation and a policy, so each new incident is paged as in
production. `during` (the default): the worker is up and warm before anything is measured,
folds while /v2/enqueue is loaded (sharing the machine with gunicorn, as on one host) and
has caught up before each baseline round. `after`: the worker starts when the load ends.
The bench prints how long the fold took after the load ended, then checks that nothing was
lost: one incident per distinct dedup key and alert counts adding up to the events
accepted. The Redis database given is flushed. Use a database of its own: the drain folds
every pending event in id order, other runs' leftovers first.

The database is created and migrated if needed. This module is also the server's settings
and URLconf (DJANGO_SETTINGS_MODULE=bench.ingest): the baseline view lives only here, and its
table is made by raw SQL, so the app carries nothing for the benchmark.
"""

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/oncall_bench_ingest"
BASELINE_TABLE = "bench_ingest_baseline"
TIME_LIMIT = 120.0  # seconds per target, whatever the request count
FOLD_QUEUE = "ingest"  # CELERY_TASK_ROUTES["incidents.ingest_drain"]
FOLD_LIMIT = 600.0  # seconds the bench waits for the worker to fold the backlog
ROUNDS = 4  # `after`: baseline and /v2/enqueue alternate in this many rounds each
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if os.environ.get("DJANGO_SETTINGS_MODULE") == "bench.ingest":
    # --- Server side: settings (the app's, plus the baseline URL) -------------------------
    from oncall.settings.base import *  # noqa: F403

    SECRET_KEY = "bench-ingest-not-secret"
    DEBUG = False
    ROOT_URLCONF = "bench.ingest"
    CELERY_BROKER_URL = os.environ.get("REDIS_URL") or "memory://"
    INGEST_INLINE = False
    LOGGING = {"version": 1, "disable_existing_loggers": False}


def _baseline_view(request: Any) -> Any:
    from django.db import connection
    from django.http import JsonResponse

    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BASELINE_TABLE} (routing_key, dedup_key, body) VALUES (%s, %s, %s)",
            [data.get("routing_key", ""), data.get("dedup_key", ""), request.body.decode()],
        )
    return JsonResponse({"status": "success", "message": "Event processed"}, status=202)


def __getattr__(name: str) -> Any:
    """`urlpatterns` and `application`, built lazily (settings import before apps load)."""
    if name == "urlpatterns":
        from django.contrib.auth.decorators import login_not_required
        from django.urls import include, path
        from django.views.decorators.csrf import csrf_exempt
        from django.views.decorators.http import require_POST

        view = login_not_required(csrf_exempt(require_POST(_baseline_view)))
        return [path("bench/baseline", view), path("", include("oncall.urls"))]
    if name == "application":
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    raise AttributeError(name)


# --- Driver ---------------------------------------------------------------------------------


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.ingest",
        "PYTHONPATH": str(ROOT),
    }


def prepare(database_url: str) -> str:
    """Create and migrate the database, make the baseline table and an integration."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env=_env(database_url),
        check=True,
    )
    os.environ.update(_env(database_url))
    import django

    django.setup()
    from django.db import connection

    from integrations.services import integration_create

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id bigserial PRIMARY KEY, "
            "routing_key text, dedup_key text, body text, "
            "received_at timestamptz NOT NULL DEFAULT now())"
        )
    team, policy = bench_team()
    run = f"bench-{int(time.time())}"
    _, key = integration_create(
        team=team,
        name=run,
        type="events_v2",
        actor=None,
        rate_limit_per_minute=10_000_000,
        escalation_policy=policy,
    )
    return key


def bench_team() -> tuple[Any, Any]:
    """A team as the handbooks shape one, so each new incident is paged as in production:
    a weekly veteran list of three and a policy (its on-call, then the walk of the list)."""
    from oncall.models import User
    from rotations.models import EscalationPolicy, Rotation, StepAction, Team, Tier
    from rotations.services import escalation_policy_write, rotation_write, team_write

    team = Team.objects.filter(slug="bench").first()
    policy = EscalationPolicy.objects.filter(team__slug="bench", name="Bench policy").first()
    if team is not None and policy is not None:
        return team, policy
    people = [
        User.objects.get_or_create(username=f"bench-{n}", email=f"bench-{n}@example.com")[0]
        for n in range(3)
    ]
    contact = people[0].pk
    team = team_write(
        team=team or Team(), data={"slug": "bench", "name": "Bench", "escalation_contact": contact}
    )
    rotation = rotation_write(
        rotation=Rotation(team=team),
        data={"name": "Veterans", "tier": Tier.VETERAN, "members": [p.pk for p in people]},
    )
    policy = escalation_policy_write(
        policy=EscalationPolicy(team=team),
        data={
            "name": "Bench policy",
            "steps": [
                {"action": StepAction.ROTATION_ONCALL, "rotation": rotation.pk},
                {"action": StepAction.WALK_ROTATION, "rotation": rotation.pk},
            ],
        },
    )
    return team, policy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.ingest:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=_env(database_url),
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/healthz", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def events(key: str, count: int, seed: int) -> list[dict[str, Any]]:
    """Half new dedup keys, half repeats of 20 hot keys (alerts that keep firing)."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        dedup = f"hot-{rng.randrange(20)}" if rng.random() < 0.5 else f"new-{seed}-{n}"
        out.append(
            {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": dedup,
                "payload": {
                    "summary": f"Disk almost full on db-{n % 7}",
                    "source": f"db-{n % 7}",
                    "severity": rng.choice(["critical", "error", "warning", "info"]),
                    "component": "postgres",
                    "custom_details": {"free_bytes": rng.randrange(10**9)},
                },
            }
        )
    return out


def load(
    url: str, bodies: list[dict[str, Any]], clients: int, accepted: list[str] | None = None
) -> dict[str, Any]:
    """Post the bodies from `clients` threads; `accepted` collects the 202s' dedup keys."""
    import httpx

    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    deadline = time.monotonic() + TIME_LIMIT

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < deadline:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                started = time.perf_counter()
                response = http.post(url, json=bodies[index])
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 202:
                        failures.append(response.status_code)
                    elif accepted is not None:
                        accepted.append(response.json()["dedup_key"])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return figures(latencies, wall, len(failures))


def figures(latencies: list[float], wall: float, failed: int) -> dict[str, Any]:
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "failed": failed,
        "eps": len(latencies) / wall,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "latencies": latencies,
        "wall": wall,
    }


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one target as one figure: all requests over all their wall time."""
    latencies = [x for part in parts for x in part["latencies"]]
    failed = sum(int(part["failed"]) for part in parts)
    return figures(latencies, sum(part["wall"] for part in parts), failed)


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    """A `celery worker -Q ingest` (prefork, one process per CPU) on the bench's Redis."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "oncall",
                "worker",
                "-Q",
                FOLD_QUEUE,
                "--concurrency",
                str(os.cpu_count() or 2),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=_env(database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc


def pending_events(integration_key: str) -> int:
    from integrations.models import InboundEvent
    from oncall.keys import key_digest

    return InboundEvent.objects.filter(
        integration__key_digest=key_digest(integration_key), processed_at__isnull=True
    ).count()


def wait_folded(integration_key: str, log: Path) -> float:
    """Seconds until every accepted event of the run is folded (or the bench gives up)."""
    started = time.perf_counter()
    while (left := pending_events(integration_key)) > 0:
        if time.perf_counter() - started > FOLD_LIMIT:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{left} events still unfolded after {FOLD_LIMIT:.0f} s:\n{tail}")
        time.sleep(0.1)
    return time.perf_counter() - started


def verify(integration_key: str, accepted: list[str]) -> str:
    """One incident per distinct dedup key, alert counts adding up, nothing failed."""
    from django.db.models import Sum

    from incidents.models import Incident
    from integrations.models import AlertGroup, InboundEvent
    from oncall.keys import key_digest

    groups = AlertGroup.objects.filter(integration__key_digest=key_digest(integration_key))
    incidents = Incident.objects.filter(alert_group__in=groups).count()
    alerts = groups.aggregate(total=Sum("alert_count"))["total"] or 0
    failed = InboundEvent.objects.filter(
        integration__key_digest=key_digest(integration_key), failed_at__isnull=False
    ).count()
    keys = len(set(accepted))
    problems = []
    if incidents != keys:
        problems.append(f"{incidents} incidents for {keys} distinct dedup keys")
    if alerts != len(accepted):
        problems.append(f"alert counts add up to {alerts}, {len(accepted)} events accepted")
    if failed:
        problems.append(f"{failed} events failed")
    verdict = "; ".join(problems) or "OK"
    return (
        f"check: {len(accepted)} events accepted, {keys} distinct keys → {incidents} incidents, "
        f"{alerts} alerts counted: {verdict}"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    mode = sys.argv[4] if len(sys.argv) > 4 else "during"
    if mode not in ("during", "after"):
        raise SystemExit("the fourth argument is `during` or `after`")
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    if not database_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url.startswith("redis"):
        raise SystemExit("REDIS_URL must point at Redis (the fold tasks' broker)")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    key = prepare(database_url)
    log = Path(tempfile.mkdtemp(prefix="bench-ingest-")) / "worker.log"
    proc, base = start_server(database_url, workers)
    worker: subprocess.Popen[bytes] | None = None
    accepted: list[str] = []
    try:
        seed = int(time.time())
        if mode == "during":  # running, and warm, before anything is measured
            worker = start_worker(database_url, log)
        load(base + "/bench/baseline", events(key, 200, seed), clients)  # warm up both
        load(base + "/v2/enqueue", events(key, 200, seed + 1), clients, accepted)
        # Alternate rounds, so a drift of the machine's speed hits both alike. `during`: the
        # worker folds while /v2/enqueue is loaded, and has caught up (idle) before each
        # baseline round, so the baseline never shares the machine with a backlog.
        rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "enqueue": []}
        for n in range(ROUNDS):
            if worker is not None:
                wait_folded(key, log)
            part = events(key, count // ROUNDS, seed + 10 + n)
            rounds["baseline"].append(load(base + "/bench/baseline", part, clients))
            part = events(key, count // ROUNDS, seed + 100 + n)
            rounds["enqueue"].append(load(base + "/v2/enqueue", part, clients, accepted))
        baseline, enqueue = merged(rounds["baseline"]), merged(rounds["enqueue"])
        left = pending_events(key)
        if worker is None:
            worker = start_worker(database_url, log)
        fold = wait_folded(key, log)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    print(f"gunicorn workers={workers}, clients={clients}, requests={count} per target")
    for name, figures in (("baseline insert", baseline), ("/v2/enqueue", enqueue)):
        print(
            f"{name:16} {figures['eps']:8.1f} events/s  p50 {figures['p50_ms']:6.1f} ms  "
            f"p99 {figures['p99_ms']:6.1f} ms  ({figures['requests']:.0f} sent, "
            f"{figures['failed']:.0f} not 202)"
        )
    print(f"ratio enqueue/baseline: {enqueue['eps'] / baseline['eps']:.2f}")
    started = "ran during the load" if mode == "during" else "started when the load ended"
    rate = f" ({left / fold:.0f} events/s)" if left and fold else ""
    print(
        f"fold (worker -Q {FOLD_QUEUE}, {os.cpu_count()} processes, {started}): "
        f"{left} events unfolded when the load ended, all folded {fold:.1f} s later{rate}"
    )
    print(verify(key, accepted))


if __name__ == "__main__":
    main()
