"""Outgoing webhooks: incident changes become signed outbox rows for each subscription."""

import hmac
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from pytest_httpserver import HTTPServer
from werkzeug import Request

from incidents.models import Incident, TimelineKind, Via
from incidents.services import incident_post_status_update
from integrations.models import WebhookSubscription
from integrations.webhooks import webhooks_on_timeline_event
from notifications.channels import base
from notifications.channels.webhook import webhook_signature
from notifications.models import Channel, Notification
from notifications.services import notification_deliver as deliver
from notifications.services import notification_enqueue
from oncall.roles import ENGINEER, MANAGER
from tests.factories import ApiKeyFactory, IntegrationFactory, TeamFactory, UserFactory
from tests.integrations.support import post_json, trigger
from tests.notifications.conftest import REAL_BACKENDS


@pytest.fixture
def subscription(db: None) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        url="https://hooks.example.com/incidents",
        event_types=["triggered", "acknowledged", "resolved", "status_update"],
    )


def rows() -> list[Notification]:
    return list(Notification.objects.filter(channel=Channel.WEBHOOK).order_by("id"))


def test_integration_changes_write_one_outbox_row_each(
    client: Client, subscription: WebhookSubscription, django_capture_on_commit_callbacks
) -> None:
    integration = IntegrationFactory.create()
    key = integration.key  # type: ignore[attr-defined]
    with django_capture_on_commit_callbacks():
        post_json(client, "/v2/enqueue", trigger(key, "k"))
        post_json(client, "/v2/enqueue", trigger(key, "k"))  # folded: no new webhook
        for action in ("acknowledge", "resolve"):
            post_json(
                client,
                "/v2/enqueue",
                {"routing_key": key, "event_action": action, "dedup_key": "k"},
            )

    sent = rows()
    assert [r.data["event"] for r in sent] == ["triggered", "acknowledged", "resolved"]
    incident = Incident.objects.get()
    first = sent[0]
    assert first.address == "https://hooks.example.com/incidents"
    assert first.data["incident"]["number"] == incident.number
    assert first.data["incident"]["dedup_key"] == "k"
    assert first.data["subscription"] == subscription.pk
    assert first.subject_type == ""  # never cancelled with the incident's pages


@pytest.fixture
def receiver(settings: Settings, httpserver: HTTPServer) -> HTTPServer:
    """The subscribers' end: a local HTTP server, reached through the real webhook backend."""
    settings.NOTIFY_BACKENDS = {**settings.NOTIFY_BACKENDS, "webhook": REAL_BACKENDS["webhook"]}
    settings.NOTIFY_MIN_INTERVAL = {**settings.NOTIFY_MIN_INTERVAL, "webhook": 0}
    settings.NOTIFY_HTTP_TIMEOUT = 2.0
    base._backend.cache_clear()
    return httpserver


def verifies(request: Request, secret: str) -> bool:
    """What a receiver does: recompute the signature from the headers and body it got."""
    expected = webhook_signature(
        secret=secret, timestamp=request.headers["X-Signature-Timestamp"], body=request.get_data()
    )
    return hmac.compare_digest(expected, request.headers["X-Signature"])


def test_each_subscription_verifies_its_deliveries_with_its_own_secret(
    db: None, receiver: HTTPServer, settings: Settings
) -> None:
    from incidents.services import incident_declare

    settings.NOTIFY_WEBHOOK_SECRET = "global-webhook-secret"
    first = WebhookSubscription.objects.create(url=receiver.url_for("/a"))
    second = WebhookSubscription.objects.create(url=receiver.url_for("/b"))
    assert len({first.secret, second.secret, settings.NOTIFY_WEBHOOK_SECRET}) == 3
    receiver.expect_request("/a", method="POST").respond_with_data("ok")
    receiver.expect_request("/b", method="POST").respond_with_data("ok")
    incident_declare(title="Checkout down", actor=None, team=TeamFactory.create())

    for row in rows():
        assert deliver(notification_id=row.pk) == "sent"

    received = {request.path: request for request, _ in receiver.log}
    assert set(received) == {"/a", "/b"}
    to_first, to_second = received["/a"], received["/b"]
    assert json.loads(to_first.get_data())["data"]["subscription"] == first.pk
    assert verifies(to_first, first.secret)
    assert not verifies(to_first, settings.NOTIFY_WEBHOOK_SECRET)
    assert not verifies(to_first, second.secret)
    assert verifies(to_second, second.secret)
    assert not verifies(to_second, first.secret)


