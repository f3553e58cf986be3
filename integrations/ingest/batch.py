"""The drain task: every due event, in id order, folded in batches of one transaction."""

import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from integrations.ingest import events as inbound
from integrations.ingest.events import (
    BUSY_RETRY_SECONDS,
    Drained,
    due,
    pending,
    record_failure,
)
from integrations.ingest.status import inbound_transition_many
from integrations.ingest.wake import drain_send, wake_clear
from integrations.models import InboundEvent, InboundStatus
from oncall.memo import config_memo

# A drain folds for this long, then hands the rest to a fresh task (other queues' work and
# the time limit).
DRAIN_BUDGET_SECONDS = 20.0
DRAIN_BATCH = 50  # events folded per transaction


@dataclass(frozen=True)
class _Blocker:
    """A key's oldest pending event outside the batch: the key's later events wait."""

    event_id: int
    retrying: bool  # it waits for its retry time (its own task folds the key then)


def _blockers(claimed: list[InboundEvent], now: datetime) -> dict[tuple[int, str], _Blocker]:
    """Per claimed key, the oldest pending event this batch did not claim: held by another
    worker, waiting for a retry, or committed after the claim read."""
    keys = {(e.integration_id, e.dedup_key) for e in claimed}
    rows = (
        pending()
        .filter(integration_id__in={k[0] for k in keys}, dedup_key__in={k[1] for k in keys})
        .exclude(pk__in=[e.pk for e in claimed])
        .order_by()
        .values_list("integration_id", "dedup_key")
        .annotate(first=Min("id"), retrying=Min("id", filter=Q(next_attempt_at__gt=now)))
    )
    return {
        (i, d): _Blocker(first, retrying == first)
        for i, d, first, retrying in rows
        if (i, d) in keys
    }


class _Redo(Exception):
    """An event failed in a batch folded without savepoints: the batch is undone and redone."""


def _fold_batch(out: Drained, *, now: datetime, size: int, after: int) -> int | None:
    """Claim up to `size` due events past id `after` (SKIP LOCKED); fold them in ONE
    transaction. Returns the last id claimed, None when there was none.

    Events are folded in id order, each only when no older pending event of its key is
    outside the batch, so per key, order holds across workers. The batch reads each team's
    configuration (rotations, policies, subscriptions) once.

    Folds first run without a savepoint each (two round trips fewer per event). If one
    fails, the whole batch rolls back (its pages and webhooks with it: they are queued on
    commit) and is folded again with a savepoint per event, where a failure is recorded
    and stops only its key for the rest of the batch.
    """
    attempt = Drained()
    try:
        last = _fold_claimed(attempt, now=now, size=size, after=after, isolate=False)
    except _Redo:
        attempt = Drained()
        last = _fold_claimed(attempt, now=now, size=size, after=after, isolate=True)
    out.add(attempt)
    return last


def _fold_claimed(
    out: Drained, *, now: datetime, size: int, after: int, isolate: bool
) -> int | None:
    with transaction.atomic(), config_memo():
        claimed = list(
            due(now)
            .filter(pk__gt=after)
            .order_by("id")
            .select_for_update(of=("self",), skip_locked=True)
            .select_related("integration__team", "integration__escalation_policy")[:size]
        )
        if not claimed:
            return None
        blockers = _blockers(claimed, now)
        stopped: set[tuple[int, str]] = set()
        done: dict[str, list[int]] = {}
        for event in claimed:
            key = (event.integration_id, event.dedup_key)
            blocker = blockers.get(key)
            if blocker is not None and blocker.event_id < event.pk:
                # Its key's retry task folds it in order; a key held elsewhere, look again.
                out.busy = out.busy or not blocker.retrying
                continue
            if key in stopped:
                continue
            try:
                with transaction.atomic() if isolate else nullcontext():
                    result = inbound.fold_event(event)
            except Exception as error:
                if not isolate:
                    raise _Redo from error
                out.failed += 1
                if not record_failure(event, error, now):
                    stopped.add(key)  # it retries later (its task); its key waits behind it
                continue
            done.setdefault(result.action, []).append(event.pk)
            out.processed += 1
            out.results[event.pk] = result
        stamp = timezone.now()
        for action, ids in done.items():
            inbound_transition_many(ids, to=InboundStatus.PROCESSED, at=stamp, action=action)
    return claimed[-1].pk


def ingest_drain_pending(*, budget: float = DRAIN_BUDGET_SECONDS, size: int = DRAIN_BATCH) -> str:
    """The drain task: fold every due event in id order, in batches, one pass.

    Clears the wake-up flag before reading, so any event committed after that sends the
    next drain. Events of a key another worker holds are left to it and looked at again
    shortly (the holder has usually finished by then); a key behind a retrying event is
    left to that event's task. Past the budget, a fresh drain goes on.
    """
    wake_clear()
    started = time.monotonic()
    out = Drained()
    after = 0
    while (last := _fold_batch(out, now=timezone.now(), size=size, after=after)) is not None:
        after = last
        if time.monotonic() - started > budget:
            drain_send()
            return f"folded {out.processed}, failed {out.failed}, budget spent"
    if out.busy:
        drain_send(countdown=BUSY_RETRY_SECONDS)
    return f"folded {out.processed}, failed {out.failed}" + (", keys busy" if out.busy else "")
