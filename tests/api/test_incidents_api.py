"""The incidents API: declare, list with filters and cursors, read, change, act, engage."""

import base64
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from pytest_django import DjangoAssertNumQueries

from incidents.engine import escalation_sweep
from incidents.forms import DeclareForm, EngageForm
from incidents.models import EscalationState, Incident, Severity, Source, Status, TimelineKind
from notifications.models import Notification
from oncall.models import User
from tests.api.conftest import Core, assert_error, bearer_client
from tests.factories import IncidentFactory, IntegrationFactory, TeamFactory
from tests.integrations.support import post_json, trigger

pytestmark = pytest.mark.django_db
LIST = reverse("api:incident-list")
CONTRACT = {
    "id",
    "number",
    "title",
    "description",
    "severity",
    "status",
    "team",
    "dedup_key",
    "created_at",
    "acknowledged_at",
    "resolved_at",
}


def url(name: str, incident: Incident | int) -> str:
    return reverse(f"api:incident-{name}", args=[getattr(incident, "pk", incident)])


def post(api: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.post(path, body or {}, content_type="application/json")


def declare(api: Client, **fields: Any) -> dict[str, Any]:
    body = {"title": "Checkout down", "severity": "SEV1", "team": "core", **fields}
    response = post(api, LIST, body)
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()
    return data


def test_declare_with_a_p_alias_answers_sev_and_the_timeline(
    engineer_api: Client, core: Core, people: dict[str, User]
) -> None:
    body = declare(
        engineer_api,
        severity="P1",
        description="500s on /checkout",
        dedup_key="checkout-5xx",
        ticket="CSD-7",
        commander=people["manager"].pk,
    )

    assert set(body) >= CONTRACT
    assert body["severity"] == "SEV1"
    assert body["status"] == "triggered"
    assert body["team"] == "core"
    assert body["number"] == f"INC-{body['id']}"
    assert body["commander"] == people["manager"].pk
    assert (body["acknowledged_at"], body["resolved_at"]) == (None, None)
    assert body["timeline"][0]["kind"] == TimelineKind.DECLARED
    assert body["timeline"][0]["actor"] == {"id": people["engineer"].pk, "username": "engineer"}
    incident = Incident.objects.get(pk=body["id"])
    assert (incident.source, incident.declared_by) == (Source.API, people["engineer"])


def test_retrieve_shows_the_timeline_and_unknown_is_404(engineer_api: Client, core: Core) -> None:
    created = declare(engineer_api)

    shown = engineer_api.get(url("detail", created["id"]))

    assert shown.status_code == 200
    assert shown.json()["timeline"] == created["timeline"]
    assert_error(engineer_api.get(url("detail", 999999)), 404, "not_found")


def test_list_filters(engineer_api: Client, core: Core) -> None:
    other = TeamFactory.create(slug="vro")
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        old = IncidentFactory.create(team=core.team, title="Old disk alarm", dedup_key="disk")
    with time_machine.travel(datetime(2026, 3, 5, tzinfo=UTC), tick=False):
        sev0 = IncidentFactory.create(
            team=core.team, severity=Severity.SEV0, description="Payments are failing"
        )
        vro = IncidentFactory.create(team=other, status=Status.ACKNOWLEDGED)

    def ids(**params: str) -> list[int]:
        response = engineer_api.get(LIST, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [vro.pk, sev0.pk, old.pk]
    assert ids(status="acknowledged") == [vro.pk]
    assert ids(severity="P0") == ids(severity="SEV0") == [sev0.pk]
    assert ids(team="core") == [sev0.pk, old.pk]
    assert ids(dedup_key="disk") == [old.pk]
    assert ids(since="2026-03-02T00:00:00Z") == [vro.pk, sev0.pk]
    assert ids(until="2026-03-02T00:00:00Z") == [old.pk]
    assert ids(q="payments FAILING") == [sev0.pk]
    assert ids(q="disk") == [old.pk]
    assert ids(team="nobody") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"severity": "SEV9"}, "severity"),
        ({"since": "last tuesday"}, "since"),
    ],
)
def test_bad_filters_are_400_naming_them(
    engineer_api: Client, params: dict[str, str], field: str
) -> None:
    assert_error(engineer_api.get(LIST, params), 400, field=field)


