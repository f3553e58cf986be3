"""Per-integration rate limit: a fixed one-minute window counted in the database.

The default cache is per process, so the count lives in `IngestWindow` rows: a conditional
`UPDATE … SET count = count + 1 WHERE count < limit` is atomic on every backend, and the
first event of a minute inserts the row (a racing insert falls back to the update).
Refused events are counted on the integration, never silently dropped.

With INGEST_REDIS_URL (default: REDIS_URL) the count is a Redis INCR + EXPIRE instead (no
hot database row, no commit per event); the key names the window and the integration's key
digest. When Redis does not answer, the database counter decides.
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import IngestWindow, Integration

# Windows older than this are deleted when a new one starts.
KEEP_WINDOWS = timedelta(minutes=10)
REDIS_PREFIX = "ingest:rate:"

logger = logging.getLogger(__name__)
_redis: dict[str, "redis.Redis"] = {}


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    retry_after: int  # seconds until the window ends (for Retry-After)


def _take(integration: Integration, window: datetime, limit: int) -> bool:
    return bool(
        IngestWindow.objects.filter(integration=integration, window=window, count__lt=limit).update(
            count=F("count") + 1
        )
    )


def ingest_redis(url: str) -> "redis.Redis":
    """One client per URL and process, with short timeouts (the ingest doors' Redis)."""
    client = _redis.get(url)
    if client is None:
        client = _redis[url] = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return client


def _redis_take(url: str, integration: Integration, window: datetime, limit: int) -> bool:
    """INCR the window's counter (it expires after the window); allowed while ≤ limit."""
    name = f"{REDIS_PREFIX}{integration.key_digest[:24]}:{int(window.timestamp())}"
    pipe = ingest_redis(url).pipeline(transaction=False)
    pipe.incr(name)
    pipe.expire(name, 120, nx=True)
    count, _ = pipe.execute()
    return int(count) <= limit


def ingest_rate_take(*, integration: Integration, now: datetime | None = None) -> RateDecision:
    """Count one event against the integration's minute, or refuse (and count the refusal)."""
    now = now or timezone.now()
    window = now.replace(second=0, microsecond=0)
    limit = integration.rate_limit
    retry_after = max(1, math.ceil(60 - (now - window).total_seconds()))
    url = settings.INGEST_REDIS_URL
    allowed = None
    if url and limit > 0:
        try:
            allowed = _redis_take(url, integration, window, limit)
        # Under load redis-py can also fail below its own errors (a socket closed while it
        # reads: OSError, ValueError); whatever the client raises, the database decides.
        except (redis.RedisError, OSError, ValueError) as error:
            logger.warning(
                "rate limit: Redis does not answer (%s); counting in the database", error
            )
    if allowed is None:
        allowed = _db_take(integration, window, limit)
    if not allowed:
        Integration.objects.filter(pk=integration.pk).update(refused_events=F("refused_events") + 1)
    return RateDecision(allowed=allowed, limit=limit, retry_after=retry_after)


def _db_take(integration: Integration, window: datetime, limit: int) -> bool:
    allowed = limit > 0 and _take(integration, window, limit)
    if not allowed and limit > 0:
        try:
            with transaction.atomic():
                IngestWindow.objects.create(integration=integration, window=window, count=1)
            allowed = True
            IngestWindow.objects.filter(
                integration=integration, window__lt=window - KEEP_WINDOWS
            ).delete()
        except IntegrityError:  # the row exists: it was full, or another request made it
            allowed = _take(integration, window, limit)
    return allowed
