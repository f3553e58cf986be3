"""Thin escalation tasks: one step (ETA, guard token), the sweeper, the triage/cadence timers."""

import logging

from celery import shared_task

from incidents import engine
from incidents.services import incident_timers_sweep

logger = logging.getLogger(__name__)


@shared_task(name=engine.STEP_TASK, ignore_result=True, time_limit=60, soft_time_limit=50)
def escalation_step(state_id: int, token: str, **kwargs: object) -> str:
    # The row lock and the guard token make a duplicate or stale delivery a no-op.
    outcome = engine.escalation_step_run(state_id=state_id, token=token)
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
