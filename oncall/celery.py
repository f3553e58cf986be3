"""The Celery app. Queues, routes and the beat schedule live in settings (CELERY_*)."""

import logging
import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_shutdown

import oncall.logs  # noqa: F401 (connects the per-task log line and the workers' formatter)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings.local")

app = Celery("oncall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# A daily mail task (coverage watch, action items digest): retried on a network error, and
# idempotent by its outbox keys, so a retry or a second delivery sends nothing twice.
DAILY_MAIL_TASK_OPTIONS: dict[str, Any] = {
    "ignore_result": True,
    "autoretry_for": (OSError,),
    "retry_backoff": 60,
    "retry_jitter": True,
    "max_retries": 3,
    "time_limit": 300,
    "soft_time_limit": 240,
}


def periodic_task_names() -> set[str]:
    """The tasks beat sends on a schedule (sweeps, heartbeat, digests)."""
    return {entry["task"] for entry in (app.conf.beat_schedule or {}).values()}


class PeriodicChatter(logging.Filter):
    """Demote the INFO lines about beat's periodic tasks (sent, received, succeeded) to DEBUG.

    Beat sends a sweep every few seconds; at INFO, `make run`'s terminal would be nothing
    else. Lines about every other task (pages, escalation steps) stay at INFO.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        data = getattr(record, "data", None)  # the worker's "received" and "succeeded"
        if isinstance(data, dict):
            task = data.get("name")
        elif record.name == "celery.beat" and isinstance(record.args, tuple) and record.args:
            task = record.args[-1]  # "Scheduler: Sending due task %s (%s)"
        else:
            return True
        if task not in periodic_task_names():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


for _name in ("celery.beat", "celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).addFilter(PeriodicChatter())


@worker_init.connect
@beat_init.connect
def make_broker_folders(**kwargs: Any) -> None:
    """The filesystem broker (the laptop default) needs its folders before it can start."""
    options = app.conf.broker_transport_options or {}
    for key, value in options.items():
        if key.endswith("_folder") or key.startswith("data_folder"):
            Path(value).mkdir(parents=True, exist_ok=True)


@beat_init.connect
def first_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """Send a heartbeat as beat starts, so /healthz turns green without waiting an interval."""
    app.send_task("oncall.heartbeat")


@worker_process_shutdown.connect
def metrics_process_exited(pid: int | None = None, **kwargs: Any) -> None:
    """A prefork child ends: its live gauges leave the shared metrics folder."""
    from oncall.metrics import process_exited

    process_exited(pid or os.getpid())
