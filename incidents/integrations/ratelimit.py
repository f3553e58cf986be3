"""Per-integration rate limit: a fixed one-minute window counted in the database.

The default cache is per process, so the count lives in `IngestWindow` rows: a conditional
`UPDATE … SET count = count + 1 WHERE count < limit` is atomic on every backend, and the
first event of a minute inserts the row (a racing insert falls back to the update).
Refused events are counted on the integration, never silently dropped.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from incidents.integrations.models import IngestWindow, Integration

# Windows older than this are deleted when a new one starts.
KEEP_WINDOWS = timedelta(minutes=10)


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


def ingest_rate_take(*, integration: Integration, now: datetime | None = None) -> RateDecision:
    """Count one event against the integration's minute, or refuse (and count the refusal)."""
    now = now or timezone.now()
    window = now.replace(second=0, microsecond=0)
    limit = integration.rate_limit
    retry_after = max(1, math.ceil(60 - (now - window).total_seconds()))
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
    if not allowed:
        Integration.objects.filter(pk=integration.pk).update(refused_events=F("refused_events") + 1)
    return RateDecision(allowed=allowed, limit=limit, retry_after=retry_after)
