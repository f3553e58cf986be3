"""Shared fixtures: real services (PostgreSQL, Redis, a Celery worker), users by role."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from oncall.celery import app as celery_app
from tests.factories import UserFactory
from tests.support import use_broker

ROOT = Path(__file__).resolve().parent.parent
# CI sets this: a test that would skip for want of a service fails instead.
REQUIRE_SERVICES = os.environ.get("ONCALL_REQUIRE_SERVICES") == "1"


def service_missing(reason: str) -> None:
    message = f"service unavailable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (ONCALL_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url: str = settings.TEST_REDIS_URL
    if not url:
        service_missing("REDIS_URL is not set")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        service_missing(f"Redis at {url} does not answer: {error}")
    return url


@pytest.fixture
def postgres(db: None) -> None:
    """For tests whose behaviour only PostgreSQL has (row locks, SKIP LOCKED, concurrency)."""
    if connection.vendor != "postgresql":
        service_missing("DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """Extra environment for the worker; override in a test module (e.g. TEST_EMAIL_URL)."""
    return {}


@pytest.fixture
def celery_worker(
    transactional_db: None, redis_url: str, tmp_path: Path, celery_worker_env: dict[str, str]
) -> Iterator[Callable[[], str]]:
    """A real `celery worker` process on Redis, sharing the test database.

    Needs PostgreSQL: the worker is another process and must see committed rows.
    Yields a function returning the worker's log so far.
    """
    if connection.vendor != "postgresql":
        service_missing("a real worker needs PostgreSQL (DATABASE_URL)")
    redis.Redis.from_url(redis_url).flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oncall.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "TEST_CELERY_BROKER_URL": redis_url,
        **celery_worker_env,
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "oncall",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    previous = celery_app.conf.broker_url
    use_broker(redis_url)
    try:
        deadline = time.monotonic() + 30
        while "ready." not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield log.read_text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        use_broker(previous)


@pytest.fixture
def make_user(db: None) -> Callable[..., object]:
    return UserFactory.create


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Failure counters (invalid API keys) live in the cache; each test starts at zero. So
    does the weekly review's kept content (`postmortems.review`): its keys are version
    tokens made of row ids, which SQLite hands out again once a test's rows are rolled back
    (PostgreSQL's sequences do not)."""
    from django.core.cache import cache

    from postmortems import review

    cache.clear()
    with review._kept_lock:
        review._kept.clear()
