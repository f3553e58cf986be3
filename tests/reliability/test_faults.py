"""Faults under real processes (issue 5 item 10): a killed worker, a flushed broker, a database
that drops every connection, and a database server that restarts. Each test declares incidents through the services, lets real
`celery worker` / `celery beat` processes run the engine, and then counts outbox rows by
idempotency key: every page due must exist exactly once, within a bounded time.

Every incident escalates on the same two-step policy (first responder now, second responder
after a short wait), so the keys each incident must page under are known in advance.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import datetime

import pytest
from django.db import connection
from django.utils import timezone

from incidents.engine import escalation_step_run
from incidents.models import EscalationState, EscalationStatus, Incident
from tests.conftest import service_missing
from tests.reliability.conftest import (
    SWEEP_SECONDS,
    Cluster,
    PagingTeam,
    assert_paged_exactly_once,
    page_count,
    wait_until,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def all_done(incidents: list[Incident]) -> bool:
    return not EscalationState.objects.filter(
        incident__in=incidents, status=EscalationStatus.ACTIVE
    ).exists()


def test_sigkill_of_the_worker_while_200_escalations_are_due_loses_and_repeats_no_page(
    cluster: Cluster, paging_team_factory: Callable[[float], PagingTeam]
) -> None:
    """200 incidents are due at once (step 1 now, step 2 two seconds later). A prefork worker
    (2 processes, like Procfile.dev) starts on them and is SIGKILLed, with its pool, once some
    but not all pages exist: the step tasks it had reserved (running, waiting for their ETA)
    die with it and, with acks_late, stay unacknowledged in Redis for the visibility timeout.
    A new worker and beat's sweeper (every second) must send every page exactly once."""
    team = paging_team_factory(2)
    incidents = team.declare(200, "Kill")
    total = 2 * len(incidents)
    cluster.start_beat()
    doomed = cluster.start_worker("doomed", pool="prefork", concurrency=2)
    wait_until(
        lambda: page_count(incidents) >= total // 8,
        timeout=60,
        what="the first worker to send some pages",
        detail=cluster.logs,
        interval=0.02,
    )
    cluster.kill(doomed)
    at_kill = page_count(incidents)
    assert at_kill < total, "the worker sent every page before it could be killed"

    cluster.start_worker("survivor", pool="prefork", concurrency=2)
    took = wait_until(
        lambda: page_count(incidents) >= total and all_done(incidents),
        timeout=90,
        what=f"every page after the kill ({at_kill} of {total} existed then)",
        detail=lambda: f"{page_count(incidents)} pages\n{cluster.logs()}",
    )
    time.sleep(2 * SWEEP_SECONDS + 1)  # more sweeps and redeliveries: nothing may be added
    assert_paged_exactly_once(team, incidents)
    print(f"killed at {at_kill}/{total} pages; the rest arrived {took:.1f}s after the restart")


def test_flushed_broker_the_sweeper_sends_every_waiting_page_within_one_sweep(
    cluster: Cluster, paging_team_factory: Callable[[float], PagingTeam]
) -> None:
    """50 incidents have run step 1 (here, as the step task does: the engine's own function
    with the task's token), so step 2 waits in Redis as 50 ETA tasks due in 10 s. FLUSHDB on
    the broker's db (the equivalent of FLUSHALL or a Redis restart without persistence, kept
    to REDIS_URL's db so nothing else on the server is touched) drops them before any worker
    has reserved them. Beat (sweeping every second) and a worker then start: every second
    page must appear within one sweep interval (+ slack) of its due time, and none early."""
    team = paging_team_factory(10)
    cluster.start_beat()  # its sweep tasks until the worker starts are flushed too
    incidents = team.declare(50, "Flush")
    for state in EscalationState.objects.filter(incident__in=incidents):
        assert escalation_step_run(state_id=state.pk, token=state.guard_token) == "ran"
    assert page_count(incidents) == 50
    due = max(
        state.next_action_at
        for state in EscalationState.objects.filter(incident__in=incidents)
        if state.next_action_at is not None
    )
    broker = cluster.redis()
    # 50 step-1 tasks from the declarations (stale now), 50 step-2 ETA tasks, beat's sweeps.
    assert broker.llen("escalation") >= 100
    broker.flushdb()
    assert broker.dbsize() == 0

    cluster.start_worker("worker", pool="threads", concurrency=4)
    assert timezone.now() < due, "the worker took longer to start than the wait; raise it"
    slack = 5.0
    wait_until(
        lambda: page_count(incidents) >= 100,
        timeout=(due - timezone.now()).total_seconds() + SWEEP_SECONDS + slack,
        what="the sweeper to send the pages whose ETA tasks were flushed",
        detail=lambda: f"{page_count(incidents)} pages\n{cluster.logs()}",
    )
    wait_until(lambda: all_done(incidents), timeout=10, what="every track to finish")
    time.sleep(2 * SWEEP_SECONDS)
    assert_paged_exactly_once(team, incidents)


