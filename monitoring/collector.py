"""/metrics: the processes' counters and histograms plus the cached gauges.

The custom collector reads the snapshot the beat task stored (monitoring.gauges) and the
auditor's last results; a scrape runs no query. Ages (beat's heartbeat, the snapshot) are
computed at scrape time from the stored instants, so a dead beat shows as a growing age.
"""

import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from monitoring.gauges import SELFCHECK_KEY, monitoring_cache, snapshot_read
from oncall import metrics


class CachedGauges(Collector):
    """The snapshot's gauges (and incidents_total); nothing when no snapshot exists yet."""

    def collect(self) -> Iterable[Metric]:
        now = time.time()
        snapshot = snapshot_read()
        yield from self._selfcheck()
        if snapshot is None:
            return
        yield _gauge(
            "oncall_metrics_snapshot_age_seconds",
            "Seconds since the beat task last computed the gauges below.",
            [],
            [((), now - float(snapshot["at"]))],
        )
        yield _gauge(
            "oncall_incidents_open",
            "Incidents triggered or acknowledged.",
            ["team", "severity", "status"],
            [(tuple(row[:3]), row[3]) for row in snapshot["incidents_open"]],
        )
        total = CounterMetricFamily(
            "oncall_incidents",
            "Incidents ever declared (rows in the database), by team, severity and source.",
            labels=["team", "severity", "source"],
        )
        for row in snapshot["incidents_total"]:
            total.add_metric([str(label) for label in row[:3]], row[3])
        yield total
        outbox: dict[str, list[float]] = snapshot["outbox"]
        yield _gauge(
            "oncall_outbox_pending",
            "Notifications pending in the outbox (due or waiting for their time), by channel.",
            ["channel"],
            [((channel,), values[0]) for channel, values in outbox.items()],
        )
        yield _gauge(
            "oncall_outbox_oldest_pending_age_seconds",
            "Seconds the oldest pending notification is past its due time (0: none is due).",
            [],
            [((), max((values[1] for values in outbox.values()), default=0.0))],
        )
        yield _gauge(
            "oncall_inbound_events_pending",
            "Accepted monitoring events not folded into incidents yet (accepted or retrying).",
            [],
            [((), snapshot["inbound_pending"])],
        )
        yield _gauge(
            "oncall_celery_queue_length",
            "Messages waiting on each Celery queue.",
            ["queue"],
            [((queue,), n) for queue, n in snapshot["queues"].items()],
        )
        yield _gauge(
            "oncall_shifts_uncovered",
            "Hours without anyone on call in the next 7 days (meant-to-be-covered hours only).",
            ["team", "rotation"],
            [(tuple(row[:2]), row[2]) for row in snapshot["shifts_uncovered"]],
        )
        yield _gauge(
            "oncall_users_unreachable",
            "People on call in the next 7 days without a verified high-urgency contact method.",
            [],
            [((), snapshot["users_unreachable"])],
        )
        if snapshot["heartbeat_at"] is not None:
            yield _gauge(
                "oncall_heartbeat_age_seconds",
                "Seconds since Celery beat's last heartbeat.",
                [],
                [((), now - float(snapshot["heartbeat_at"]))],
            )

    def _selfcheck(self) -> Iterator[Metric]:
        results = monitoring_cache().get(SELFCHECK_KEY)
        if not isinstance(results, dict):
            return
        yield _gauge(
            "oncall_selfcheck_ok",
            "1 when the auditor's check passed on its last run, 0 when it failed.",
            ["check"],
            [((name,), 1.0 if result["ok"] else 0.0) for name, result in results["checks"].items()],
        )
        yield _gauge(
            "oncall_selfcheck_age_seconds",
            "Seconds since the auditor last ran its checks.",
            [],
            [((), time.time() - float(results["at"]))],
        )


def _gauge(
    name: str, documentation: str, labels: list[str], samples: list[tuple[tuple[Any, ...], Any]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric([str(v) for v in values], float(value))
    return family


class _Forward(Collector):
    """This process's own registry (counters, histograms, process facts)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape() -> bytes:
    """The exposition: every process's counters (multiprocess files) or this process's,
    then the cached gauges."""
    registry = CollectorRegistry(auto_describe=False)
    folder = metrics.multiprocess_dir()
    if folder is not None:
        MultiProcessCollector(registry, path=str(folder))
    else:
        registry.register(_Forward())
    registry.register(CachedGauges())
    return generate_latest(registry)
