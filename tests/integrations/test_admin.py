"""Managers create integrations and webhook subscriptions in the admin; the key and the
signing secret are shown once."""

from typing import Any

from django.contrib.messages import get_messages
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from integrations.models import Integration, WebhookSubscription
from oncall.keys import key_digest
from oncall.roles import ENGINEER, MANAGER
from tests.factories import IntegrationFactory, TeamFactory, UserFactory
from tests.integrations.support import post_json, trigger

ADD = "/admin/integrations/integration/add/"


def staff(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(roles=[role], is_staff=True))
    return client


def test_a_manager_adds_an_integration_and_sees_its_key_once(db: None) -> None:
    team = TeamFactory.create()
    client = staff(MANAGER)

    response = client.post(
        ADD,
        {
            "team": team.pk,
            "name": "Prometheus",
            "type": "alertmanager",
            "severity_map": '{"critical": "SEV1", "warning": "SEV3"}',
            "rate_limit_per_minute": "120",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    integration = Integration.objects.get()
    shown = [str(m) for m in get_messages(response.wsgi_request) if "shown once" in str(m)]
    assert len(shown) == 1
    key = shown[0].split(": ")[1].split(" ")[0]
    assert integration.key_digest == key_digest(key)
    assert integration.rate_limit == 120


def test_the_list_shows_refused_events(db: None) -> None:
    IntegrationFactory.create(refused_events=7)
    page = staff(MANAGER).get("/admin/integrations/integration/")
    assert page.status_code == 200
    assert "Refused events" in page.content.decode()


def test_engineers_cannot_reach_integrations_in_the_admin(db: None) -> None:
    assert staff(ENGINEER).get(ADD).status_code == 403


# --- Webhook subscriptions: the signing secret is shown once --------------------------------

HOOKS = "/admin/integrations/webhooksubscription/"


def shown_once(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if "shown once" in str(m)]


def test_a_manager_adds_a_subscription_and_sees_its_secret_once(db: None) -> None:
    client = staff(MANAGER)

    response = client.post(
        HOOKS + "add/",
        {"url": "https://hooks.example.com/a", "event_types": '["triggered", "resolved"]'},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    subscription = WebhookSubscription.objects.get()
    (message,) = shown_once(response)
    assert subscription.secret in message
    shown = client.get(response["Location"])  # the page after the add shows the message
    assert subscription.secret in shown.content.decode()
    change = client.get(f"{HOOKS}{subscription.pk}/change/")
    listed = client.get(HOOKS)
    assert change.status_code == listed.status_code == 200
    assert subscription.url in change.content.decode()
    assert subscription.secret not in change.content.decode()
    assert subscription.secret not in listed.content.decode()


def test_the_rotate_secret_action_shows_each_new_secret_once(db: None) -> None:
    first = WebhookSubscription.objects.create(url="https://hooks.example.com/a")
    second = WebhookSubscription.objects.create(url="https://hooks.example.com/b")
    old = {first.pk: first.secret, second.pk: second.secret}
    client = staff(MANAGER)

    response = client.post(
        HOOKS, {"action": "rotate_secret", "_selected_action": [first.pk, second.pk]}
    )

    assert response.status_code == 302
    messages = shown_once(response)
    assert len(messages) == 2
    shown = client.get(response["Location"]).content.decode()
    for subscription in WebhookSubscription.objects.all():
        assert subscription.secret != old[subscription.pk]
        assert sum(subscription.secret in m for m in messages) == 1
        assert subscription.secret in shown
        change = client.get(f"{HOOKS}{subscription.pk}/change/").content.decode()
        assert subscription.url in change
        assert subscription.secret not in change
    listed = client.get(HOOKS).content.decode()
    assert not any(s.secret in listed for s in WebhookSubscription.objects.all())


def test_the_rotate_key_action_refuses_the_old_key_at_once(
    db: None, settings: Settings, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    settings.INGEST_KEY_CACHE_SECONDS = 60  # the doors cache keys, as in production
    integration = IntegrationFactory.create()
    old = integration.key  # type: ignore[attr-defined]
    assert post_json(Client(), "/v2/enqueue", trigger(old, "before")).status_code == 202

    with django_capture_on_commit_callbacks(execute=True):
        response = staff(MANAGER).post(
            "/admin/integrations/integration/",
            {"action": "rotate_key", "_selected_action": [integration.pk]},
        )

    (message,) = shown_once(response)
    new = message.rsplit(": ", 1)[1]
    assert Integration.objects.get().key_digest == key_digest(new)
    assert post_json(Client(), "/v2/enqueue", trigger(old, "after")).status_code == 400
    assert post_json(Client(), "/v2/enqueue", trigger(new, "after")).status_code == 202
