"""Playbooks: entries per team and service, offered on the triage panel; attempts written on
the incident's timeline; Markdown sanitised; who may edit (portal, admin, API)."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import Incident, TimelineKind
from incidents.services import incident_declare
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from playbooks.models import PlaybookAttempt, PlaybookEntry
from playbooks.selectors import playbook_entries_for
from playbooks.services import playbook_attempt_record, playbook_entry_create
from rotations.models import Team
from tests.api.conftest import assert_error, bearer_client
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
ROLES = {"support": SUPPORT, "support_manager": SUPPORT_MANAGER, "engineer": ENGINEER}
ROLES |= {"manager": MANAGER}
EDITORS = {"manager", "support_manager"}
STEPS = "1. Check the provider status\n2. Replay the webhooks\n   - with `--since 1h`\n3. Confirm"


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {key: UserFactory.create(username=key, roles=[role]) for key, role in ROLES.items()}


@pytest.fixture
def core(db: None) -> Team:
    return TeamFactory.create(slug="core", name="Core")


def entry(people: dict[str, User], team: Team, **fields: Any) -> PlaybookEntry:
    values = {
        "team": team,
        "title": "Replay webhooks",
        "applies_when": "Orders stuck pending",
        "steps": STEPS,
        **fields,
    }
    return playbook_entry_create(actor=people["manager"], **values)


def declare(people: dict[str, User], team: Team, **kwargs: Any) -> Incident:
    return incident_declare(title="Orders pending", actor=people["support"], team=team, **kwargs)


def test_the_steps_are_the_top_level_list_items(people: dict[str, User], core: Team) -> None:
    assert entry(people, core).step_list() == [
        "Check the provider status",
        "Replay the webhooks",
        "Confirm",
    ]


def test_an_incident_is_offered_its_team_and_service_entries(
    people: dict[str, User], core: Team
) -> None:
    other = TeamFactory.create(slug="payments", name="Payments")
    general = entry(people, core, title="Core: first checks")
    own = entry(people, core, title="Payments API", service="payments-api")
    elsewhere = entry(people, other, title="Payments team's", service="payments-api")
    entry(people, core, title="Search only", service="search")
    entry(people, other, title="Payments general")
    entry(people, core, title="Retired", is_active=False)
    incident = declare(people, core, service="payments-api")
    offered = [e.title for e in playbook_entries_for(incident=incident)]
    # The service's own first (by title), then the team's general ones.
    assert offered == [own.title, elsewhere.title, general.title]
    plain = declare(people, core)
    assert [e.title for e in playbook_entries_for(incident=plain)] == [general.title]


def test_an_attempt_writes_a_playbook_row_on_the_timeline(
    people: dict[str, User], core: Team
) -> None:
    book = entry(people, core)
    incident = declare(people, core)
    attempt = playbook_attempt_record(
        incident=incident,
        entry=book,
        actor=people["support"],
        steps_tried=[2, 1, 2],
        outcome="failed",
        note="Still pending after the replay",
    )
    assert attempt.steps_tried == [1, 2]
    event = incident.timeline.get(kind=TimelineKind.PLAYBOOK)
    assert event.actor == people["support"]
    assert event.data == {
        "attempt_id": attempt.pk,
        "entry_id": book.pk,
        "steps": [1, 2],
        "outcome": "failed",
    }
    assert event.message == (
        "Playbook “Replay webhooks” tried (steps 1, 2): did not work. Still pending after the replay"
    )


@pytest.mark.parametrize(
    ("steps", "outcome", "field"),
    [
        ([], "worked", "steps_tried"),
        ([4], "worked", "steps_tried"),
        ([0], "worked", "steps_tried"),
        ([1], "maybe", "outcome"),
    ],
)
def test_a_bad_attempt_is_refused_and_writes_nothing(
    people: dict[str, User], core: Team, steps: list[int], outcome: str, field: str
) -> None:
    from django.core.exceptions import ValidationError

    incident = declare(people, core)
    with pytest.raises(ValidationError) as refused:
        playbook_attempt_record(
            incident=incident,
            entry=entry(people, core),
            actor=people["support"],
            steps_tried=steps,
            outcome=outcome,
        )
    assert set(refused.value.message_dict) == {field}
    assert not PlaybookAttempt.objects.exists()
    assert not incident.timeline.filter(kind=TimelineKind.PLAYBOOK).exists()


def test_the_triage_panel_offers_the_entry_and_records_an_attempt(
    client: Client, people: dict[str, User], core: Team
) -> None:
    book = entry(people, core)
    incident = declare(people, core)
    client.force_login(people["support"])
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'id="playbook-{book.pk}"' in html
    assert "<li>Replay the webhooks" in html
    url = reverse("playbooks:attempt", args=[incident.pk, book.pk])
    assert f'action="{url}"' in html
    prefix = f"pb{book.pk}"
    response = client.post(
        url, {f"{prefix}-steps_tried": ["1", "3"], f"{prefix}-outcome": "worked"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.timeline.get(kind=TimelineKind.PLAYBOOK).data["steps"] == [1, 3]
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Worked: the problem is gone" in page

    response = client.post(url, {f"{prefix}-outcome": "worked"}, follow=True)
    assert "The attempt was not recorded." in response.content.decode()
    assert PlaybookAttempt.objects.count() == 1


def test_markdown_in_steps_is_sanitised(
    client: Client, people: dict[str, User], core: Team
) -> None:
    entry(
        people,
        core,
        steps="1. <script>alert(1)</script>\n2. [click](javascript:alert(2))\n3. **ok**",
    )
    incident = declare(people, core)
    client.force_login(people["engineer"])
    for path in (f"/incidents/{incident.pk}/", "/playbooks/"):
        html = client.get(path).content.decode()
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert 'href="javascript:' not in html  # the link lost its href (shown as text)
        assert "<strong>ok</strong>" in html


@pytest.mark.parametrize("role", list(ROLES))
def test_who_may_write_entries_in_the_portal(
    client: Client, people: dict[str, User], core: Team, role: str
) -> None:
    client.force_login(people[role])
    data = {
        "team": core.pk,
        "service": "Payments-API",
        "title": "New entry",
        "applies_when": "When it breaks",
        "steps": "1. Fix it",
        "is_active": "on",
    }
    new = client.get("/playbooks/new/")
    response = client.post("/playbooks/new/", data)
    listing = client.get("/playbooks/").content.decode()
    if role in EDITORS:
        assert new.status_code == 200
        assert response.status_code == 302
        saved = PlaybookEntry.objects.get()
        assert (saved.service, saved.created_by) == ("payments-api", people[role])
        assert "New entry" in listing
        assert f'href="/playbooks/{saved.pk}/edit/"' in listing
    else:
        assert new.status_code == 403
        assert response.status_code == 403
        assert not PlaybookEntry.objects.exists()
        assert 'href="/playbooks/new/"' not in listing


def test_a_bad_entry_form_names_the_field(
    client: Client, people: dict[str, User], core: Team
) -> None:
    client.force_login(people["manager"])
    data = {
        "team": core.pk,
        "service": "two words",
        "title": "",
        "applies_when": "x",
        "steps": "1. a",
    }
    response = client.post("/playbooks/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert not PlaybookEntry.objects.exists()
    data["title"] = "Fine"
    response = client.post("/playbooks/new/", data)
    assert response.status_code == 400
    assert "Letters, digits" in response.content.decode()


@pytest.mark.parametrize("role", list(ROLES))
def test_who_may_write_entries_through_the_api(
    people: dict[str, User], core: Team, role: str
) -> None:
    api = bearer_client(people[role])
    body = {"team": "core", "title": "API entry", "applies_when": "x", "steps": "1. a\n2. b"}
    response = api.post("/api/v1/playbooks/", body, content_type="application/json")
    listed = api.get("/api/v1/playbooks/?team=core")
    assert listed.status_code == 200
    if role in EDITORS:
        assert response.status_code == 201, response.content
        assert response.json()["step_list"] == ["a", "b"]
        pk = response.json()["id"]
        changed = api.patch(
            f"/api/v1/playbooks/{pk}/", {"service": "Auth"}, content_type="application/json"
        )
        assert changed.json()["service"] == "auth"
        assert [e["title"] for e in api.get("/api/v1/playbooks/?service=auth").json()] == [
            "API entry"
        ]
    else:
        assert_error(response, 403)
        assert not PlaybookEntry.objects.exists()


def test_the_api_records_an_attempt_and_names_bad_fields(
    people: dict[str, User], core: Team
) -> None:
    book = entry(people, core)
    incident = declare(people, core)
    api = bearer_client(people["support"])
    path = f"/api/v1/incidents/{incident.pk}/playbook-attempts/"
    response = api.post(
        path,
        {"entry": book.pk, "steps_tried": [1], "outcome": "partly"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert incident.timeline.get(kind=TimelineKind.PLAYBOOK).via == "api"
    bad = api.post(
        path,
        {"entry": book.pk, "steps_tried": [9], "outcome": "partly"},
        content_type="application/json",
    )
    assert_error(bad, 400, field="steps_tried")
    assert_error(
        api.post(
            path,
            {"entry": 999, "steps_tried": [1], "outcome": "x"},
            content_type="application/json",
        ),
        400,
        field="entry",
    )
    assert_error(
        api.post(
            "/api/v1/incidents/999999/playbook-attempts/", {}, content_type="application/json"
        ),
        404,
    )
    assert PlaybookAttempt.objects.count() == 1


def test_a_postmortem_shows_the_entries_it_proposed(
    client: Client, people: dict[str, User], core: Team
) -> None:
    from incidents.services import incident_resolve
    from postmortems.models import Postmortem

    incident = declare(people, core)
    incident_resolve(incident=incident, actor=people["manager"])
    postmortem = Postmortem.objects.get(incident=incident)
    entry(people, core, title="Proposed by the review", postmortem=postmortem)
    client.force_login(people["engineer"])
    html = client.get(f"/postmortems/{postmortem.pk}/").content.decode()
    assert 'id="proposed-playbook-entries"' in html
    assert "Proposed by the review" in html
