"""Rate limits per integration key: 429 with Retry-After, refused events counted."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.test import Client, override_settings
from pytest_django.fixtures import Settings

from incidents.models import Incident
from integrations.models import IngestWindow, Integration
from integrations.ratelimit import REDIS_PREFIX, ingest_rate_take
from tests.factories import IntegrationFactory
from tests.integrations.support import am_message, post_json, trigger

T0 = datetime(2026, 1, 13, 15, 0, 40, tzinfo=UTC)


@time_machine.travel(T0, tick=False)
def test_over_the_limit_is_429_with_retry_after_and_counted(client: Client, db: None) -> None:
    integration = IntegrationFactory.create(rate_limit_per_minute=2)
    key = integration.key  # type: ignore[attr-defined]
    statuses = [post_json(client, "/v2/enqueue", trigger(key, "k")).status_code for _ in range(2)]

    refused = post_json(client, "/v2/enqueue", trigger(key, "k"))

    assert statuses == [202, 202]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "20"  # the minute ends 20 s after T0
    body = refused.json()
    assert body["status"] == "throttle event"
    assert body["message"]
    assert body["errors"]
    integration.refresh_from_db()
    assert integration.refused_events == 1
    assert Incident.objects.get().alerts.count() == 2


def test_the_next_minute_accepts_again(db: None) -> None:
    integration = IntegrationFactory.create(rate_limit_per_minute=1)
    with time_machine.travel(T0, tick=False):
        assert ingest_rate_take(integration=integration).allowed
        assert not ingest_rate_take(integration=integration).allowed
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert ingest_rate_take(integration=integration).allowed


@override_settings(INGEST_RATE_LIMIT_PER_MINUTE=1)
def test_the_setting_is_the_default_and_alertmanager_is_limited_too(
    client: Client, db: None
) -> None:
    integration = IntegrationFactory.create(alertmanager=True)
    path = f"/integrations/alertmanager/{integration.key}/"  # type: ignore[attr-defined]
    with time_machine.travel(T0, tick=False):
        assert post_json(client, path, am_message()).status_code == 200
        refused = post_json(client, path, am_message())
    assert refused.status_code == 429
    assert refused["Retry-After"] == "20"
    assert refused.json()["error"]["code"] == "throttled"
    integration.refresh_from_db()
    assert integration.refused_events == 1


def test_limits_are_per_integration(db: None) -> None:
    first, second = IntegrationFactory.create_batch(2, rate_limit_per_minute=1)
    with time_machine.travel(T0, tick=False):
        assert ingest_rate_take(integration=first).allowed
        assert ingest_rate_take(integration=second).allowed
        assert not ingest_rate_take(integration=first).allowed
    assert Integration.objects.get(pk=second.pk).refused_events == 0


def _three_takes(integration: Integration) -> list[bool]:
    with time_machine.travel(T0, tick=False):
        return [ingest_rate_take(integration=integration).allowed for _ in range(3)]


def test_the_database_counts_when_no_redis_is_set(db: None, settings: Settings) -> None:
    settings.INGEST_REDIS_URL = ""
    integration = IntegrationFactory.create(rate_limit_per_minute=2)

    assert _three_takes(integration) == [True, True, False]
    assert IngestWindow.objects.get(integration=integration).count == 2


@pytest.mark.redis
def test_redis_counts_instead_of_the_database(db: None, settings: Settings, redis_url: str) -> None:
    settings.INGEST_REDIS_URL = redis_url
    integration = IntegrationFactory.create(rate_limit_per_minute=2)

    assert _three_takes(integration) == [True, True, False]
    assert not IngestWindow.objects.exists()
    integration.refresh_from_db()
    assert integration.refused_events == 1
    name = f"{REDIS_PREFIX}{integration.key_digest[:24]}:{int(T0.replace(second=0).timestamp())}"
    client = redis.Redis.from_url(redis_url)
    assert int(client.get(name) or 0) == 3
    assert 0 < client.ttl(name) <= 120
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):  # the next minute
        assert ingest_rate_take(integration=integration).allowed


def test_redis_not_answering_falls_back_to_the_database(db: None, settings: Settings) -> None:
    settings.INGEST_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens
    integration = IntegrationFactory.create(rate_limit_per_minute=2)

    assert _three_takes(integration) == [True, True, False]
    assert IngestWindow.objects.get(integration=integration).count == 2


@pytest.mark.parametrize(
    "failure",
    [OSError(9, "Bad file descriptor"), ValueError("I/O operation on closed file.")],
)
def test_a_redis_client_failing_below_its_errors_falls_back_to_the_database(
    db: None,
    settings: Settings,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    """Seen with fifty simultaneous events: redis-py's reader raised these, not a RedisError,
    and the event got a 500 instead of being counted in the database."""
    settings.INGEST_REDIS_URL = redis_url

    def broken(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)
    integration = IntegrationFactory.create(rate_limit_per_minute=2)
    assert _three_takes(integration) == [True, True, False]
    assert IngestWindow.objects.get(integration=integration).count == 2
