"""The incident page's triage panel: the countdown rendered by the server, the suggestion
as the questions are answered, saving and confirming from the form, the ticket's link and
the related incidents."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, TimelineKind
from incidents.services import incident_declare
from oncall.models import User
from oncall.roles import SUPPORT
from playbooks.services import playbook_attempt_record, playbook_entry_create
from tests.factories import UserFactory
from tests.incidents.conftest import T0, Core, answers_suggesting

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
FIVE_WS = {"who": "EU shoppers", "what": "500s", "where": "eu-west", "when": "14:50", "how": "812"}


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def support(db: None) -> User:
    return UserFactory.create(username="sam", roles=[SUPPORT], timezone="UTC")


def declare(core: Core, **kwargs: Any) -> Incident:
    return incident_declare(
        title=kwargs.pop("title", "Checkout down"),
        actor=core.people["john"],
        team=core.team,
        **kwargs,
    )


def page(client: Client, incident: Incident) -> str:
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_countdown_is_rendered_by_the_server(
    client: Client, core: Core, support: User, frozen_now: Any
) -> None:
    incident = declare(core)
    client.force_login(support)
    frozen_now.shift(timedelta(minutes=17, seconds=55))
    html = page(client, incident)
    # 30 minutes after the trigger, 17:55 gone: 12:05 left.
    assert '<strong class="countdown-clock">12:05 left</strong>' in html
    assert f'data-deadline="{int((T0 + timedelta(minutes=30)).timestamp())}"' in html
    assert "js/triage.js" in html
    frozen_now.shift(timedelta(minutes=15, seconds=2))
    # 17:55 + 15:02 = 32:57 after the trigger: 2:57 past the 30 minutes.
    assert '<strong class="countdown-clock">2:57 overdue</strong>' in page(client, incident)


def test_no_countdown_once_confirmed(client: Client, core: Core, support: User) -> None:
    incident = declare(core)
    client.force_login(support)
    data = {"severity": "SEV2", **FIVE_WS, **answers_suggesting("SEV2")}
    client.post(f"/incidents/{incident.pk}/triage/", data)
    html = page(client, incident)
    assert "countdown-clock" not in html
    assert "Confirmed" in html


def test_the_suggestion_follows_the_answers_in_the_query(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    client.force_login(support)
    url = f"/incidents/{incident.pk}/triage/suggest/"
    html = client.get(url, answers_suggesting("SEV0"), headers=HTMX).content.decode()
    assert 'data-suggested="SEV0"' in html
    assert html.lstrip().startswith('<p id="triage-suggestion"')
    partial = client.get(url, {"users_affected": "2"}, headers=HTMX).content.decode()
    assert "Answer the five questions" in partial
    query: dict[str, Any] = {**answers_suggesting("SEV1"), "users_affected": "9"}
    bad = client.get(url, query).content.decode()
    assert "Answer the five questions" in bad
    assert client.get("/incidents/999999/triage/suggest/").status_code == 404
    incident.refresh_from_db()
    assert incident.triage_answers == {}  # nothing stored


def test_save_keeps_the_answers_without_confirming(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    client.force_login(support)
    data = {
        "who": "EU shoppers",
        "evidence": "https://logs.example.com/1\nhttps://logs.example.com/2",
        "ticket": "mct-7",
        "service": "checkout-api",
        "users_affected": "4",
        "severity": "SEV0",  # ignored: "save" never confirms
        "save": "1",
    }
    response = client.post(f"/incidents/{incident.pk}/triage/", data, headers=HTMX)
    assert "Triage notes saved." in response.content.decode()
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    assert incident.severity == "SEV2"
    assert incident.evidence == ["https://logs.example.com/1", "https://logs.example.com/2"]
    assert (incident.ticket, incident.service) == ("MCT-7", "checkout-api")
    assert incident.triage_answers == {"users_affected": 4}
    html = page(client, incident)
    assert 'name="users_affected" value="4" id="id_users_affected_3" checked' in html
    assert "How many users are affected? <strong>4 · All or most users</strong>" in html


def test_overriding_the_suggestion_in_the_form_needs_a_reason(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    client.force_login(support)
    data = {"severity": "SEV0", **FIVE_WS, **answers_suggesting("SEV2")}
    html = client.post(f"/incidents/{incident.pk}/triage/", data, headers=HTMX).content.decode()
    assert "The answers suggest SEV2; say why it is SEV0." in html
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    data["reason"] = "The CEO's demo is in an hour"
    client.post(f"/incidents/{incident.pk}/triage/", data, headers=HTMX)
    incident.refresh_from_db()
    assert (incident.severity, incident.triage_reason) == ("SEV0", "The CEO's demo is in an hour")
    assert "The CEO&#x27;s demo is in an hour" in page(client, incident)


def test_a_bad_link_is_shown_next_to_the_evidence(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    client.force_login(support)
    data = {"evidence": "javascript:alert(1)", "save": "1"}
    response = client.post(f"/incidents/{incident.pk}/triage/", data)
    assert response.status_code == 400
    assert "Give an http:// or https:// link." in response.content.decode()
    incident.refresh_from_db()
    assert incident.evidence == []
    assert not incident.timeline.filter(kind=TimelineKind.DETAILS).exists()


@override_settings(TICKET_URL_TEMPLATE="https://jira.example.com/browse/{key}")
def test_the_ticket_links_and_related_incidents_show(
    client: Client, core: Core, support: User
) -> None:
    earlier = declare(core, title="Payment webhooks stuck", ticket="MCT-42")
    incident = declare(core, title="Orders pending", ticket="MCT-42")
    client.force_login(support)
    html = page(client, incident)
    assert '<a href="https://jira.example.com/browse/MCT-42"' in html
    assert f'href="/incidents/{earlier.pk}/"' in html
    assert "same ticket" in html


def test_the_panel_reads_in_a_fixed_number_of_queries(
    client: Client, core: Core, support: User
) -> None:
    manager = UserFactory.create(username="mia", roles=["Manager"])

    def queries(incident: Incident) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/incidents/{incident.pk}/").status_code == 200
        return len(captured)

    client.force_login(support)
    lone = declare(core, title="Checkout down", service="checkout-api", ticket="MCT-1")
    client.get(f"/incidents/{lone.pk}/")  # warm the caches (severity policies, sessions)
    before = queries(lone)
    for n in range(5):
        declare(core, title=f"Checkout slow {n}", service="checkout-api", ticket="MCT-1")
        entry = playbook_entry_create(
            actor=manager,
            team=core.team,
            title=f"Entry {n}",
            applies_when="always",
            steps="1. a\n2. b",
        )
        playbook_attempt_record(
            incident=lone, entry=entry, actor=support, steps_tried=[1], outcome="failed"
        )
    # The timeline grew (one row per attempt) but the page reads it in the same queries.
    assert queries(lone) == before
