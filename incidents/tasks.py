"""Thin escalation tasks: the step hint (ETA, guard token), the sweeper, the triage/cadence
timers; both escalation tasks run due steps in batches. (The ingestion tasks, still named
`incidents.ingest_*`, live in `integrations/tasks.py`.)"""

import logging

from celery import shared_task

from incidents import engine
from incidents.services import incident_timers_sweep
from incidents.support import contacts

logger = logging.getLogger(__name__)


@shared_task(name=engine.STEP_TASK, ignore_result=True, time_limit=60, soft_time_limit=50)
def escalation_step(state_id: int, token: str, **kwargs: object) -> str:
    # A hint that steps fall due: run every due one in batches (SKIP LOCKED, idempotency
    # keys), or come back later when this state is not due yet.
    outcome = engine.escalation_wake(state_id=state_id, token=token)
    logger.info("escalation state %s: %s", state_id, outcome)
    return outcome


@shared_task(
    name="incidents.escalation_sweep", ignore_result=True, time_limit=60, soft_time_limit=50
)
def escalation_sweep(**kwargs: object) -> int:
    return engine.escalation_sweep()


@shared_task(name="incidents.timers_sweep", ignore_result=True, time_limit=60, soft_time_limit=50)
def timers_sweep(**kwargs: object) -> int:
    return incident_timers_sweep()


@shared_task(
    name="incidents.customer_contacts_remind",
    ignore_result=True,
    time_limit=60,
    soft_time_limit=50,
)
def customer_contacts_remind(**kwargs: object) -> int:
    return contacts.customer_contacts_remind()


@shared_task(name="incidents.targets_sweep", ignore_result=True, time_limit=60, soft_time_limit=50)
def targets_sweep(**kwargs: object) -> int:
    # Missed acknowledge and rung targets: the next rung (or the escalation contact) is paged
    # once; SKIP LOCKED and the timeline's key make a second run harmless.
    from incidents.services.ladder import incident_targets_sweep

    return incident_targets_sweep()