def test_the_signing_secret_is_never_shown(
    client: Client, subscription: WebhookSubscription
) -> None:
    from incidents.services import incident_declare

    incident = incident_declare(title="Checkout down", actor=None, team=TeamFactory.create())
    (row,) = rows()
    # A page about the incident carrying a secret, so it is one the incidents API lists.
    page = notification_enqueue(
        idempotency_key="webhook:page",
        channel=Channel.WEBHOOK,
        address=subscription.url,
        reason="signed page",
        subject_type="incident",
        subject_id=incident.pk,
        signing_secret=subscription.secret,
    )
    assert row.signing_secret == page.signing_secret == subscription.secret
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))

    change = client.get(f"/admin/notifications/notification/{row.pk}/change/")
    changelist = client.get("/admin/notifications/notification/")
    key: Any = ApiKeyFactory.create(user=UserFactory.create(roles=[ENGINEER]))
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}").get(
        reverse("api:incident-notifications", args=[incident.pk])
    )

    assert change.status_code == changelist.status_code == listed.status_code == 200
    assert row.idempotency_key in change.content.decode()  # the row's page, rendered
    assert subscription.secret not in change.content.decode()
    assert subscription.secret not in changelist.content.decode()
    assert [r["id"] for r in listed.json()] == [page.pk]
    assert subscription.secret not in listed.content.decode()


def test_the_same_change_twice_sends_once(subscription: WebhookSubscription) -> None:
    from incidents.services import incident_declare

    incident = incident_declare(title="x", actor=None, team=TeamFactory.create())
    event = incident.timeline.get(kind=TimelineKind.DECLARED)

    webhooks_on_timeline_event(event)
    webhooks_on_timeline_event(event)

    assert len(rows()) == 1


def test_event_types_and_teams_filter_subscriptions(db: None) -> None:
    from incidents.services import incident_declare

    team, other = TeamFactory.create_batch(2)
    WebhookSubscription.objects.create(url="https://a.example.com/", event_types=["resolved"])
    WebhookSubscription.objects.create(url="https://b.example.com/", team=other)
    wanted = WebhookSubscription.objects.create(url="https://c.example.com/", team=team)
    incident = incident_declare(title="x", actor=None, team=team)

    webhooks_on_timeline_event(incident.timeline.get(kind=TimelineKind.DECLARED))

    assert [r.address for r in rows()] == [wanted.url]


def test_dashboard_changes_reach_subscribers_through_the_timeline(
    subscription: WebhookSubscription,
) -> None:
    from incidents.services import incident_acknowledge, incident_declare, incident_resolve

    incident = incident_declare(title="x", actor=None, team=TeamFactory.create())
    incident_post_status_update(incident=incident, message="Mitigated", actor=None)
    incident = incident_acknowledge(incident=incident, actor=None)
    incident_resolve(incident=incident, actor=None)

    events = [row.data["event"] for row in rows()]
    assert events == ["triggered", "status_update", "acknowledged", "resolved"]


def received_by_title(receiver: HTTPServer) -> dict[str, Request]:
    return {
        json.loads(request.get_data())["data"]["incident"]["title"]: request
        for request, _ in receiver.log
    }


def test_after_rotate_secret_new_changes_verify_with_the_new_secret_only(
    db: None, receiver: HTTPServer
) -> None:
    from incidents.services import incident_declare

    subscription = WebhookSubscription.objects.create(
        url=receiver.url_for("/hook"), event_types=["triggered"]
    )
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    manager = Client()
    manager.force_login(UserFactory.create(roles=[MANAGER]))
    old = subscription.secret
    team = TeamFactory.create()
    incident_declare(title="Queued before", actor=None, team=team)

    rotated = manager.post(reverse("api:webhook-rotate-secret", args=[subscription.pk]))
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    incident_declare(title="Written after", actor=None, team=team)
    for row in rows():
        assert deliver(notification_id=row.pk) == "sent"

    received = received_by_title(receiver)
    assert set(received) == {"Queued before", "Written after"}
    # A delivery already queued keeps the secret it was written with.
    assert verifies(received["Queued before"], old)
    assert not verifies(received["Queued before"], new)
    assert verifies(received["Written after"], new)
    assert not verifies(received["Written after"], old)


def test_the_body_reads_like_the_timeline_line_with_who_and_how(
    db: None, receiver: HTTPServer
) -> None:
    from incidents.services import incident_acknowledge, incident_declare

    WebhookSubscription.objects.create(url=receiver.url_for("/hook"))
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")
    # A Manager may acknowledge (nobody was paged: the team has no rotation).
    bob = UserFactory.create(first_name="Bob", last_name="Ng", roles=[MANAGER])
    incident = incident_declare(title="Checkout down", actor=None, team=TeamFactory.create())
    incident_acknowledge(incident=incident, actor=bob, via=Via.SMS)
    ack = Notification.objects.get(channel=Channel.WEBHOOK, data__event="acknowledged")

    assert deliver(notification_id=ack.pk) == "sent"

    ((request, _),) = receiver.log
    body = json.loads(request.get_data())["body"]
    assert body == "Acknowledged — Bob Ng via sms"
    event = incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert body == f"{event.message} — {event.attribution}"


def test_an_integrations_change_is_attributed_to_the_integration(
    client: Client, subscription: WebhookSubscription
) -> None:
    key = IntegrationFactory.create().key  # type: ignore[attr-defined]
    post_json(client, "/v2/enqueue", trigger(key, "k"))
    post_json(
        client, "/v2/enqueue", {"routing_key": key, "event_action": "resolve", "dedup_key": "k"}
    )

    resolved = Notification.objects.get(channel=Channel.WEBHOOK, data__event="resolved")
    assert resolved.body == "Resolved — via integration"
