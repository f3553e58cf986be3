"""The Celery contract: named queues, a route for every task, late acks, the beat schedule."""

import importlib
import importlib.util
from collections.abc import Callable

import pytest
from django.apps import apps
from django.conf import settings

from oncall.celery import app
from oncall.models import Heartbeat


def project_tasks() -> list[str]:
    # Import every app's tasks module as the worker's autodiscovery does.
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.tasks"):
            importlib.import_module(f"{config.name}.tasks")
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def test_every_task_has_a_route_to_a_declared_queue() -> None:
    queues = {q.name for q in app.conf.task_queues}
    assert queues == set(settings.CELERY_QUEUE_NAMES)
    assert {"escalation", "default"} <= queues
    assert {f"notify-{c}" for c in settings.NOTIFY_CHANNELS} <= queues
    tasks = project_tasks()
    assert "oncall.heartbeat" in tasks
    unrouted = [name for name in tasks if name not in settings.CELERY_TASK_ROUTES]
    assert not unrouted, f"tasks without a route in CELERY_TASK_ROUTES: {unrouted}"
    for name in tasks:
        queue = settings.CELERY_TASK_ROUTES[name]["queue"]
        assert queue in queues, f"{name} is routed to undeclared queue {queue}"


def test_tasks_ack_late_and_beat_entries_name_real_tasks() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    tasks = project_tasks()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in tasks


@pytest.mark.redis
def test_heartbeat_runs_through_a_real_worker(celery_worker: Callable[[], str]) -> None:
    import time

    from oncall.tasks import heartbeat

    heartbeat.delay()
    deadline = time.monotonic() + 20
    while not Heartbeat.objects.filter(name="beat").exists():
        assert time.monotonic() < deadline, f"no heartbeat written; worker log:\n{celery_worker()}"
        time.sleep(0.2)
    assert "oncall.heartbeat" in celery_worker()
