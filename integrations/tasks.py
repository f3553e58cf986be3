"""Thin ingestion tasks: fold an accepted event, drain a burst, sweep for lost ones.

Their names keep the `incidents.` prefix they had before the app moved out of incidents:
beat's schedule, the task routes and messages already queued all use them.
"""

from celery import shared_task

from integrations import ingest
from integrations.services import heartbeat_sweep


@shared_task(name=ingest.PROCESS_TASK, ignore_result=True, time_limit=60, soft_time_limit=50)
def ingest_process(event_id: int, retries: int = 0, **kwargs: object) -> str:
    # Fold the accepted event's key in order (its oldest pending event's row lock is the key).
    return ingest.ingest_process(event_id=event_id, retries=retries)


@shared_task(name=ingest.DRAIN_TASK, ignore_result=True, time_limit=60, soft_time_limit=50)
def ingest_drain(**kwargs: object) -> str:
    # Woken by a burst of accepted events (one task, not one per event): fold every due key.
    return ingest.ingest_drain_pending()


@shared_task(name="incidents.ingest_sweep", ignore_result=True, time_limit=60, soft_time_limit=50)
def ingest_sweep(**kwargs: object) -> int:
    return ingest.ingest_sweep()


@shared_task(
    name="integrations.heartbeat_sweep", ignore_result=True, time_limit=60, soft_time_limit=50
)
def heartbeat_monitors_sweep(**kwargs: object) -> int:
    # Overdue heartbeat monitors → one incident each (SKIP LOCKED: two sweeps act once).
    return heartbeat_sweep()
