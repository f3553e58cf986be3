"""The portal's Prometheus counters and histograms, defined once so every app can count.

A core module (it imports no app): delivery (notifications), the engine (incidents) and the
ingest doors (integrations) call the `record_*` functions where the event happens. The
gauges that need queries (open incidents, pending outbox, uncovered hours…) are not here:
`monitoring` computes them in a beat task and serves them from the cache.

Multiprocess: with PROMETHEUS_MULTIPROC_DIR set (gunicorn workers, Celery's prefork
children, `make run`), prometheus_client keeps each process's values in files there and the
`/metrics` view sums them. The folder is created here when missing; if it cannot be, the
process falls back to counting in memory (logged) rather than failing a page. Recording
never raises: a metric is never worth a lost page.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The multiprocess folder, created if missing; None when unset or unusable."""
    value = os.environ.get(MULTIPROC_ENV, "")
    if not value:
        return None
    path = Path(value)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.warning(
            "%s=%s cannot be created (%s); metrics stay per process", MULTIPROC_ENV, value, error
        )
        return None
    return path


# Decided before prometheus_client is imported: its value class is chosen at import time.
if os.environ.get(MULTIPROC_ENV) and multiprocess_dir() is None:
    del os.environ[MULTIPROC_ENV]

from prometheus_client import Counter, Histogram  # noqa: E402

# Seconds late: most should be under a second; the tail shows a stuck queue.
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

NOTIFICATIONS = Counter(
    "oncall_notifications",
    "Outbox rows that reached a final status (sent, failed, cancelled), by channel.",
    ["channel", "status"],
)
NOTIFICATION_LATENESS = Histogram(
    "oncall_notification_lateness_seconds",
    "From when a notification was due to when it was sent.",
    buckets=LATENESS_BUCKETS,
)
ESCALATION_LATENESS = Histogram(
    "oncall_escalation_lateness_seconds",
    "From when an escalation step was due to when its pages were written.",
    buckets=LATENESS_BUCKETS,
)
INBOUND_EVENTS = Counter(
    "oncall_inbound_events",
    "Monitoring events at the ingest doors: accepted, refused, rate_limited, failed (given up).",
    ["integration", "outcome"],
)
INBOUND_OUTCOMES = ("accepted", "refused", "rate_limited", "failed")


@contextmanager
def _never_raise(what: str) -> Iterator[None]:
    try:
        yield
    except Exception:  # a full disk or a removed folder must not fail the caller
        logger.warning("could not record the %s metric", what, exc_info=True)


def record_notification(
    *, channel: str, status: str, due_at: datetime | None, sent_at: datetime | None
) -> None:
    """A row reached a final status; a sent row also tells how late it went out."""
    with _never_raise("notification"):
        NOTIFICATIONS.labels(channel=channel, status=status).inc()
        if status == "sent" and due_at is not None and sent_at is not None:
            NOTIFICATION_LATENESS.observe(max(0.0, (sent_at - due_at).total_seconds()))


def record_escalation_lateness(*, seconds: list[float]) -> None:
    """Each step run's lateness: written minus due."""
    with _never_raise("escalation lateness"):
        for value in seconds:
            ESCALATION_LATENESS.observe(max(0.0, value))


def record_inbound(*, integration: str, outcome: str) -> None:
    if outcome not in INBOUND_OUTCOMES:
        raise ValueError(f"{outcome!r} is not one of {INBOUND_OUTCOMES}")
    with _never_raise("inbound event"):
        INBOUND_EVENTS.labels(integration=integration, outcome=outcome).inc()


def process_exited(pid: int) -> None:
    """A process sharing the multiprocess folder ended (gunicorn's child_exit, a Celery
    child's shutdown): prometheus_client's bookkeeping, never fatal."""
    folder = multiprocess_dir()
    if folder is None or not pid:
        return
    from prometheus_client import multiprocess

    with _never_raise("process exit"):
        multiprocess.mark_process_dead(pid, str(folder))
