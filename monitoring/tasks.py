"""Beat's monitoring tasks: thin, on the default queue, harmless when run twice."""

import logging
from typing import Any

from celery import shared_task

from monitoring.auditor import auditor_run
from monitoring.gauges import metrics_refresh

logger = logging.getLogger(__name__)

_PERIODIC: dict[str, Any] = {"ignore_result": True, "time_limit": 60, "soft_time_limit": 50}


@shared_task(name="monitoring.metrics_refresh", **_PERIODIC)
def metrics_refresh_task(**kwargs: Any) -> None:
    metrics_refresh()


@shared_task(name="monitoring.auditor", **_PERIODIC)
def auditor_task(**kwargs: Any) -> str:
    outcome = auditor_run()
    logger.info("auditor: %s", outcome)
    return outcome
