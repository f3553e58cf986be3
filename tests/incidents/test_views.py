"""Incident pages: the list, an incident and its actions, declare and engage development."""

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries

from incidents.engine import escalation_sweep
from incidents.models import EscalationState, Incident, Severity, Status, TimelineKind, Via
from incidents.services import (
    incident_acknowledge,
    incident_add_note,
    incident_declare,
    incident_resolve,
)
from notifications.models import Channel, Notification
from notifications.models import Status as NotificationStatus
from oncall.models import User
from oncall.roles import SUPPORT
from rotations.models import ContactMode, Team
from tests.factories import (
    ApiKeyFactory,
    DirectNumberFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IncidentFactory,
    TeamFactory,
    UserFactory,
)
from tests.incidents.conftest import T0, Core, answers_suggesting

pytestmark = pytest.mark.django_db

FIVE_WS = {
    "who": "all EU shoppers",
    "what": "checkout 500s",
    "where": "eu-west",
    "when": "14:50 UTC",
    "how": "deploy 812",
}
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def support(db: None) -> User:
    return UserFactory.create(
        username="sam", first_name="Sam", last_name="Support", roles=[SUPPORT], phone="+15551234567"
    )


@pytest.fixture
def platform(db: None) -> Team:
    team = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    DirectNumberFactory.create(team=team, label="Frank (platform lead)", phone="+15551230001")
    DirectNumberFactory.create(team=team, label="Grace", phone="+15551230002")
    return team


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def declare(core: Core, **kwargs: Any) -> Incident:
    return incident_declare(
        title=kwargs.pop("title", "Checkout down"),
        actor=core.people["john"],
        team=core.team,
        **kwargs,
    )


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("at", "id").values_list("kind", flat=True))