def terminate_other_backends() -> int:
    """What a PostgreSQL restart does to every client: its connections die under it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_worker_reconnects_after_postgresql_drops_its_connections(
    cluster: Cluster, paging_team_factory: Callable[[float], PagingTeam], pool: str
) -> None:
    """A database restart under the worker, without restarting the shared server: every other
    backend of the test database is terminated with pg_terminate_backend, which is what a
    restart does to each client and exercises the same reconnect path (the Celery Django fixup
    drops the dead connection around each task, CONN_HEALTH_CHECKS checks a reused one, the
    next query opens a new one). Celery closes its connections after every task, so the worker
    only holds one while a step runs: the backends are terminated every few milliseconds for
    three seconds while 60 incidents run their steps, cutting transactions in the middle (the
    task fails, the row lock and the half-written pages roll back, the sweeper runs the step
    again). Then more incidents are declared: the same worker process carries on, and every
    page of both batches arrives exactly once."""
    team = paging_team_factory(2)
    cluster.start_beat()
    worker = cluster.start_worker("worker", pool=pool, concurrency=2)
    before = team.declare(60, "Before")
    killed = 0
    chaos_until = time.monotonic() + 3  # covers the second steps, due 2 s after the first
    while time.monotonic() < chaos_until:
        killed += terminate_other_backends()
        time.sleep(0.02)
    assert killed >= 1, "no worker connection was open to kill; the fault never happened"
    connection.close()  # ours was spared, but start clean like everyone else

    after = team.declare(20, "After")
    everyone = before + after
    wait_until(
        lambda: page_count(everyone) >= 2 * len(everyone) and all_done(everyone),
        timeout=60,
        what="the pages after the database dropped its connections",
        detail=lambda: f"{page_count(everyone)} pages\n{cluster.logs()}",
    )
    time.sleep(2 * SWEEP_SECONDS)
    assert worker.alive(), f"the worker died instead of reconnecting:\n{worker.log()}"
    assert_paged_exactly_once(team, everyone)
    cut = worker.log().count("terminating connection due to administrator command")
    print(f"{pool}: {killed} backends terminated; {cut} worker errors from cut connections")


def server_start_time() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        row = cursor.fetchone()
    assert row is not None
    started: datetime = row[0]
    return started


def restart_postgresql() -> None:
    """Restart the server itself (this machine's command; CI runs on the same kind)."""
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None:
        service_missing("restarting PostgreSQL needs root and pg_ctlcluster")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=60,
    )


def test_worker_carries_on_after_postgresql_restarts(
    cluster: Cluster, paging_team_factory: Callable[[float], PagingTeam]
) -> None:
    """The server really restarts while escalations are due: for a moment every connection
    dies and new ones are refused. Steps that fail then roll back and are run again by the
    sweeper; the same worker process reconnects and every page arrives exactly once."""
    team = paging_team_factory(2)
    cluster.start_beat()
    worker = cluster.start_worker("worker", pool="prefork", concurrency=2)
    before = team.declare(40, "Before")
    started = server_start_time()
    connection.close()  # the test's own connection is about to die too
    restart_postgresql()
    connection.close()
    assert server_start_time() > started, "PostgreSQL did not restart"

    after = team.declare(20, "After")
    everyone = before + after
    wait_until(
        lambda: page_count(everyone) >= 2 * len(everyone) and all_done(everyone),
        timeout=90,
        what="the pages after PostgreSQL restarted",
        detail=lambda: f"{page_count(everyone)} pages\n{cluster.logs()}",
    )
    time.sleep(2 * SWEEP_SECONDS)
    assert worker.alive(), f"the worker died instead of reconnecting:\n{worker.log()}"
    assert_paged_exactly_once(team, everyone)
