"""Ingestion under faults, with real worker and beat processes: every accepted event becomes
part of exactly one incident, whatever happens to the broker or the worker after the 202.

Events are posted to /v2/enqueue as a monitoring tool would (stored, then a drain woken
through Redis); the folding runs in `celery worker` processes; beat's `ingest_sweep` runs
every second and picks up events pending past a two-second grace.
"""

from collections import Counter

import pytest
from django.db.models import Sum
from django.test import Client
from pytest_django.fixtures import Settings

from incidents.models import Incident
from integrations.models import AlertGroup, InboundEvent, Integration
from tests.factories import IntegrationFactory
from tests.integrations.support import post_only, trigger
from tests.reliability.conftest import Cluster, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

URL = "/v2/enqueue"
GRACE_SECONDS = 2


@pytest.fixture
def storm(cluster: Cluster, settings: Settings) -> Integration:
    """An Events v2 integration whose doors store and wake (not fold inline), and worker
    and beat processes that sweep every second after a short grace."""
    settings.INGEST_INLINE = False
    settings.INGEST_REDIS_URL = cluster.redis_url
    cluster.env.update(
        INGEST_REDIS_URL=cluster.redis_url,
        INGEST_SWEEP_SECONDS="1",
        INGEST_SWEEP_GRACE_SECONDS=str(GRACE_SECONDS),
    )
    return IntegrationFactory.create(rate_limit_per_minute=100_000)


def post_storm(integration: Integration, count: int, keys: int, label: str) -> Counter[str]:
    """POST `count` triggers over `keys` dedup keys; the accepted events per key."""
    client = Client()
    accepted: Counter[str] = Counter()
    for n in range(count):
        dedup = f"{label}-{n % keys}"
        body = trigger(integration.key, dedup, summary=f"{label} {n}")  # type: ignore[attr-defined]
        response = post_only(client, URL, body)  # the workers fold, not this process
        assert response.status_code == 202, response.content
        accepted[response.json()["dedup_key"]] += 1
    return accepted


def unfolded() -> int:
    return InboundEvent.objects.filter(processed_at__isnull=True).count()


def assert_folded_exactly_once(accepted: Counter[str]) -> None:
    """One incident per key, each key's alert count = its accepted events, each event
    folded once (a fold repeated after a crash would count twice or bump `attempts`)."""
    groups = AlertGroup.objects.filter(dedup_key__in=accepted)
    assert dict(groups.values_list("dedup_key", "alert_count")) == dict(accepted)
    assert Incident.objects.filter(dedup_key__in=accepted).count() == len(accepted)
    assert groups.aggregate(total=Sum("alert_count"))["total"] == sum(accepted.values())
    assert set(InboundEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not InboundEvent.objects.filter(failed_at__isnull=False).exists()


def test_a_flushed_broker_loses_no_event_the_sweeper_folds_them(
    cluster: Cluster, storm: Integration
) -> None:
    """150 events are accepted while no worker runs: their drain task and the wake-up flag
    sit in Redis. FLUSHDB drops both. A worker and beat then start: the sweeper folds every
    event within its grace and interval, and a new storm after that wakes a drain again."""
    accepted = post_storm(storm, 150, 30, "flushed")
    broker = cluster.redis()
    assert broker.llen("ingest") >= 1  # the drain task, waiting
    broker.flushdb()

    cluster.start_beat()
    cluster.start_worker("worker", pool="prefork", concurrency=2)
    wait_until(
        lambda: unfolded() == 0,
        timeout=60,
        what="the sweeper to fold the events whose drain task was flushed",
        detail=lambda: f"{unfolded()} unfolded\n{cluster.logs()}",
    )
    assert_folded_exactly_once(accepted)

    accepted += post_storm(storm, 50, 10, "after")
    wait_until(lambda: unfolded() == 0, timeout=30, what="the next storm", detail=cluster.logs)
    assert_folded_exactly_once(accepted)
    assert "incidents.ingest_drain" in cluster.logs()


def test_sigkill_of_the_worker_mid_storm_folds_every_event_once(
    cluster: Cluster, storm: Integration
) -> None:
    """400 events over 100 keys; a prefork worker starts folding and is SIGKILLed with its
    pool partway through a batch. The batch it held rolls back whole; a new worker and the
    sweeper fold the rest: every event once, in one incident per key."""
    accepted = post_storm(storm, 400, 100, "killed")
    cluster.start_beat()
    doomed = cluster.start_worker("doomed", pool="prefork", concurrency=2)
    wait_until(
        lambda: unfolded() <= 330,
        timeout=60,
        what="the first worker to fold some events",
        detail=cluster.logs,
        interval=0.02,
    )
    cluster.kill(doomed)
    at_kill = unfolded()
    assert at_kill > 0, "the worker folded every event before it could be killed"

    cluster.start_worker("survivor", pool="prefork", concurrency=2)
    wait_until(
        lambda: unfolded() == 0,
        timeout=90,
        what=f"every event after the kill ({at_kill} were unfolded then)",
        detail=lambda: f"{unfolded()} unfolded\n{cluster.logs()}",
    )
    assert_folded_exactly_once(accepted)
