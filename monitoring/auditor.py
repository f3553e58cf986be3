"""The dead-man switch: ping an outside monitor only while every self-check passes.

The outside monitor (DEADMAN_URL: a healthchecks.io check, another portal's heartbeat
integration, Alertmanager's Watchdog receiver…) raises the alarm when the pings stop, so it
catches what no check inside can: beat, the workers, the database or the whole host down.
A failing check stops the ping; it is also logged, exported as oncall_selfcheck_ok{check}
and shown on /healthz.
"""

import logging
import time

import httpx
from django.conf import settings

from monitoring.gauges import SELFCHECK_KEY, monitoring_cache
from monitoring.selfcheck import selfcheck_run

logger = logging.getLogger(__name__)


def deadman_ping(*, url: str) -> bool:
    """GET the dead-man URL; a failure is logged, never raised (the next run tries again)."""
    try:
        response = httpx.get(url, timeout=settings.DEADMAN_TIMEOUT, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as error:
        logger.warning("dead-man ping to %s failed: %s", url, error)
        return False
    return True


def auditor_run() -> str:
    """Run every self-check, store the results for /metrics, ping when all pass.

    Returns what happened, for the task's log.
    """
    results = selfcheck_run()
    failing = {name: check for name, check in results.items() if not check.ok}
    try:
        monitoring_cache().set(
            SELFCHECK_KEY,
            {"at": time.time(), "checks": {n: c.as_dict() for n, c in results.items()}},
            timeout=None,
        )
    except Exception:  # the cache (Redis) down must not stop the checks or the ping decision
        logger.warning("could not store the self-check results", exc_info=True)
    for name, check in failing.items():
        logger.error("self-check %s failed: %s", name, check.detail)
    if failing:
        return f"not pinging: {', '.join(failing)} failing"
    url = settings.DEADMAN_URL
    if not url:
        return "all checks pass; no DEADMAN_URL to ping"
    return "all checks pass; pinged" if deadman_ping(url=url) else "all checks pass; ping failed"
