"""The Celery app. Queues, routes and the beat schedule live in settings (CELERY_*)."""

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings.local")

app = Celery("oncall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def make_broker_folders(**kwargs: Any) -> None:
    """The filesystem broker (the laptop default) needs its folders before it can start."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@beat_init.connect
def first_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """Send a heartbeat as beat starts, so /healthz turns green without waiting an interval."""
    app.send_task("oncall.heartbeat")
