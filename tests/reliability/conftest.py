"""Fault-test fixtures: real worker and beat processes you can SIGKILL and restart.

`cluster` starts `celery -A oncall worker` / `celery -A oncall beat` subprocesses on the
Redis db of REDIS_URL, sharing the PostgreSQL test database. Each process leads its own
process group, so `kill()` takes a prefork pool down with its children, as a crashed host
would. `paging_team` is a team whose two-step policy (first responder, then second after a
short wait) lets a test predict every idempotency key the engine must write.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from django.db import connection

from incidents.models import Incident, Severity, TimelineEvent, TimelineKind
from incidents.services import incident_declare
from notifications.models import Notification
from oncall.celery import app as celery_app
from oncall.models import User
from rotations.models import EscalationPolicy, StepAction, Team
from tests.conftest import ROOT, service_missing
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, TeamFactory, UserFactory
from tests.support import use_broker

# Beat sweeps this often in these tests (production default: 5 s).
SWEEP_SECONDS = 1


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    detail: Callable[[], str] = lambda: "",
    interval: float = 0.1,
) -> float:
    """Poll `condition` until it holds; fail after `timeout` seconds. Returns seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{detail()}")
        time.sleep(interval)
    return time.monotonic() - started


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Cluster:
    """Worker and beat processes of one test; every one is stopped at teardown."""

    env: dict[str, str]
    tmp_path: Path
    redis_url: str
    procs: list[Proc] = field(default_factory=list)

    def _start(self, name: str, args: list[str], ready: str, timeout: float = 40) -> Proc:
        log_path = self.tmp_path / f"{name}.log"
        with log_path.open("w") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "oncall", *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the children
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        wait_until(
            lambda: ready in proc.log() or not proc.alive(),
            timeout=timeout,
            what=f"{name} to start",
            detail=proc.log,
        )
        if not proc.alive():
            pytest.fail(f"{name} exited at start:\n{proc.log()}")
        return proc

    def start_worker(self, name: str, *, pool: str = "prefork", concurrency: int = 2) -> Proc:
        return self._start(
            name,
            [
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            ready="ready.",
        )

    def start_beat(self) -> Proc:
        return self._start(
            "beat",
            ["beat", "--loglevel", "INFO", "--schedule", str(self.tmp_path / "beat-schedule")],
            ready="beat: Starting",
        )

    def kill(self, proc: Proc) -> None:
        """SIGKILL the process and every child (a prefork pool dies with its parent)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.log()[-6000:]}" for p in self.procs)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


@pytest.fixture
def cluster(transactional_db: None, redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Start no process yet; the test starts (and kills) workers and beat as it needs."""
    if connection.vendor != "postgresql":
        service_missing("a real worker needs PostgreSQL (DATABASE_URL)")
    redis.Redis.from_url(redis_url).flushdb()  # only REDIS_URL's db, never FLUSHALL
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oncall.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "TEST_CELERY_BROKER_URL": redis_url,
        "ESCALATION_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "VAR_DIR": str(tmp_path),
        "NOTIFY_CONSOLE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    previous = celery_app.conf.broker_url
    use_broker(redis_url)
    running = Cluster(env=env, tmp_path=tmp_path, redis_url=redis_url)
    try:
        yield running
    finally:
        for proc in running.procs:  # the test is over: no need to wait for warm shutdowns
            running.kill(proc)
        use_broker(previous)
        connection.close()


# --- a team whose pages a test can predict -----------------------------------------------------


@dataclass
class PagingTeam:
    team: Team
    policy: EscalationPolicy
    first: User
    second: User
    wait: timedelta

    def declare(self, count: int, label: str) -> list[Incident]:
        """Declare incidents through the service: states, timeline and step tasks on commit."""
        return [
            incident_declare(
                title=f"{label} {i}",
                actor=None,
                severity=Severity.SEV3,
                team=self.team,
                escalation_policy=self.policy,
            )
            for i in range(count)
        ]

    def expected_keys(self, incidents: list[Incident]) -> set[str]:
        """Every outbox key the two steps must write: one account-email page per step."""
        return {
            f"inc{incident.pk}:main:r0:s{step}:w0:u{user.pk}:email:account"
            for incident in incidents
            for step, user in ((0, self.first), (1, self.second))
        }


@pytest.fixture
def paging_team_factory(transactional_db: None) -> Callable[[float], PagingTeam]:
    def make(wait_seconds: float) -> PagingTeam:
        first = UserFactory.create(username="first")
        second = UserFactory.create(username="second")
        team = TeamFactory.create(slug="reliability", name="Reliability")
        policy = EscalationPolicyFactory.create(team=team, name="Two steps")
        wait = timedelta(seconds=wait_seconds)
        for position, user in enumerate((first, second)):
            EscalationStepFactory.create(
                policy=policy, position=position, action=StepAction.USERS, wait=wait, users=[user]
            )
        return PagingTeam(team, policy, first, second, wait)

    return make


def page_keys(incidents: list[Incident]) -> list[str]:
    """Every outbox key written for these incidents (a duplicate would show twice)."""
    return list(
        Notification.objects.filter(
            subject_type="incident", subject_id__in=[i.pk for i in incidents]
        ).values_list("idempotency_key", flat=True)
    )


def page_count(incidents: list[Incident]) -> int:
    return Notification.objects.filter(
        subject_type="incident", subject_id__in=[i.pk for i in incidents]
    ).count()


def assert_paged_exactly_once(team: PagingTeam, incidents: list[Incident]) -> None:
    """Each incident: exactly one page per step (by key prefix), none missing, none extra, and
    exactly one PAGED timeline entry per step (a step run twice would write two)."""
    keys = page_keys(incidents)
    expected = team.expected_keys(incidents)
    per_step = Counter(key.split(":w")[0] for key in keys)  # inc<id>:main:r<n>:s<n>
    duplicated = {prefix: n for prefix, n in per_step.items() if n > 1}
    missing = expected - set(keys)
    unexpected = set(keys) - expected
    assert not duplicated, f"{len(duplicated)} steps paged more than once: {duplicated}"
    assert not missing, f"{len(missing)} pages lost: {sorted(missing)[:20]}"
    assert not unexpected, f"{len(unexpected)} unexpected pages: {sorted(unexpected)[:20]}"
    assert len(keys) == len(expected) == 2 * len(incidents)
    paged = Counter(
        (event.incident_id, event.data["step"])
        for event in TimelineEvent.objects.filter(
            incident__in=incidents, kind=TimelineKind.PAGED
        ).only("incident_id", "data")
    )
    assert sorted(set(paged.values())) == [1], {k: n for k, n in paged.items() if n != 1}
    assert len(paged) == 2 * len(incidents)
    # Never early: the second page waited the policy's full wait after the first.
    at: dict[tuple[int, int], datetime] = {
        (event.incident_id, event.data["step"]): event.at
        for event in TimelineEvent.objects.filter(incident__in=incidents, kind=TimelineKind.PAGED)
    }
    early = [i.pk for i in incidents if at[(i.pk, 2)] - at[(i.pk, 1)] < team.wait]
    assert not early, f"second step ran before its wait on incidents {early}"
