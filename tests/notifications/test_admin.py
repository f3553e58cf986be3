"""The outbox admin shows storm control: what a message carried and how late it went out."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from notifications.models import Channel, Notification, Status
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 19, 43, 28, tzinfo=UTC)


def test_the_outbox_lists_how_many_pages_a_message_carried_and_how_late_it_went_out(
    client: Client,
) -> None:
    common = {"channel": Channel.SMS, "address": "+12025550191", "status": Status.SENT}
    carrier = Notification.objects.create(
        idempotency_key="carrier",
        due_at=T0,
        attempted_at=T0 + timedelta(seconds=27),
        **common,
    )
    for n in range(2):
        Notification.objects.create(
            idempotency_key=f"carried-{n}",
            bundled_into=carrier,
            due_at=T0 + timedelta(seconds=n),
            attempted_at=T0 + timedelta(seconds=27),
            **common,
        )
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))

    listing = client.get("/admin/notifications/notification/")
    detail = client.get(f"/admin/notifications/notification/{carrier.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    rows = listing.content.decode()
    assert '<td class="field-carried">+2</td>' in rows
    assert '<td class="field-late_by">27 s</td>' in rows
    assert '<td class="field-late_by">26 s</td>' in rows
    assert "Attempted at" in detail.content.decode()
