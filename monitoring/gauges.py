"""The gauges that need queries, computed by a beat task and kept in the cache.

`metrics_refresh` (task monitoring.metrics_refresh, every METRICS_REFRESH_SECONDS) runs the
queries below and stores one JSON-able snapshot in the `monitoring` cache (Redis when
REDIS_URL is set, else a file cache under VAR_DIR that web and worker share); a scrape of
/metrics reads that one cache key and queries nothing.

oncall_incidents_total comes from this snapshot too (a count of incident rows by team,
severity and source), not from a process counter: it survives restarts and never counts an
incident twice, and the `incident_totals` index makes it an index-only scan.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db.models import Count, Exists, Min, OuterRef
from django.utils import timezone

from incidents.models import Incident
from incidents.models import Status as IncidentStatus
from integrations.models import INBOUND_PENDING, InboundEvent
from monitoring.selfcheck import pending_due
from notifications.models import Notification, NotificationRule, Status, Urgency
from oncall.celery import app as celery_app
from oncall.health import BEAT_HEARTBEAT
from oncall.models import Heartbeat, User
from rotations import resolver, selectors
from rotations.models import Rotation, Team

logger = logging.getLogger(__name__)

CACHE_ALIAS = "monitoring"
SNAPSHOT_KEY = "monitoring:gauges"
SELFCHECK_KEY = "monitoring:selfcheck"
# Who is on call, and which hours nobody covers, over this window from now.
LOOKAHEAD = timedelta(days=7)
NO_TEAM = "none"


def monitoring_cache() -> Any:
    return caches[CACHE_ALIAS]


def _team_slugs() -> dict[int, str]:
    return dict(Team.objects.values_list("pk", "slug"))


def incident_counts(teams: dict[int, str]) -> tuple[list[list[Any]], list[list[Any]]]:
    """(open by team, severity, status), (all by team, severity, source)."""
    open_rows = (
        Incident.objects.filter(status__in=(IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED))
        .values_list("team_id", "severity", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    total_rows = (
        Incident.objects.values_list("team_id", "severity", "source")
        .annotate(n=Count("*"))
        .order_by()
    )
    return (
        [[teams.get(t, NO_TEAM), s, st, n] for t, s, st, n in open_rows],
        [[teams.get(t, NO_TEAM), s, src, n] for t, s, src, n in total_rows],
    )


def outbox_counts(now: datetime) -> dict[str, list[float]]:
    """channel → [pending rows, seconds the oldest is past due (0 when none is due yet)]."""
    rows = (
        Notification.objects.filter(status=Status.PENDING)
        .annotate(due=pending_due())
        .values_list("channel")
        .annotate(n=Count("*"), oldest=Min("due"))
        .order_by()
    )
    return {
        channel: [n, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0]
        for channel, n, oldest in rows
    }


def queue_lengths() -> dict[str, int]:
    """Messages waiting on each Celery queue, asked of the broker (Redis LLEN, a folder's
    files); a queue the broker cannot size is left out, not guessed."""
    lengths: dict[str, int] = {}
    try:
        with celery_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            # Kombu's virtual transports (Redis, filesystem, memory) size a queue with
            # `_size`; a passive declare would refuse an empty Redis queue (no key).
            size = getattr(connection.default_channel, "_size", None)
            if size is None:
                return lengths
            for queue in settings.CELERY_QUEUE_NAMES:
                try:
                    lengths[queue] = int(size(queue))
                except Exception:
                    logger.debug("cannot size queue %s", queue, exc_info=True)
    except Exception as error:
        logger.warning("Celery queue lengths unavailable: %s", error)
    return lengths


def coverage(now: datetime) -> tuple[list[list[Any]], int]:
    """Hours nobody covers per rotation in the next 7 days (the coverage watch's real gaps:
    working-hours rotations' nights are not gaps), and how many people on call in that
    window have no verified contact method in a high-urgency notification rule."""
    end = now + LOOKAHEAD
    rotations = list(selectors.rotations_with_members(Rotation.objects.select_related("team")))
    overrides = selectors.overrides_between([r.pk for r in rotations], now, end)
    uncovered: list[list[Any]] = []
    oncall: set[int] = set()
    for rotation in rotations:
        spec = selectors.rotation_spec(rotation)
        specs = selectors.override_specs(overrides[rotation.pk])
        gaps = resolver.intended_gaps(spec, specs, now, end)
        hours = sum((hi - lo).total_seconds() for lo, hi in gaps) / 3600
        label = rotation.name or f"{rotation.tier} {rotation.position}"
        uncovered.append([rotation.team.slug, label, round(hours, 3)])
        oncall.update(shift.user for shift in resolver.shifts_between(spec, specs, now, end))
    reachable = NotificationRule.objects.filter(
        user=OuterRef("pk"), urgency=Urgency.HIGH, contact_method__verified_at__isnull=False
    )
    unreachable = (
        User.objects.filter(pk__in=oncall, is_active=True).exclude(Exists(reachable)).count()
        if oncall
        else 0
    )
    return uncovered, unreachable


def snapshot_compute(*, now: datetime | None = None) -> dict[str, Any]:
    """Every gauge that needs a query, as plain JSON-able values."""
    now = now or timezone.now()
    teams = _team_slugs()
    incidents_open, incidents_total = incident_counts(teams)
    uncovered, unreachable = coverage(now)
    beat = Heartbeat.objects.filter(name=BEAT_HEARTBEAT).values_list("at", flat=True).first()
    return {
        "at": now.timestamp(),
        "incidents_open": incidents_open,
        "incidents_total": incidents_total,
        "outbox": outbox_counts(now),
        "inbound_pending": InboundEvent.objects.filter(status__in=INBOUND_PENDING).count(),
        "queues": queue_lengths(),
        "shifts_uncovered": uncovered,
        "users_unreachable": unreachable,
        "heartbeat_at": beat.timestamp() if beat else None,
    }


def metrics_refresh(*, now: datetime | None = None) -> dict[str, Any]:
    """Compute the snapshot and store it for the scrapes (no expiry: a stale snapshot shows
    as oncall_metrics_snapshot_age_seconds growing, not as gauges vanishing)."""
    snapshot = snapshot_compute(now=now)
    monitoring_cache().set(SNAPSHOT_KEY, snapshot, timeout=None)
    return snapshot


def snapshot_read() -> dict[str, Any] | None:
    found = monitoring_cache().get(SNAPSHOT_KEY)
    return found if isinstance(found, dict) else None