# --------------------------------------------------------------------------- login


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/incidents/"),
        ("get", "/incidents/mine/"),
        ("get", "/incidents/declare/"),
        ("post", "/incidents/declare/"),
        ("get", "/incidents/engage/"),
        ("post", "/incidents/engage/"),
        ("get", "/incidents/engage/preview/"),
        ("get", "/incidents/{pk}/"),
        ("get", "/incidents/{pk}/live/"),
        *[
            ("post", f"/incidents/{{pk}}/{action}/")
            for action in (
                "acknowledge",
                "resolve",
                "reopen",
                "escalate",
                "reassign",
                "severity",
                "commander",
                "note",
                "status-update",
                "triage",
                "call",
            )
        ],
    ],
)
def test_every_page_needs_login(client: Client, core: Core, method: str, url: str) -> None:
    incident = declare(core)
    response = getattr(client, method)(url.format(pk=incident.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert Incident.objects.count() == 1


def test_nav_and_home_link_to_the_incident_pages(client: Client, core: Core) -> None:
    # An engineer's home (support roles get the live support dashboard at "/" instead).
    client.force_login(core.people["alice"])
    html = client.get("/").content.decode()
    for url in ("/incidents/", "/incidents/declare/", "/incidents/engage/", "/incidents/mine/"):
        assert f'href="{url}"' in html
    assert 'hx-get="/incidents/mine/"' in html


def test_supports_home_is_the_dashboard_with_the_same_links(client: Client, support: User) -> None:
    client.force_login(support)
    html = client.get("/").content.decode()
    for url in ("/incidents/", "/incidents/declare/", "/incidents/engage/"):
        assert f'href="{url}"' in html
    assert 'id="support-dashboard"' in html


def test_my_incidents_lists_what_i_declared_and_counts_every_open_one(
    client: Client, core: Core, support: User
) -> None:
    mine = incident_declare(title="Search is slow", actor=support, team=core.team)
    declare(core, title="Someone else's")
    client.force_login(support)
    response = client.get("/incidents/mine/", headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert mine.number in html
    assert "Someone else&#x27;s" not in html
    assert re.search(r'class="open-count">2<', html)


# --------------------------------------------------------------------------- the list


def test_list_shows_open_incidents_first_then_the_recently_resolved(
    client: Client, core: Core, support: User
) -> None:
    bob = core.people["bob"]
    older = declare(core, title="Older and acknowledged", severity=Severity.SEV1)
    escalation_sweep()  # bob is paged
    incident_acknowledge(incident=older, actor=bob)
    fresh = declare(core, title="Fresh and triggered", severity=Severity.SEV0)
    done = declare(core, title="Done already")
    incident_resolve(incident=done, actor=bob)
    client.force_login(support)
    html = client.get("/incidents/").content.decode()
    positions = [html.index(i.number + "</strong>") for i in (fresh, older, done)]
    assert positions == sorted(positions)
    row = html[html.index(f'id="incident-row-{older.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "sev-sev1" in row
    assert "status-acknowledged" in row
    assert "Core" in row
    assert bob.name in row
    assert 'hx-trigger="every 15s"' in html
    assert "<html" in html


def test_list_filters_by_status_severity_and_team(
    client: Client, core: Core, support: User, platform: Team
) -> None:
    sev1 = declare(core, title="Major one", severity=Severity.SEV1)
    sev3 = declare(core, title="Minor one", severity=Severity.SEV3)
    acked = declare(core, title="Acked one")
    escalation_sweep()  # bob is paged
    incident_acknowledge(incident=acked, actor=core.people["bob"])
    other = incident_declare(title="Platform one", actor=support, team=platform)
    resolved = declare(core, title="Resolved one")
    incident_resolve(incident=resolved, actor=None)
    client.force_login(support)

    def shown(query: str) -> set[str]:
        html = client.get(f"/incidents/?{query}", headers=HTMX).content.decode()
        return set(re.findall(r"<strong>(INC-\d+)</strong>", html))

    assert shown("severity=SEV1") == {sev1.number}
    assert shown("status=acknowledged") == {acked.number}
    assert shown("status=resolved") == {resolved.number}
    assert shown("status=open") == {sev1.number, sev3.number, acked.number, other.number}
    assert shown("team=platform") == {other.number}
    assert shown("team=core&severity=SEV3") == {sev3.number}
    assert shown("") == {i.number for i in (sev1, sev3, acked, other, resolved)}


def test_the_list_partial_is_what_htmx_refreshes(client: Client, core: Core, support: User) -> None:
    incident = declare(core)
    client.force_login(support)
    html = client.get("/incidents/?severity=SEV2", headers=HTMX).content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="incident-list"')
    assert 'hx-get="/incidents/?severity=SEV2" hx-trigger="every 15s"' in html
    assert incident.number in html


@pytest.mark.parametrize("count", [2, 12])
def test_the_list_query_count_does_not_grow_with_incidents(
    client: Client,
    core: Core,
    support: User,
    count: int,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    for n in range(count):
        incident = IncidentFactory.create(
            team=core.team, title=f"Incident {n}", commander=core.people["carol"]
        )
        if n % 3 == 1:  # by its commander
            incident_acknowledge(incident=incident, actor=core.people["carol"])
        if n % 3 == 2:
            incident_resolve(incident=incident, actor=core.people["bob"])
    client.force_login(support)
    with django_assert_max_num_queries(7):
        response = client.get("/incidents/")
    assert response.status_code == 200
    assert response.content.decode().count('class="incident-row') == count


# --------------------------------------------------------------------------- one incident


def test_incident_page_shows_everything_support_and_engineers_need(
    client: Client, core: Core, support: User
) -> None:
    incident = incident_declare(
        title="Checkout down",
        actor=support,
        team=core.team,
        severity=Severity.SEV1,
        ticket="CSD-123",
        requester_name="John",
        requester_phone="+1-202-555-0143",
        bridge="https://meet.example.com/checkout",
        commander=core.people["morgan"],
        five_ws=FIVE_WS,
    )
    escalation_sweep()  # the first step pages bob (account email, no contact methods)
    failed = Notification.objects.filter(subject_type="incident", subject_id=incident.pk).first()
    assert failed is not None
    Notification.objects.filter(pk=failed.pk).update(
        status=NotificationStatus.FAILED, last_error="SMTP 550: mailbox unavailable"
    )
    client.force_login(support)
    response = client.get(f"/incidents/{incident.pk}/")
    html = response.content.decode()
    words = text(html)
    assert response.status_code == 200
    assert f"{incident.number} Checkout down" in words
    assert "sev-sev1" in html
    assert "status-triggered" in html
    assert 'href="tel:+1-202-555-0143"' in html
    assert 'href="https://meet.example.com/checkout"' in html
    assert "CSD-123" in words
    assert core.people["morgan"].name in words
    for answer in FIVE_WS.values():
        assert answer in words
    # Triage is due 30 minutes after the trigger, shown in the viewer's timezone (New York).
    assert "Not confirmed yet: due by Tue 13 Jan, 10:30 EST" in words
    assert 'title="Tue 13 Jan 2026, 15:30 UTC"' in html
    # The escalation track, who it paged and when it acts next.
    assert "Core: veteran list" in words or "main" in words
    assert f"{core.people['bob'].name} (" in words
    # The page that failed, with its error.
    assert "page-status-failed" in html
    assert "SMTP 550: mailbox unavailable" in words
    # The timeline, newest first.
    paged_at = html.index("event-paged")
    declared_at = html.index("event-declared")
    assert paged_at < declared_at


def test_a_missing_incident_is_404(client: Client, support: User) -> None:
    client.force_login(support)
    assert client.get("/incidents/999/").status_code == 404


# --------------------------------------------------------------------------- live refresh


def test_the_incident_page_polls_its_live_regions_while_open(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    client.force_login(support)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    header = html[html.index('<div id="incident-status"') :]
    header = header[: header.index('<div class="actions-row">')]
    assert f'hx-get="/incidents/{incident.pk}/live/" hx-trigger="every 15s"' in header
    assert "<form" not in header  # what refreshes holds nothing anyone types into
    for region in ('id="escalation"', 'id="pages"', 'id="timeline-events"'):
        assert region in html
    assert "hx-swap-oob" not in html


def test_the_live_partial_answers_only_what_changes(
    client: Client,
    core: Core,
    support: User,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    incident = declare(core)
    escalation_sweep()
    client.force_login(support)
    incident_acknowledge(incident=incident, actor=core.people["bob"])  # elsewhere

    with django_assert_max_num_queries(8):
        response = client.get(f"/incidents/{incident.pk}/live/", headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(
        f'<div id="incident-status" hx-get="/incidents/{incident.pk}/live/" '
        'hx-trigger="every 15s" hx-target="this" hx-swap="outerHTML">'
    )
    assert 'data-status="acknowledged"' in html
    assert core.people["bob"].name in text(html)
    # The other regions go out of band; the forms never come back.
    for region in (
        'id="incident-quick-actions"',
        'id="escalation"',
        'id="pages"',
        'id="timeline-events"',
    ):
        assert re.search(rf'{region}[^>]*hx-swap-oob="true"', html), region
    assert 'id="acknowledge"' not in html  # nothing left to acknowledge
    for field in ("<textarea", "<select", 'type="text"', 'id="triage"', 'id="status-updates"'):
        assert field not in html
    assert 'class="notice"' not in html
    lines = dict(timeline_lines(html))
    assert lines[TimelineKind.ACKNOWLEDGED].endswith(
        f"Acknowledged — {core.people['bob'].name} via dashboard"
    )


def test_the_live_partial_stops_polling_once_resolved(
    client: Client, core: Core, support: User
) -> None:
    incident = incident_resolve(incident=declare(core), actor=core.people["bob"])
    client.force_login(support)
    html = client.get(f"/incidents/{incident.pk}/live/", headers=HTMX).content.decode()
    assert html.lstrip().startswith('<div id="incident-status">')
    assert 'data-status="resolved"' in html
    assert "hx-trigger" not in html
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'hx-get="/incidents/{incident.pk}/live/"' not in page


def test_the_live_partial_without_htmx_is_the_page(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    client.force_login(support)
    response = client.get(f"/incidents/{incident.pk}/live/")
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"


def test_the_live_partial_of_a_missing_incident_is_404(client: Client, support: User) -> None:
    client.force_login(support)
    assert client.get("/incidents/999/live/", headers=HTMX).status_code == 404
    assert client.get("/incidents/999/live/").status_code == 404


def _prepare(core: Core, action: str, platform: Team, support: User) -> Incident:
    if action == "call":
        return incident_declare(title="Platform down", actor=support, team=platform)
    incident = declare(core)
    if action == "reopen":
        incident = incident_resolve(incident=incident, actor=core.people["bob"])
    if action in ("escalate", "acknowledge"):
        escalation_sweep()  # the first step ran (bob is paged); the next waits 10 minutes
    return incident


ACTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("acknowledge", {}, TimelineKind.ACKNOWLEDGED),
    ("resolve", {"note": "rolled back deploy 812"}, TimelineKind.RESOLVED),
    ("reopen", {"reason": "errors are back"}, TimelineKind.REOPENED),
    ("escalate", {}, TimelineKind.ESCALATED_NOW),
    ("reassign", {"user": "carol"}, TimelineKind.REASSIGNED),
    ("reassign", {"policy": "policy"}, TimelineKind.REASSIGNED),
    ("severity", {"severity": "SEV0"}, TimelineKind.SEVERITY),
    ("commander", {"commander": "morgan"}, TimelineKind.COMMANDER),
    ("note", {"text": "looking at the deploy"}, TimelineKind.NOTE),
    ("status-update", {"message": "Rolled back; watching."}, TimelineKind.STATUS_UPDATE),
    ("triage", {"severity": "SEV1", **FIVE_WS, **answers_suggesting("SEV1")}, TimelineKind.TRIAGE),
    ("call", {"number": "+15551230001", "outcome": "Frank is joining"}, TimelineKind.CALL),
]


def _form_data(core: Core, data: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(data)
    for name in ("user", "commander"):
        if name in resolved:
            resolved[name] = core.people[resolved[name]].pk
    if "policy" in resolved:
        policy = EscalationPolicyFactory.create(team=core.team, name="Checkout experts")
        EscalationStepFactory.create(policy=policy, users=[core.people["dave"]], action="users")
        resolved["policy"] = policy.pk
    return resolved


def _check_state(incident: Incident, action: str, data: dict[str, Any], core: Core) -> None:
    incident.refresh_from_db()
    expected: dict[str, Any] = {
        "acknowledge": lambda: incident.acknowledged_by == core.people["bob"],
        "resolve": lambda: incident.status == Status.RESOLVED,
        "reopen": lambda: incident.status == Status.TRIGGERED,
        "escalate": lambda: incident.escalation_states.filter(next_action_at=T0).exists(),
        "reassign": lambda: incident.escalation_states.filter(generation=2).exists(),
        "severity": lambda: incident.severity == "SEV0",
        "commander": lambda: incident.commander == core.people["morgan"],
        "note": lambda: incident.timeline.filter(message="looking at the deploy").exists(),
        "status-update": lambda: incident.status_updates.get().message == data.get("message"),
        "triage": lambda: (
            incident.triage_confirmed_at is not None and incident.who == FIVE_WS["who"]
        ),
        "call": lambda: incident.timeline.filter(data__number="+15551230001").exists(),
    }
    assert expected[action](), f"{action} did not change the incident"


@pytest.mark.parametrize(("action", "data", "kind"), ACTIONS)
def test_each_action_works_without_javascript(
    client: Client,
    core: Core,
    platform: Team,
    support: User,
    action: str,
    data: dict[str, Any],
    kind: str,
) -> None:
    incident = _prepare(core, action, platform, support)
    before = incident.timeline.filter(kind=kind).count()
    client.force_login(core.people["bob"])
    response = client.post(f"/incidents/{incident.pk}/{action}/", _form_data(core, data))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == f"/incidents/{incident.pk}/"
    _check_state(incident, action, data, core)
    assert incident.timeline.filter(kind=kind).count() == before + 1
    event = incident.timeline.filter(kind=kind).latest("id")
    assert event.actor == core.people["bob"]
    page = client.get(response["Location"]).content.decode()
    assert 'class="success"' in page  # the message shown after the redirect


@pytest.mark.parametrize(("action", "data", "kind"), ACTIONS)
def test_each_action_answers_htmx_with_the_incident_region(
    client: Client,
    core: Core,
    platform: Team,
    support: User,
    action: str,
    data: dict[str, Any],
    kind: str,
) -> None:
    incident = _prepare(core, action, platform, support)
    client.force_login(core.people["bob"])
    response = client.post(
        f"/incidents/{incident.pk}/{action}/", _form_data(core, data), headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="incident"')
    assert 'class="notice"' in html
    assert incident.timeline.filter(kind=kind).exists()
    _check_state(incident, action, data, core)


def test_acknowledging_swaps_the_status_badge(client: Client, core: Core) -> None:
    incident = declare(core)
    escalation_sweep()  # bob is paged
    client.force_login(core.people["bob"])
    html = client.post(f"/incidents/{incident.pk}/acknowledge/", headers=HTMX).content.decode()
    assert 'data-status="acknowledged"' in html
    assert 'id="acknowledge"' not in html  # nothing left to acknowledge
    assert "paging stopped" in html


def test_an_illegal_transition_shows_a_message_and_changes_nothing(
    client: Client, core: Core
) -> None:
    incident = incident_resolve(incident=declare(core), actor=None)
    events = incident.timeline.count()
    client.force_login(core.people["bob"])

    response = client.post(f"/incidents/{incident.pk}/acknowledge/", headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in html
    assert "it cannot become acknowledged" in html

    response = client.post(f"/incidents/{incident.pk}/acknowledge/", follow=True)
    assert response.redirect_chain == [(f"/incidents/{incident.pk}/", 302)]
    page = response.content.decode()
    assert 'class="error"' in page
    assert "it cannot become acknowledged" in page

    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.RESOLVED, None)
    assert incident.timeline.count() == events


def test_escalating_an_acknowledged_incident_is_refused(client: Client, core: Core) -> None:
    incident = declare(core)
    escalation_sweep()  # bob is paged
    incident = incident_acknowledge(incident=incident, actor=core.people["bob"])
    client.force_login(core.people["bob"])
    html = client.post(f"/incidents/{incident.pk}/escalate/", headers=HTMX).content.decode()
    assert "only a triggered incident escalates" in html
    assert not incident.timeline.filter(kind=TimelineKind.ESCALATED_NOW).exists()


def test_an_invalid_action_form_shows_its_errors_and_changes_nothing(
    client: Client, core: Core
) -> None:
    incident = declare(core)
    client.force_login(core.people["bob"])
    data = {"severity": "SEV1", **FIVE_WS, "how": ""}

    response = client.post(f"/incidents/{incident.pk}/triage/", data)
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()

    response = client.post(f"/incidents/{incident.pk}/triage/", data, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "This field is required." in html
    assert '<details class="triage-form" open>' in html

    response = client.post(f"/incidents/{incident.pk}/reassign/", {}, headers=HTMX)
    assert "Choose either a person or an escalation policy." in response.content.decode()

    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    assert not incident.timeline.filter(
        kind__in=[TimelineKind.TRIAGE, TimelineKind.REASSIGNED]
    ).exists()


# --------------------------------------------------------------------------- the timeline

TIMELINE_LINE = re.compile(r'<li class="event event-(\w+)">(.*?)</li>', re.S)


def timeline_lines(html: str) -> list[tuple[str, str]]:
    """(kind, the line's words) of each timeline row on the page, newest first."""
    return [(kind, text(body)) for kind, body in TIMELINE_LINE.findall(html)]


def _act_on_the_dashboard(client: Client, user: User, incident: Incident) -> None:
    client.force_login(user)
    for action, data in (
        ("acknowledge", {}),
        ("note", {"text": "looking at the deploy"}),
        ("status-update", {"message": "Rolled back; watching."}),
        ("resolve", {"note": "rolled back deploy 812"}),
    ):
        response = client.post(f"/incidents/{incident.pk}/{action}/", data)
        assert response.status_code == 302, response.content.decode()[:2000]


def _act_through_the_api(client: Client, user: User, incident: Incident) -> None:
    key: Any = ApiKeyFactory.create(user=user)
    auth = {"Authorization": f"Bearer {key.secret}"}
    base = f"/api/v1/incidents/{incident.pk}"
    for action, data in (
        ("acknowledge", {}),
        ("notes", {"text": "looking at the deploy"}),
        ("status-updates", {"message": "Rolled back; watching."}),
        ("resolve", {"note": "rolled back deploy 812"}),
    ):
        response = client.post(
            f"{base}/{action}/", data, content_type="application/json", headers=auth
        )
        assert response.status_code in (200, 201), response.content.decode()[:2000]


@pytest.mark.parametrize(
    ("via", "act"), [(Via.DASHBOARD, _act_on_the_dashboard), (Via.API, _act_through_the_api)]
)
def test_each_timeline_line_names_who_did_it_and_how_once(
    client: Client,
    core: Core,
    support: User,
    via: str,
    act: Callable[[Client, User, Incident], None],
) -> None:
    incident = declare(core)
    escalation_sweep()  # bob is paged
    bob = core.people["bob"]
    act(client, bob, incident)

    client.force_login(support)
    lines = timeline_lines(client.get(f"/incidents/{incident.pk}/").content.decode())
    by = f"— {bob.name} via {Via(via).label.lower()}"
    expected: dict[str, str] = {
        TimelineKind.ACKNOWLEDGED: f"Acknowledged {by}",
        TimelineKind.NOTE: f"looking at the deploy {by}",
        TimelineKind.STATUS_UPDATE: f"Rolled back; watching. {by}",
        TimelineKind.RESOLVED: f"Resolved: rolled back deploy 812 {by}",
    }
    shown = {kind: line for kind, line in lines if kind in expected}
    assert set(shown) == set(expected)
    for kind, line in shown.items():
        assert line.count(bob.name) == 1, line
        assert line.endswith(expected[kind]), line
    declared = next(line for kind, line in lines if kind == TimelineKind.DECLARED)
    assert declared.endswith(f"— {core.people['john'].name} via dashboard")

    # The API keeps who and how apart from the words, and the words say it nowhere.
    client.force_login(bob)
    timeline = client.get(f"/api/v1/incidents/{incident.pk}/").json()["timeline"]
    rows = [row for row in timeline if row["kind"] in expected]
    assert len(rows) == len(expected)
    for row in rows:
        assert (row["actor"]["username"], row["via"]) == ("bob", via)
        assert bob.name not in row["message"]
        assert " via " not in row["message"]


def test_timeline_lines_without_a_person_say_how_or_nothing(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    escalation_sweep()  # the system pages bob: the system's own step, no attribution
    incident_acknowledge(incident=incident, actor=None, via=Via.INTEGRATION)
    incident_add_note(incident=incident, text="seen in the logs", actor=support, via=Via.SYSTEM)
    client.force_login(support)
    lines = dict(timeline_lines(client.get(f"/incidents/{incident.pk}/").content.decode()))
    assert lines[TimelineKind.ACKNOWLEDGED].endswith("Acknowledged — via integration")
    assert "—" not in lines[TimelineKind.PAGED]
    assert lines[TimelineKind.NOTE].endswith(f"seen in the logs — {support.name}")


# --------------------------------------------------------------------------- declare


def test_declare_form_shows_severities_with_their_p_aliases(client: Client, support: User) -> None:
    client.force_login(support)
    html = client.get("/incidents/declare/").content.decode()
    for level in ("SEV0 / P0", "SEV1 / P1", "SEV2 / P2", "SEV3 / P3"):
        assert level in html
    assert 'hx-post="/incidents/declare/"' in html


def test_declaring_opens_the_incident_and_redirects_to_it(
    client: Client, core: Core, support: User
) -> None:
    client.force_login(support)
    response = client.post(
        "/incidents/declare/",
        {
            "title": "Checkout down",
            "severity": "SEV1",
            "team": core.team.pk,
            "description": "500s on /checkout",
            "commander": core.people["morgan"].pk,
            "ticket": "csd-9",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert (incident.severity, incident.team, incident.ticket) == ("SEV1", core.team, "CSD-9")
    assert (incident.commander, incident.declared_by) == (core.people["morgan"], support)
    assert kinds(incident)[0] == TimelineKind.DECLARED
    assert incident.escalation_states.exists()


def test_declare_errors_show_inline_and_nothing_is_stored(
    client: Client, core: Core, support: User
) -> None:
    other = TeamFactory.create(slug="search", name="Search")
    policy = EscalationPolicyFactory.create(team=other, name="Search policy")
    client.force_login(support)
    data = {"title": "", "severity": "SEV9", "team": core.team.pk, "escalation_policy": policy.pk}

    response = client.post("/incidents/declare/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "<html" in html
    assert "This field is required." in html
    assert "Select a valid choice." in html

    response = client.post("/incidents/declare/", {**data, "title": "Slow"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<form method="post" action="/incidents/declare/"')
    assert "This policy belongs to Search." in html
    assert Incident.objects.count() == 0


def test_declaring_through_htmx_redirects_the_browser(
    client: Client, core: Core, support: User
) -> None:
    client.force_login(support)
    response = client.post(
        "/incidents/declare/",
        {"title": "Checkout down", "severity": "SEV2", "team": core.team.pk},
        headers=HTMX,
    )
    incident = Incident.objects.get()
    assert response["HX-Redirect"] == f"/incidents/{incident.pk}/"


def test_the_declare_form_takes_the_category(client: Client, core: Core, support: User) -> None:
    client.force_login(support)
    base = {"title": "Card numbers in a log", "severity": "SEV1", "team": core.team.pk}
    assert client.post("/incidents/declare/", {**base, "category": "nope"}).status_code == 400
    assert Incident.objects.count() == 0
    client.post("/incidents/declare/", {**base, "category": "security"})
    client.post("/incidents/declare/", base)  # no category given: other
    assert sorted(Incident.objects.values_list("category", flat=True)) == ["other", "security"]


# --------------------------------------------------------------------------- engage


def test_engage_form_prefills_me_and_previews_the_handbook_description(
    client: Client, core: Core, support: User
) -> None:
    client.force_login(support)
    html = client.get("/incidents/engage/").content.decode()
    assert 'value="Sam Support"' in html
    assert 'value="+15551234567"' in html
    preview = client.get(
        "/incidents/engage/preview/",
        {"ticket": "CSD-123", "requester_name": "John", "requester_phone": "+1-202-555-0143"},
        headers=HTMX,
    ).content.decode()
    assert "Need immediate help with CSD-123 - Call John at +1-202-555-0143" in preview
    assert "<html" not in preview


def test_engaging_creates_one_incident_with_the_handbook_description(
    client: Client, core: Core, support: User
) -> None:
    client.force_login(support)
    response = client.post(
        "/incidents/engage/",
        {
            "team": core.team.pk,
            "ticket": "CSD-123",
            "requester_name": "John",
            "requester_phone": "+1-202-555-0143",
            "bridge": "https://meet.example.com/csd-123",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    description = "Need immediate help with CSD-123 - Call John at +1-202-555-0143"
    assert (incident.description, incident.title) == (description, description)
    assert (incident.source, incident.bridge) == ("engage", "https://meet.example.com/csd-123")
    assert kinds(incident)[0] == TimelineKind.ENGAGED
    # The veteran walk and the new tier's on-call, on one incident.
    assert sorted(incident.escalation_states.values_list("track", flat=True)) == [
        "new",
        "veteran",
    ]
    page = client.get(response["Location"]).content.decode()
    assert 'href="tel:+1-202-555-0143"' in page


def test_engaging_a_call_directly_team_shows_the_numbers_and_pages_nobody(
    client: Client, platform: Team, support: User
) -> None:
    client.force_login(support)
    preview = client.get(
        "/incidents/engage/preview/", {"team": str(platform.pk), "ticket": "CSD-7"}, headers=HTMX
    ).content.decode()
    assert "Platform is called directly" in preview
    assert 'href="tel:+15551230001"' in preview

    response = client.post(
        "/incidents/engage/",
        {
            "team": platform.pk,
            "ticket": "CSD-7",
            "requester_name": "Sam",
            "requester_phone": "+1 202 555 0143",
        },
        follow=True,
    )
    incident = Incident.objects.get()
    html = response.content.decode()
    assert response.redirect_chain == [(f"/incidents/{incident.pk}/", 302)]
    assert incident.contact_mode == "call"
    assert TimelineKind.CALL_DIRECTLY in kinds(incident)
    assert "call them directly now" in html
    assert 'href="tel:+15551230001"' in html
    assert 'href="tel:+15551230002"' in html
    assert f'action="/incidents/{incident.pk}/call/"' in html
    escalation_sweep()
    assert not EscalationState.objects.filter(incident=incident).exists()
    assert not Notification.objects.filter(subject_type="incident").exists()


def test_engage_errors_show_inline_and_nobody_is_paged(
    client: Client, core: Core, support: User
) -> None:
    client.force_login(support)
    data = {"team": core.team.pk, "ticket": "not a ticket", "requester_name": "", "bridge": ""}
    response = client.post("/incidents/engage/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Give a ticket key like CSD-123." in html
    assert "This field is required." in html

    response = client.post("/incidents/engage/", data, headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<form method="post" action="/incidents/engage/"')
    assert "Give a ticket key like CSD-123." in html
    assert Incident.objects.count() == 0
    assert Notification.objects.count() == 0


def test_channels_show_on_the_pages_table(client: Client, core: Core, support: User) -> None:
    incident = declare(core)
    escalation_sweep()
    client.force_login(support)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    row = html[html.index('id="pages"') :]
    assert Channel.EMAIL.label in row
    assert core.people["bob"].email in row


# --------------------------------------------------------------------------- acknowledging


def test_home_lists_first_the_incidents_paging_me_with_acknowledge_buttons(
    client: Client, core: Core, support: User
) -> None:
    bob = core.people["bob"]
    paging = declare(core, title="Paging bob")
    escalation_sweep()  # bob, on top of the veteran list, is paged
    commanded = declare(core, title="Carol's", commander=bob)  # his, but nobody paged yet
    client.force_login(bob)

    html = client.get("/incidents/mine/", headers=HTMX).content.decode()

    assert html.index("Paging you now") < html.index(paging.number) < html.index("My open")
    assert f'hx-post="/incidents/mine/{paging.pk}/acknowledge/"' in html
    assert commanded.number in html[html.index("My open") :]
    assert f"/incidents/mine/{commanded.pk}/acknowledge/" not in html

    answer = client.post(f"/incidents/mine/{paging.pk}/acknowledge/", headers=HTMX)
    html = answer.content.decode()
    assert html.lstrip().startswith('<section class="card" id="my-incidents"')
    assert f"{paging.number} acknowledged" in html
    assert "Paging you now" not in html
    paging.refresh_from_db()
    assert (paging.status, paging.acknowledged_by) == (Status.ACKNOWLEDGED, bob)

    # Support, who declared nothing of this and is paged by nothing, sees no such list.
    client.force_login(support)
    assert "Paging you now" not in client.get("/incidents/mine/").content.decode()


def test_acknowledging_for_someone_else_asks_first_and_records_it(
    client: Client, core: Core
) -> None:
    carol, bob = core.people["carol"], core.people["bob"]
    incident = declare(core, commander=carol)
    escalation_sweep()  # bob is paged, carol commands
    client.force_login(carol)

    asked = client.post(f"/incidents/{incident.pk}/acknowledge/", headers=HTMX)
    assert asked["HX-Redirect"] == f"/incidents/{incident.pk}/acknowledge/"
    plain = client.post(f"/incidents/{incident.pk}/acknowledge/")
    assert plain.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED

    question = text(client.get(f"/incidents/{incident.pk}/acknowledge/").content.decode())
    assert f"You were not paged for {incident.number}." in question
    assert f"Acknowledge on behalf of {bob}?" in question

    done = client.post(f"/incidents/{incident.pk}/acknowledge/", {"on_behalf": "1"})
    assert done.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.ACKNOWLEDGED, carol)
    event = incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert (event.actor, event.message) == (carol, f"Acknowledged on behalf of {bob}")


def test_acknowledging_without_a_right_is_refused_on_the_dashboard(
    client: Client, core: Core, support: User
) -> None:
    incident = declare(core)
    escalation_sweep()
    for person in (support, core.people["alice"]):
        client.force_login(person)
        html = client.post(f"/incidents/{incident.pk}/acknowledge/", headers=HTMX).content
        assert f"You were not paged for {incident.number}" in html.decode()
        assert client.get(f"/incidents/{incident.pk}/acknowledge/").status_code == 403
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
