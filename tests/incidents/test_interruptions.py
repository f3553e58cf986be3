"""Interruptions (`incidents.interruptions`): one row per person, incident and UTC minute of
the SMS and voice pages sent, kept by the outbox's one transition in its transaction, and
filled by migration 0020 from the pages before it — the insights figures read these."""

import importlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from pytest_django import Settings

from incidents import interruptions
from incidents.models import Interruption
from notifications.callbacks import sent_changed
from notifications.channels import base as channels_base
from notifications.models import Channel, Notification, Status
from notifications.services import (
    notification_deliver,
    notification_enqueue,
    notification_provider_status_record,
    notification_transition,
    notifications_cancel_pending,
)
from oncall.models import User
from oncall.settings.base import CONSOLE_BACKEND
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 15, 0, 10, tzinfo=UTC)  # a page's minute: 15:00 UTC
MINUTE = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
_numbers = iter(range(100, 10_000))


@pytest.fixture(autouse=True)
def console_channels(settings: Settings) -> Iterator[None]:
    """Every page goes out through the console backend at once (no storm control)."""
    settings.NOTIFY_BACKENDS = dict.fromkeys(Channel.values, CONSOLE_BACKEND)
    settings.NOTIFY_MIN_INTERVAL = dict.fromkeys(Channel.values, 0)
    settings.NOTIFY_BUNDLE_WINDOW = dict.fromkeys(Channel.values, 0)
    channels_base._backend.cache_clear()
    yield
    channels_base._backend.cache_clear()


@pytest.fixture
def ann(db: None) -> User:
    return UserFactory.create(username="ann", timezone="Europe/Berlin")


def page(
    user: User, incident_id: int = 7, *, channel: str = Channel.SMS, track: str = "main"
) -> Notification:
    """A page written as the engine writes one (its key names its track)."""
    n = next(_numbers)
    return notification_enqueue(
        idempotency_key=f"inc{incident_id}:{track}:r0:s0:w0:u{user.pk}:{channel}:{n}",
        channel=channel,
        address="ann@example.com" if channel == Channel.EMAIL else f"+1202555{n:04d}",
        recipient=user,
        subject_type="incident",
        subject_id=incident_id,
    )


def deliver(row: Notification, at: datetime) -> Notification:
    """The delivery task's work at `at`: claim, send (console backend), record."""
    with time_machine.travel(at, tick=False):
        assert notification_deliver(notification_id=row.pk) == "sent"
    row.refresh_from_db()
    return row


def rows() -> list[tuple[int, int, datetime, bool, bool]]:
    return list(
        Interruption.objects.order_by("recipient_id", "incident_id", "minute").values_list(
            "recipient_id", "incident_id", "minute", "is_new", "is_veteran"
        )
    )


def test_a_page_delivered_is_an_interruption_and_an_email_is_not(ann: User) -> None:
    deliver(page(ann), T0)
    deliver(page(ann, 8, channel=Channel.EMAIL), T0)
    assert rows() == [(ann.pk, 7, MINUTE, False, True)]


def test_pages_in_one_minute_are_one_interruption_and_a_retry_counts_nothing(ann: User) -> None:
    first = deliver(page(ann), T0)
    deliver(page(ann, channel=Channel.VOICE), T0 + timedelta(seconds=45))  # 15:00:55
    assert rows() == [(ann.pk, 7, MINUTE, False, True)]
    sent_changed([first])  # announced again (a retry): still one
    assert len(rows()) == 1
    deliver(page(ann), T0 + timedelta(seconds=55))  # 15:01:05, the next minute
    deliver(page(ann, 8), T0)  # another incident, the same minute
    assert [(incident, minute.minute) for _, incident, minute, _, _ in rows()] == [
        (7, 0),
        (7, 1),
        (8, 0),
    ]


def test_a_minute_is_the_new_tiers_when_any_of_its_pages_was(ann: User) -> None:
    deliver(page(ann), T0)
    deliver(page(ann, channel=Channel.VOICE, track="new.g2"), T0 + timedelta(seconds=20))
    assert rows() == [(ann.pk, 7, MINUTE, True, True)]
    deliver(page(ann, 9, track="new"), T0)
    assert rows()[-1] == (ann.pk, 9, MINUTE, True, False)
    deliver(page(ann, 9, channel=Channel.VOICE), T0 + timedelta(seconds=20))  # the veteran's
    assert rows()[-1] == (ann.pk, 9, MINUTE, True, True)  # still the new tier's too


def test_pages_failed_cancelled_or_still_pending_are_none(ann: User) -> None:
    failed = page(ann)
    notification_transition(notification=failed, to=Status.FAILED, last_error="no number")
    page(ann, 8)
    assert notifications_cancel_pending(subject_type="incident", subject_id=8) == 1
    page(ann, 9)  # pending
    assert rows() == []


def test_a_page_reported_undelivered_leaves_its_minute_to_the_pages_still_sent(
    ann: User,
) -> None:
    veteran = deliver(page(ann), T0)
    new = deliver(page(ann, channel=Channel.VOICE, track="new"), T0 + timedelta(seconds=5))
    assert rows() == [(ann.pk, 7, MINUTE, True, True)]
    notification_provider_status_record(notification_id=new.pk, provider_status="undelivered")
    assert rows() == [(ann.pk, 7, MINUTE, False, True)]  # the veteran page still holds it
    notification_provider_status_record(notification_id=veteran.pk, provider_status="failed")
    assert rows() == []


def test_the_interruptions_never_fail_a_delivery(
    ann: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")  # a database error in its transaction

    monkeypatch.setattr(interruptions, "_upsert", broken)
    with caplog.at_level(logging.ERROR, logger="notifications.callbacks"):
        row = deliver(page(ann), T0)
    assert row.status == Status.SENT
    assert rows() == []
    assert "sent listener for 'incident' failed" in caplog.text


@pytest.fixture
def history(ann: User) -> User:
    """Pages of every kind for two people, as the outbox delivered and recorded them."""
    bo = UserFactory.create(username="bo", timezone="Asia/Tokyo")
    deliver(page(ann), T0)
    deliver(page(ann, channel=Channel.VOICE, track="new"), T0 + timedelta(seconds=30))
    deliver(page(ann), T0 + timedelta(minutes=3))
    deliver(page(bo, 8), T0)
    deliver(page(bo, 9, track="new"), T0 + timedelta(days=40))
    deliver(page(bo, 9, channel=Channel.EMAIL), T0)
    undelivered = deliver(page(bo, 11), T0 + timedelta(hours=2))
    notification_provider_status_record(notification_id=undelivered.pk, provider_status="failed")
    page(bo, 12)  # still pending
    return bo


def test_the_migration_fills_what_the_outbox_keeps(history: User) -> None:
    live = rows()
    assert len(live) == 4
    migration = importlib.import_module("incidents.migrations.0020_interruptions")
    Interruption.objects.all().delete()
    migration.fill(apps, None)
    assert rows() == live
    Interruption.objects.all().delete()
    interruptions.fill_with(notification=Notification, interruption=Interruption, chunk=1)
    assert rows() == live  # by chunks of one incident id