def test_cursor_pagination_walks_every_incident_once(
    engineer_api: Client, core: Core, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    made = [IncidentFactory.create(team=core.team).pk for _ in range(5)]

    seen: list[int] = []
    page: dict[str, Any] = engineer_api.get(LIST, {"page_size": 2}).json()
    while True:
        assert set(page) == {"next", "previous", "results"}
        seen += [row["id"] for row in page["results"]]
        if not page["next"]:
            break
        with django_assert_max_num_queries(3):
            page = engineer_api.get(page["next"]).json()

    assert seen == sorted(made, reverse=True)
    assert_error(engineer_api.get(LIST, {"cursor": "garbage"}), 404, "not_found")


@pytest.mark.parametrize("position", ["²", "١٢", "99999999999999999999"])
def test_a_forged_cursor_position_is_not_a_server_error(
    engineer_api: Client, core: Core, position: str
) -> None:
    """ "²".isdigit() is true but int("²") fails: the position must be ASCII digits."""
    IncidentFactory.create(team=core.team)
    forged = base64.b64encode(urlencode({"p": position}).encode()).decode()
    response = engineer_api.get(LIST, {"cursor": forged})
    assert response.status_code in (200, 404), response.content


def test_patch_changes_details_severity_and_commander_on_the_timeline(
    engineer_api: Client, core: Core, people: dict[str, User]
) -> None:
    incident = declare(engineer_api)

    response = engineer_api.patch(
        url("detail", incident["id"]),
        {
            "title": "Checkout slow",
            "ticket": "CSD-9",
            "bridge": "https://meet.example.com/x",
            "severity": "P2",
            "commander": people["support"].pk,
        },
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["ticket"], body["severity"]) == ("Checkout slow", "CSD-9", "SEV2")
    assert body["commander"] == people["support"].pk
    kinds = [event["kind"] for event in body["timeline"]]
    assert {TimelineKind.DETAILS, TimelineKind.SEVERITY, TimelineKind.COMMANDER} <= set(kinds)
    cleared = engineer_api.patch(
        url("detail", incident["id"]), {"commander": None}, content_type="application/json"
    )
    assert cleared.json()["commander"] is None


def test_patch_refuses_bad_input_and_stores_nothing(engineer_api: Client, core: Core) -> None:
    incident = declare(engineer_api)
    path = url("detail", incident["id"])

    bad_severity = engineer_api.patch(
        path, {"title": "New", "severity": "SEV7"}, content_type="application/json"
    )
    bad_commander = engineer_api.patch(
        path, {"title": "New", "commander": 999999}, content_type="application/json"
    )

    assert_error(bad_severity, 400, field="severity")
    assert_error(bad_commander, 400, field="commander")
    assert Incident.objects.get(pk=incident["id"]).title == "Checkout down"


def test_acknowledge_resolve_reopen_and_illegal_moves(
    engineer_api: Client, manager_api: Client, core: Core
) -> None:
    incident = declare(engineer_api)["id"]

    acked = post(manager_api, url("acknowledge", incident))
    again = post(manager_api, url("acknowledge", incident))
    resolved = post(engineer_api, url("resolve", incident), {"note": "rolled back"})
    escalate = post(engineer_api, url("escalate", incident))
    reopened = post(engineer_api, url("reopen", incident), {"reason": "back again"})

    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_at"]
    assert_error(again, 409, "illegal_transition")
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"]
    assert_error(escalate, 409, "illegal_transition")
    assert reopened.json()["status"] == "triggered"
    assert reopened.json()["resolved_at"] is None
    kinds = [e["kind"] for e in reopened.json()["timeline"]]
    assert [k for k in kinds if k in ("acknowledged", "resolved", "reopened")] == [
        "acknowledged",
        "resolved",
        "reopened",
    ]


def test_an_acknowledge_by_someone_not_paged_is_a_403_and_changes_nothing(
    engineer_api: Client, as_role: Callable[[str], Client], core: Core
) -> None:
    incident = declare(engineer_api)["id"]

    for api in (engineer_api, as_role("support")):
        assert_error(post(api, url("acknowledge", incident)), 403, "acknowledge_refused")

    assert Incident.objects.get(pk=incident).status == "triggered"


def test_escalate_now_runs_the_next_step_only_while_triggered(
    engineer_api: Client, manager_api: Client, core: Core
) -> None:
    incident = declare(engineer_api)["id"]

    escalated = post(engineer_api, url("escalate", incident))
    post(manager_api, url("acknowledge", incident))

    assert escalated.status_code == 200
    assert escalated.json()["timeline"][-1]["kind"] == TimelineKind.ESCALATED_NOW
    assert_error(post(engineer_api, url("escalate", incident)), 409, "illegal_transition")


def test_actions_on_an_unknown_incident_are_404(engineer_api: Client) -> None:
    for name in ("acknowledge", "resolve", "reopen", "escalate", "notes", "status-updates"):
        assert_error(post(engineer_api, url(name, 424242), {"text": "x", "message": "x"}), 404)


def test_notes(engineer_api: Client, core: Core, people: dict[str, User]) -> None:
    incident = declare(engineer_api)["id"]

    note = post(engineer_api, url("notes", incident), {"text": "  Rolled back 1.4.2  "})

    assert note.status_code == 201
    assert note.json()["kind"] == "note"
    assert note.json()["message"] == "Rolled back 1.4.2"
    assert note.json()["actor"]["username"] == "engineer"
    assert_error(post(engineer_api, url("notes", incident), {"text": "   "}), 400, field="text")
    assert_error(post(engineer_api, url("notes", incident), {}), 400, "required", field="text")


def test_status_updates_post_and_list(
    engineer_api: Client, core: Core, mailoutbox: list[Any], settings: Any
) -> None:
    settings.COMPANY_STATUS_EMAIL = "status@example.com"
    incident = declare(engineer_api)["id"]

    posted = post(engineer_api, url("status-updates", incident), {"message": "Mitigated"})
    listed = engineer_api.get(url("status-updates", incident))

    assert posted.status_code == 201
    assert posted.json()["message"] == "Mitigated"
    assert posted.json()["severity"] == "SEV1"
    assert posted.json()["author"]["username"] == "engineer"
    assert listed.json() == [posted.json()]
    assert_error(post(engineer_api, url("status-updates", incident), {}), 400, field="message")


def test_notifications_list_each_page(
    engineer_api: Client, core: Core, people: dict[str, User]
) -> None:
    incident = IncidentFactory.create(team=core.team)
    page = Notification.objects.create(
        idempotency_key=f"inc{incident.pk}:main:s0:u{core.alice.pk}:sms",
        recipient=core.alice,
        channel="sms",
        address="+15550000001",
        subject_type="incident",
        subject_id=incident.pk,
        reason="on call",
        last_error="carrier timeout",
    )

    rows = engineer_api.get(url("notifications", incident)).json()

    assert rows == [
        {
            "id": page.pk,
            "recipient": {"id": core.alice.pk, "username": "alice"},
            "channel": "sms",
            "status": "pending",
            "reason": "on call",
            "created_at": rows[0]["created_at"],
            "sent_at": None,
            "last_error": "carrier timeout",
        }
    ]


def test_engage_development(engineer_api: Client, core: Core) -> None:
    response = post(
        engineer_api,
        reverse("api:engage"),
        {
            "team": "core",
            "ticket": "CSD-123",
            "requester": "John",
            "phone": "+1-202-555-0143",
            "bridge": "https://meet.example.com/b",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Need immediate help with CSD-123 - Call John at +1-202-555-0143"
    assert body["source"] == "engage"
    assert (body["ticket"], body["requester_phone"]) == ("CSD-123", "+1-202-555-0143")
    assert body["timeline"][0]["kind"] == TimelineKind.ENGAGED


@pytest.mark.parametrize("missing", ["team", "ticket", "requester", "phone"])
def test_engage_names_what_is_missing(engineer_api: Client, core: Core, missing: str) -> None:
    body = {"team": "core", "ticket": "CSD-1", "requester": "John", "phone": "+1-202-555-0143"}
    del body[missing]

    assert_error(post(engineer_api, reverse("api:engage"), body), 400, "required", field=missing)
    assert not Incident.objects.exists()


# What the engage form refuses, by (API field, form field, value).
ENGAGE_REFUSED = [
    ("phone", "requester_phone", "555"),
    ("phone", "requester_phone", "555-123-4567"),  # no country code: nobody abroad can dial
    ("phone", "requester_phone", "+1 555 123 4567"),  # no such area code
    ("phone", "requester_phone", "call me maybe"),
    ("ticket", "ticket", "not a ticket"),
    ("ticket", "ticket", "CSD123"),
]


@pytest.mark.parametrize(("api_field", "form_field", "value"), ENGAGE_REFUSED)
def test_engage_through_the_api_refuses_what_the_form_refuses(
    engineer_api: Client, core: Core, api_field: str, form_field: str, value: str
) -> None:
    good = {"ticket": "CSD-1", "requester_name": "John", "requester_phone": "+1-202-555-0143"}
    form = EngageForm({"team": core.team.pk, **good, form_field: value})
    assert not form.is_valid()
    assert set(form.errors) == {form_field}

    body = {"team": "core", "ticket": "CSD-1", "requester": "John", "phone": "+1-202-555-0143"}
    response = post(engineer_api, reverse("api:engage"), {**body, api_field: value})

    error = assert_error(response, 400, field=api_field)
    assert set(error["fields"]) == {api_field}
    assert error["fields"][api_field] == form.errors[form_field]
    assert not Incident.objects.exists()


def test_engage_through_the_api_takes_a_number_with_its_extension(
    engineer_api: Client, core: Core
) -> None:
    body = {"team": "core", "ticket": "csd-9 ", "requester": "Santhosh"}
    response = post(
        engineer_api, reverse("api:engage"), {**body, "phone": " +91 98123 45601 ext. 4455"}
    )

    assert response.status_code == 201, response.content
    assert (response.json()["ticket"], response.json()["requester_phone"]) == (
        "CSD-9",
        "+91 98123 45601 ext. 4455",
    )


def test_declaring_through_the_api_refuses_a_ticket_the_form_refuses(
    engineer_api: Client, core: Core
) -> None:
    body = {"title": "Checkout down", "severity": "SEV2", "team": "core", "ticket": "not a ticket"}
    form = DeclareForm(
        {
            "title": "Checkout down",
            "severity": "SEV2",
            "team": core.team.pk,
            "ticket": "not a ticket",
        }
    )
    assert not form.is_valid()
    assert set(form.errors) == {"ticket"}

    error = assert_error(
        post(engineer_api, reverse("api:incident-list"), body), 400, field="ticket"
    )
    assert error["fields"]["ticket"] == form.errors["ticket"]
    assert not Incident.objects.exists()


def test_list_query_count_is_bounded(
    engineer_api: Client, core: Core, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(10):
        IncidentFactory.create(team=core.team)

    # Key lookup, roles, then one query for the page.
    with django_assert_max_num_queries(3):
        response = engineer_api.get(LIST)

    assert len(response.json()["results"]) == 10


def test_every_role_may_work_incidents(as_role: Any, core: Core) -> None:
    for role in ("support", "support_manager", "engineer", "manager"):
        response = post(as_role(role), LIST, {"title": "x", "severity": "SEV3", "team": "core"})
        assert response.status_code == 201, role
    assert Incident.objects.count() == 4


def test_severity_policies_are_listed(engineer_api: Client) -> None:
    response = engineer_api.get(reverse("api:severity-policy-list"))

    assert response.status_code == 200
    assert isinstance(response.json(), list)


# --- dedup_key: one open incident per team and key ------------------------------------------

# A Tuesday when alice tops the core veteran list (rotations from Monday 2026-01-05).
PAGING_TIME = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)


def pages() -> int:
    return Notification.objects.filter(subject_type="incident").count()


def test_a_repeated_dedup_key_answers_200_with_the_open_incident_and_pages_nobody_again(
    engineer_api: Client, as_role: Any, core: Core, people: dict[str, User]
) -> None:
    with time_machine.travel(PAGING_TIME, tick=False):
        first = declare(engineer_api, dedup_key="checkout-5xx")
        escalation_sweep()
        paged, tracks = pages(), EscalationState.objects.count()

        again = post(
            as_role("support"),
            LIST,
            {
                "title": "Checkout still down",
                "severity": "P3",
                "team": "core",
                "dedup_key": "checkout-5xx",
            },
        )
        escalation_sweep()

    assert paged > 0
    assert again.status_code == 200, again.content
    body = again.json()
    assert body["id"] == first["id"]
    assert set(body) == set(first)  # the detail representation, as a create answers
    assert (body["title"], body["severity"], body["status"]) == (
        "Checkout down",
        "SEV1",
        "triggered",
    )
    repeat = body["timeline"][-1]
    assert repeat["kind"] == TimelineKind.ALERT
    assert repeat["actor"] == {"id": people["support"].pk, "username": "support"}
    assert repeat["via"] == "api"
    assert repeat["message"] == "Triggered again: Checkout still down"
    assert repeat["data"]["dedup_key"] == "checkout-5xx"
    assert Incident.objects.count() == 1
    assert (pages(), EscalationState.objects.count()) == (paged, tracks)


def test_an_acknowledged_incident_keeps_its_key_and_stays_acknowledged(
    engineer_api: Client, manager_api: Client, core: Core
) -> None:
    first = declare(engineer_api, dedup_key="disk")
    post(manager_api, url("acknowledge", first["id"]))

    again = post(
        engineer_api,
        LIST,
        {"title": "Disk", "severity": "SEV2", "team": "core", "dedup_key": "disk"},
    )

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "acknowledged"


def test_a_key_opens_a_new_incident_after_resolve_in_another_team_and_without_a_key(
    engineer_api: Client, core: Core
) -> None:
    TeamFactory.create(slug="vro")
    first = declare(engineer_api, dedup_key="disk")
    other_team = declare(engineer_api, dedup_key="disk", team="vro")
    no_key = [declare(engineer_api)["id"], declare(engineer_api, dedup_key="")["id"]]
    post(engineer_api, url("resolve", first["id"]))
    after_resolve = declare(engineer_api, dedup_key="disk")  # declare() asserts the 201

    assert len({first["id"], other_team["id"], after_resolve["id"], *no_key}) == 5
    assert after_resolve["dedup_key"] == "disk"


def test_reopening_while_another_open_incident_has_the_key_is_409(
    engineer_api: Client, core: Core
) -> None:
    old = declare(engineer_api, dedup_key="disk")["id"]
    post(engineer_api, url("resolve", old))
    new = declare(engineer_api, dedup_key="disk")["id"]

    refused = post(engineer_api, url("reopen", old), {"reason": "back"})

    error = assert_error(refused, 409, "dedup_key_in_use")
    assert f"INC-{new}" in error["message"]
    assert Incident.objects.get(pk=old).status == Status.RESOLVED
    post(engineer_api, url("resolve", new))
    reopened = post(engineer_api, url("reopen", old), {"reason": "back"})
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "triggered"


def test_the_api_adds_to_an_open_integration_incident_and_ingestion_keeps_its_own_keys(
    engineer_api: Client, core: Core
) -> None:
    monitoring = IntegrationFactory.create(team=core.team)
    other_tool = IntegrationFactory.create(team=core.team)
    sent = post_json(Client(), "/v2/enqueue", trigger(monitoring.key, "disk"))  # type: ignore[attr-defined]
    ingested = Incident.objects.get(dedup_key="disk")

    repeat = post(
        engineer_api,
        LIST,
        {"title": "Disk", "severity": "SEV2", "team": "core", "dedup_key": "disk"},
    )
    # Integrations key per integration: another tool's "disk" opens its own incident.
    other = post_json(Client(), "/v2/enqueue", trigger(other_tool.key, "disk"))  # type: ignore[attr-defined]

    assert (sent.status_code, other.status_code) == (202, 202)
    assert repeat.status_code == 200
    assert repeat.json()["id"] == ingested.pk
    assert Incident.objects.filter(dedup_key="disk", status=Status.TRIGGERED).count() == 2


def test_ingestion_with_the_key_of_an_open_api_incident_opens_its_own(
    engineer_api: Client, core: Core
) -> None:
    declared = declare(engineer_api, dedup_key="disk")
    monitoring = IntegrationFactory.create(team=core.team)

    sent = post_json(Client(), "/v2/enqueue", trigger(monitoring.key, "disk"))  # type: ignore[attr-defined]

    assert sent.status_code == 202
    ingested = Incident.objects.get(source=Source.INTEGRATION)
    assert ingested.pk != declared["id"]
    assert ingested.dedup_key == "disk"


def test_the_schema_documents_201_for_a_new_incident_and_200_for_a_repeat() -> None:
    schema: Any = SchemaGenerator().get_schema(request=None, public=True)
    responses = schema["paths"]["/api/v1/incidents/"]["post"]["responses"]

    for code in ("200", "201"):
        assert responses[code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/IncidentDetail"
        }
    assert "409" in schema["paths"]["/api/v1/incidents/{incident_id}/reopen/"]["post"]["responses"]


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_declares_with_one_new_key_open_exactly_one_incident(
    people: dict[str, User], core: Core
) -> None:
    api = bearer_client(people["engineer"])
    body = {"title": "Checkout down", "severity": "SEV1", "team": "core", "dedup_key": "storm"}
    barrier = threading.Barrier(20)
    answers: list[tuple[int, int]] = []

    def fire() -> None:
        try:
            barrier.wait()
            response = post(api, LIST, body)
            answers.append((response.status_code, response.json().get("id", 0)))
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    incident = Incident.objects.get(dedup_key="storm")
    assert sorted(status for status, _ in answers) == [200] * 19 + [201]
    assert {incident_id for _, incident_id in answers} == {incident.pk}
    assert incident.timeline.filter(kind=TimelineKind.ALERT).count() == 19
    assert incident.timeline.filter(kind=TimelineKind.DECLARED).count() == 1
