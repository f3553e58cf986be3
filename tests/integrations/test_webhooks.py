"""Outgoing webhooks: incident changes become signed outbox rows for each subscription."""

import json

import pytest
from django.test import Client

from incidents.integrations.models import WebhookSubscription
from incidents.integrations.webhooks import webhooks_on_timeline_event
from incidents.models import Incident, TimelineKind
from incidents.services import incident_post_status_update
from notifications.channels.webhook import webhook_payload, webhook_signature
from notifications.models import Channel, Notification
from notifications.services.delivery import outgoing_message
from tests.factories import IntegrationFactory, TeamFactory
from tests.integrations.support import post_json, trigger


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


def test_rows_are_signed_by_the_webhook_channel(
    client: Client, subscription: WebhookSubscription, settings
) -> None:
    settings.NOTIFY_WEBHOOK_SECRET = "shared-secret"
    post_json(client, "/v2/enqueue", trigger(IntegrationFactory.create().key))  # type: ignore[attr-defined]

    message = outgoing_message(rows()[0])

    body = json.dumps(webhook_payload(message), separators=(",", ":"), sort_keys=True).encode()
    assert message.secret == "shared-secret"
    assert webhook_signature(secret=message.secret, timestamp="1", body=body).startswith("sha256=")
    assert message.data["event"] == "triggered"


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
