"""An accepted event's status: one map, one function, and every folder goes through it."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from integrations import ingest
from integrations.ingest import events as inbound
from integrations.ingest.status import (
    INBOUND_TRANSITIONS,
    InboundTransitionError,
    inbound_transition,
    inbound_transition_many,
)
from integrations.models import InboundEvent, InboundStatus, Integration
from tests.integrations.support import post_only, trigger

URL = "/v2/enqueue"
REAL_FOLD = inbound.fold_event


def _accept(client: Client, integration: Integration, dedup: str = "db") -> InboundEvent:
    key = integration.key  # type: ignore[attr-defined]
    assert post_only(client, URL, trigger(key, dedup)).status_code == 202
    return InboundEvent.objects.latest("id")


def test_the_map_names_every_status_and_processed_is_final() -> None:
    assert set(INBOUND_TRANSITIONS) == set(InboundStatus.values)
    assert INBOUND_TRANSITIONS[InboundStatus.PROCESSED] == frozenset()
    assert InboundStatus.ACCEPTED not in set().union(*INBOUND_TRANSITIONS.values())


def test_an_accepted_event_is_pending_until_the_drain_folds_it(
    client: Client, integration: Integration
) -> None:
    event = _accept(client, integration)
    assert event.status == InboundStatus.ACCEPTED
    assert list(inbound.pending()) == [event]

    ingest.ingest_drain_pending()

    event.refresh_from_db()
    assert (event.status, event.action, event.attempts) == (InboundStatus.PROCESSED, "created", 1)
    assert event.processed_at is not None
    assert not inbound.pending().exists()


def test_a_failure_retries_then_gives_up_and_the_admins_retry_makes_it_due_again(
    client: Client,
    integration: Integration,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.INGEST_MAX_ATTEMPTS = 2
    event = _accept(client, integration)

    def broken(event: InboundEvent) -> Any:
        raise ValueError("cannot fold")

    monkeypatch.setattr(inbound, "fold_event", broken)
    ingest.ingest_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (InboundStatus.RETRYING, 1)
    assert event.next_attempt_at is not None
    assert event.last_error == "ValueError: cannot fold"

    ingest.ingest_sweep(now=event.next_attempt_at + timedelta(seconds=1))
    event.refresh_from_db()
    assert (event.status, event.attempts) == (InboundStatus.FAILED, 2)
    assert event.failed_at is not None
    assert event.next_attempt_at is None
    assert not inbound.pending().exists()

    assert ingest.inbound_retry(events=InboundEvent.objects.all()) == 1
    event.refresh_from_db()
    assert (event.status, event.attempts) == (InboundStatus.RETRYING, 2)  # not an attempt
    assert (event.failed_at, event.next_attempt_at) == (None, None)
    assert event.last_error == "ValueError: cannot fold"  # kept for the operator

    monkeypatch.setattr(inbound, "fold_event", REAL_FOLD)
    ingest.ingest_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (
        InboundStatus.PROCESSED,
        3,
        "ValueError: cannot fold",
    )


def test_a_processed_event_never_moves_again(client: Client, integration: Integration) -> None:
    event = _accept(client, integration)
    ingest.ingest_drain_pending()
    event.refresh_from_db()

    with pytest.raises(InboundTransitionError):
        inbound_transition(event, to=InboundStatus.RETRYING, at=timezone.now(), error="x")
    moved = inbound_transition_many(
        [event.pk], to=InboundStatus.PROCESSED, at=timezone.now(), action="folded"
    )
    assert moved == 0
    assert ingest.inbound_retry(events=InboundEvent.objects.all()) == 0
    event.refresh_from_db()
    assert (event.status, event.action, event.attempts) == (InboundStatus.PROCESSED, "created", 1)
