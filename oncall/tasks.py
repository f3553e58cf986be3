"""Core periodic tasks."""

from celery import shared_task

from oncall.health import heartbeat_record


@shared_task(name="oncall.heartbeat", ignore_result=True, time_limit=30, soft_time_limit=20)
def heartbeat(**kwargs: object) -> None:
    """Scheduled by beat, run by a worker: a fresh row proves both are alive."""
    heartbeat_record()
