"""The postmortems REST API: every endpoint, the role matrix, stale versions, the publish
rules, action item moves, the overdue filter and bounded list queries."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from incidents.models import Incident, Severity, TimelineKind
from oncall.models import User
from postmortems.api.serializers import TIMELINE_MAX
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus
from postmortems.services import action_item_create, postmortem_start
from tests.api.conftest import assert_error, bearer_client
from tests.factories import IncidentFactory, UserFactory

API = "/api/v1"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="olga", roles=["Engineer"])


@pytest.fixture
def client_of() -> Callable[[User], Client]:
    return bearer_client


def started(owner: User, **incident: Any) -> Postmortem:
    return postmortem_start(incident=IncidentFactory.create(**incident), actor=owner)


def pm_url(postmortem: Postmortem, action: str = "") -> str:
    return f"{API}/postmortems/{postmortem.pk}/{action + '/' if action else ''}"


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, data=body, content_type="application/json")


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, data=body or {}, content_type="application/json")


def write_ready(client: Client, postmortem: Postmortem, version: int = 1) -> Any:
    """Summary and impact written, and a reason for no action items: publishable."""
    return patch(
        client,
        pm_url(postmortem),
        {
            "version": version,
            "sections": [
                {"key": "summary", "body": "Checkout failed for 20 minutes."},
                {"key": "impact", "body": "All EU shoppers."},
            ],
            "no_action_items_reason": "A one-off provider outage.",
        },
    )


# --- starting, reading, the Contract ---------------------------------------------------------


def test_post_starts_the_postmortem_of_an_incident_and_then_answers_the_same_one(
    people: dict[str, User],
) -> None:
    incident = IncidentFactory.create(severity=Severity.SEV1, title="Checkout down")
    support = bearer_client(people["support"])  # anyone may start one

    first = post(support, f"{API}/postmortems/", {"incident": incident.pk})
    again = post(bearer_client(people["manager"]), f"{API}/postmortems/", {"incident": incident.pk})

    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    body = first.json()
    assert body["incident"] == {
        "id": incident.pk,
        "number": incident.number,
        "title": "Checkout down",
        "severity": "SEV1",
    }
    assert body["owner"] == people["support"].pk
    assert body["status"] == "draft"
    assert body["version"] == 1
    assert [s["key"] for s in body["sections"]][:2] == ["summary", "impact"]
    assert set(body["sections"][0]) == {"key", "title", "body"}
    assert body["action_items"] == []
    assert set(body) == {
        "id",
        "incident",
        "title",
        "status",
        "owner",
        "due_at",
        "created_at",
        "submitted_at",
        "published_at",
        "version",
        "sections",
        "timeline",
        "action_items",
        "no_action_items_reason",
    }
    assert Postmortem.objects.filter(incident=incident).count() == 1


def test_starting_for_an_unknown_incident_is_a_400_naming_it(people: dict[str, User]) -> None:
    answer = post(bearer_client(people["engineer"]), f"{API}/postmortems/", {"incident": 999999})
    assert_error(answer, 400, field="incident")


def test_get_one_and_unknown_ids(owner: User, people: dict[str, User]) -> None:
    postmortem = started(owner)
    client = bearer_client(people["support"])  # everyone signed in reads
    answer = client.get(pm_url(postmortem))
    assert answer.status_code == 200
    assert answer.json()["id"] == postmortem.pk
    assert_error(client.get(f"{API}/postmortems/99999999999999999999/"), 404)
    assert_error(client.get(f"{API}/action-items/99999999999999999999/"), 404)
    assert_error(Client().get(pm_url(postmortem)), 403)


def test_the_list_filters_by_team_severity_status_owner_and_creation_time(
    owner: User, people: dict[str, User]
) -> None:
    with time_machine.travel(T0, tick=False):
        sev1 = started(owner, severity=Severity.SEV1)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        sev3 = started(people["manager"], severity=Severity.SEV3)
    client = bearer_client(people["engineer"])

    def ids(query: str) -> list[int]:
        answer = client.get(f"{API}/postmortems/?{query}")
        assert answer.status_code == 200, answer.content
        return [p["id"] for p in answer.json()["results"]]

    assert ids("") == [sev3.pk, sev1.pk]  # newest first
    assert ids("severity=SEV1") == [sev1.pk]
    assert ids("severity=P3") == [sev3.pk]  # the alias
    team = sev1.incident.team
    assert team is not None
    assert ids(f"team={team.slug}") == [sev1.pk]
    assert ids(f"owner={people['manager'].pk}") == [sev3.pk]
    assert ids("status=draft") == [sev3.pk, sev1.pk]
    assert ids("status=published") == []
    assert ids("since=2026-03-03T00:00:00Z") == [sev3.pk]
    assert ids("until=2026-03-03T00:00:00Z") == [sev1.pk]
    assert_error(client.get(f"{API}/postmortems/?owner=99999999999999999999"), 400, field="owner")
    assert_error(client.get(f"{API}/postmortems/?status=lost"), 400, field="status")
    assert_error(client.get(f"{API}/postmortems/?since=yesterday"), 400, field="since")


def test_the_list_reads_in_a_bounded_number_of_queries(
    owner: User, people: dict[str, User], django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(12):
        postmortem = started(owner)
        action_item_create(
            postmortem=postmortem, actor=owner, title="Alert on 5xx", owner=owner, kind="detect"
        )
    client = bearer_client(people["engineer"])
    client.get(f"{API}/postmortems/")  # warm the key cache like any later call

    with django_assert_max_num_queries(5):  # key, postmortems, sections, timeline, items
        answer = client.get(f"{API}/postmortems/")
    with django_assert_max_num_queries(2):  # key, items
        items = client.get(f"{API}/action-items/")

    assert len(answer.json()["results"]) == 12
    assert all(len(p["action_items"]) == 1 for p in answer.json()["results"])
    assert len(items.json()["results"]) == 12


# --- writing -------------------------------------------------------------------------------


def test_patch_writes_sections_title_timeline_and_bumps_the_version(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    answer = patch(
        bearer_client(owner),
        pm_url(postmortem),
        {
            "version": 1,
            "title": "Checkout outage",
            "owner": people["engineer"].pk,
            "due_at": "2026-04-01T17:00:00Z",
            "sections": [{"key": "summary", "body": "It **broke**.\n"}],
            "timeline": [
                {"at": "2026-03-02T13:00:00Z", "text": "Errors begin", "key_moment": True},
                {"at": "2026-03-02T13:20:00Z", "text": "Rolled back"},
            ],
        },
    )

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["version"] == 2
    assert body["title"] == "Checkout outage"
    assert body["owner"] == people["engineer"].pk
    assert body["due_at"] == "2026-04-01T17:00:00Z"
    assert body["sections"][0] == {"key": "summary", "title": "Summary", "body": "It **broke**.\n"}
    assert body["timeline"] == [
        {"at": "2026-03-02T13:00:00Z", "text": "Errors begin", "key_moment": True},
        {"at": "2026-03-02T13:20:00Z", "text": "Rolled back", "key_moment": False},
    ]
    assert Postmortem.objects.get(pk=postmortem.pk).revisions.count() == 1


def test_patch_refuses_bad_bodies_naming_the_field(owner: User) -> None:
    postmortem = started(owner)
    client = bearer_client(owner)
    url = pm_url(postmortem)
    assert_error(patch(client, url, {"title": "No version"}), 400, "required", field="version")
    assert_error(
        patch(client, url, {"version": 1, "sections": [{"key": "nope", "body": "x"}]}),
        400,
        field="sections",
    )
    assert_error(
        patch(
            client,
            url,
            {"version": 1, "sections": [{"key": "summary", "body": "a"}] * 2},
        ),
        400,
        field="sections",
    )
    assert_error(patch(client, url, {"version": 1, "owner": 999999}), 400, field="owner")
    assert_error(
        patch(client, url, {"version": 1, "due_at": "1999-12-31T00:00:00Z"}), 400, field="due_at"
    )
    assert_error(
        patch(client, url, {"version": 1, "timeline": [{"at": "soon", "text": "x"}]}),
        400,
        field="timeline.0.at",
    )
    assert_error(patch(client, url, {"version": 1, "title": "a\x00b"}), 400, field="title")
    assert_error(patch(client, url, {"version": 10**30}), 400, field="version")
    assert_error(client.patch(url, data=b'{"version": NaN}', content_type="application/json"), 400)
    line = {"at": "2026-03-02T13:00:00Z", "text": "x"}
    assert_error(
        patch(client, url, {"version": 1, "timeline": [line] * (TIMELINE_MAX + 1)}),
        400,
        field="timeline",
    )
    assert Postmortem.objects.get(pk=postmortem.pk).version == 1


def test_patch_clears_the_owner_and_due_time_with_null(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    client = bearer_client(people["manager"])
    kept = patch(client, pm_url(postmortem), {"version": 1, "title": "Renamed"})
    assert (kept.json()["owner"], kept.json()["due_at"] is not None) == (owner.pk, True)

    cleared = patch(client, pm_url(postmortem), {"version": 2, "owner": None, "due_at": None})

    assert cleared.status_code == 200, cleared.content
    assert (cleared.json()["owner"], cleared.json()["due_at"]) == (None, None)
    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert (fresh.owner_id, fresh.due_at, fresh.version) == (None, None, 3)


def test_a_stale_version_is_a_409_with_both_texts_and_nothing_lost(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    mine = bearer_client(owner)
    theirs = bearer_client(people["manager"])
    saved = patch(
        mine, pm_url(postmortem), {"version": 1, "sections": [{"key": "summary", "body": "Mine"}]}
    )
    assert saved.status_code == 200

    late = patch(
        theirs,
        pm_url(postmortem),
        {"version": 1, "title": "Theirs", "sections": [{"key": "summary", "body": "Theirs"}]},
    )

    assert late.status_code == 409
    error = late.json()["error"]
    assert error["code"] == "version_conflict"
    assert {"version", "sections.summary", "title"} <= set(error["fields"])
    assert error["conflict"]["current_version"] == 2
    assert error["conflict"]["theirs"] == {"sections.summary": "Mine", "title": postmortem.title}
    assert error["conflict"]["yours"] == {"sections.summary": "Theirs", "title": "Theirs"}
    fresh = mine.get(pm_url(postmortem)).json()
    assert fresh["version"] == 2
    assert fresh["sections"][0]["body"] == "Mine"
    assert fresh["title"] == postmortem.title


# --- the role matrix ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "edit", "submit"),
    [
        ("owner", 200, 200),
        ("commander", 200, 403),
        ("manager", 200, 200),
        ("support_manager", 403, 403),
        ("engineer", 403, 403),
        ("support", 403, 403),
    ],
)
def test_who_writes_and_submits(
    owner: User, people: dict[str, User], who: str, edit: int, submit: int
) -> None:
    commander = UserFactory.create(username="cmdr", roles=["Engineer"])
    postmortem = started(owner, commander=commander)
    actor = {"owner": owner, "commander": commander, **people}[who]
    client = bearer_client(actor)

    edited = patch(client, pm_url(postmortem), {"version": 1, "title": "By " + who})
    submitted = post(client, pm_url(postmortem, "submit"))
    added = post(
        client,
        pm_url(postmortem, "action-items"),
        {"title": "Alert on 5xx", "owner": owner.pk, "kind": "detect"},
    )

    assert edited.status_code == edit, edited.content
    assert submitted.status_code == submit, submitted.content
    assert added.status_code == (201 if edit == 200 else 403)
    if edit == 403:
        assert_error(edited, 403, "not_allowed")
        assert Postmortem.objects.get(pk=postmortem.pk).title == postmortem.title
    if submit == 200:
        assert submitted.json()["status"] == "in_review"
        assert submitted.json()["submitted_at"]


@pytest.mark.parametrize(
    ("who", "declared_by_support", "answer"),
    [
        ("manager", False, 200),
        ("support_manager", False, 403),
        ("support_manager", True, 200),
        ("support", True, 403),
        ("engineer", False, 403),
        ("owner", False, 403),
    ],
)
def test_who_publishes(
    owner: User, people: dict[str, User], who: str, declared_by_support: bool, answer: int
) -> None:
    declarer = people["support"] if declared_by_support else people["engineer"]
    postmortem = started(owner, declared_by=declarer)
    client_owner = bearer_client(owner)
    assert write_ready(client_owner, postmortem).status_code == 200
    assert post(client_owner, pm_url(postmortem, "submit")).status_code == 200
    actor = owner if who == "owner" else people[who]

    published = post(bearer_client(actor), pm_url(postmortem, "publish"))

    assert published.status_code == answer, published.content
    status = Postmortem.objects.get(pk=postmortem.pk).status
    assert status == (PostmortemStatus.PUBLISHED if answer == 200 else PostmortemStatus.IN_REVIEW)


# --- review and publishing ---------------------------------------------------------------


def test_publish_without_summary_impact_or_action_items_is_a_400_naming_them(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    assert post(bearer_client(owner), pm_url(postmortem, "submit")).status_code == 200

    refused = post(bearer_client(people["manager"]), pm_url(postmortem, "publish"))

    error = assert_error(refused, 400, "publish_incomplete")
    assert set(error["fields"]) == {"sections.summary", "sections.impact", "action_items"}
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.IN_REVIEW


def test_publish_then_reopen_then_illegal_moves_are_409(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    manager = bearer_client(people["manager"])
    assert_error(post(manager, pm_url(postmortem, "publish")), 409, "illegal_transition")
    assert_error(post(manager, pm_url(postmortem, "reopen")), 409, "illegal_transition")
    assert write_ready(bearer_client(owner), postmortem).status_code == 200
    assert post(bearer_client(owner), pm_url(postmortem, "submit")).status_code == 200

    published = post(manager, pm_url(postmortem, "publish"), {"version": 2})
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert published.json()["published_at"]
    # A published one is reopened before it is edited.
    assert_error(patch(manager, pm_url(postmortem), {"version": 2, "title": "x"}), 409)
    assert_error(post(bearer_client(people["engineer"]), pm_url(postmortem, "reopen")), 403)
    reopened = post(manager, pm_url(postmortem, "reopen"))
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "in_review"
    assert reopened.json()["published_at"] is None
    kinds = list(
        Incident.objects.get(pk=postmortem.incident_id).timeline.values_list("kind", flat=True)
    )
    assert TimelineKind.POSTMORTEM_PUBLISHED in kinds
    assert TimelineKind.POSTMORTEM_REOPENED in kinds


def test_publishing_a_version_that_changed_since_is_a_409(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    assert write_ready(bearer_client(owner), postmortem).status_code == 200
    assert post(bearer_client(owner), pm_url(postmortem, "submit")).status_code == 200

    refused = post(bearer_client(people["manager"]), pm_url(postmortem, "publish"), {"version": 1})

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["fields"] == {"version": ["The saved version is 2."]}
    assert error["conflict"] == {"current_version": 2, "theirs": {}, "yours": {}}
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.IN_REVIEW


# --- action items --------------------------------------------------------------------------


def test_action_items_are_added_listed_read_and_changed(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner, severity=Severity.SEV1)
    client = bearer_client(owner)
    with time_machine.travel(T0, tick=False):
        added = post(
            client,
            pm_url(postmortem, "action-items"),
            {
                "title": "Alert on 5xx",
                "owner": people["engineer"].pk,
                "kind": "detect",
                "priority": "high",
                "ticket_url": "https://jira.example.com/browse/OPS-1",
            },
        )
    assert added.status_code == 201, added.content
    item = added.json()
    assert set(item) == {
        "id",
        "postmortem",
        "title",
        "description",
        "owner",
        "kind",
        "priority",
        "status",
        "due_date",
        "ticket_url",
        "completed_at",
    }
    assert item["postmortem"] == postmortem.pk
    assert item["due_date"] == "2026-03-17"  # SEV1: P15D
    assert item["status"] == "open"

    listed = client.get(pm_url(postmortem, "action-items")).json()
    assert [i["id"] for i in listed] == [item["id"]]
    assert client.get(pm_url(postmortem)).json()["action_items"] == [item["id"]]
    one = client.get(f"{API}/action-items/{item['id']}/")
    assert one.json() == item

    changed = patch(
        client, f"{API}/action-items/{item['id']}/", {"priority": "low", "status": "in_progress"}
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["priority"], changed.json()["status"]) == ("low", "in_progress")


def test_action_item_bad_bodies_are_400_naming_the_field(owner: User) -> None:
    postmortem = started(owner)
    client = bearer_client(owner)
    url = pm_url(postmortem, "action-items")
    base = {"title": "Alert", "owner": owner.pk, "kind": "detect"}
    assert_error(post(client, url, {**base, "kind": "pray"}), 400, field="kind")
    assert_error(post(client, url, {**base, "owner": 999999}), 400, field="owner")
    assert_error(
        post(client, url, {**base, "ticket_url": "javascript:alert(1)"}), 400, field="ticket_url"
    )
    assert_error(post(client, url, {**base, "due_date": "9999-12-31"}), 400, field="due_date")
    assert_error(post(client, url, {"title": "Alert"}), 400, "required", field="owner")
    assert not ActionItem.objects.exists()


def test_action_item_status_moves_follow_the_map(owner: User, people: dict[str, User]) -> None:
    postmortem = started(owner)
    item = action_item_create(
        postmortem=postmortem, actor=owner, title="Fix", owner=people["support"], kind="repair"
    )
    url = f"{API}/action-items/{item.pk}/"
    item_owner = bearer_client(people["support"])
    stranger = bearer_client(people["engineer"])

    # The item's owner moves it on, but changes no details; a stranger does neither.
    assert_error(patch(stranger, url, {"status": "done"}), 403, "not_allowed")
    assert_error(patch(item_owner, url, {"title": "Mine"}), 403, "not_allowed")
    done = patch(item_owner, url, {"status": "done"})
    assert done.status_code == 200, done.content
    assert done.json()["completed_at"] is not None
    # done → in_progress is not a move: 409, nothing changed.
    assert_error(patch(item_owner, url, {"status": "in_progress"}), 409, "illegal_transition")
    assert ActionItem.objects.get(pk=item.pk).status == ActionItemStatus.DONE
    reopened = patch(item_owner, url, {"status": "open"})
    assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("open", None)
    # The status it already has is no move; the details are saved.
    same = patch(bearer_client(owner), url, {"title": "New title", "status": "open"})
    assert same.status_code == 200, same.content
    assert ActionItem.objects.get(pk=item.pk).title == "New title"


def test_the_action_item_list_filters_by_owner_status_and_overdue(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    engineer = people["engineer"]

    def add(title: str, who: User, due: date) -> ActionItem:
        return action_item_create(
            postmortem=postmortem, actor=owner, title=title, owner=who, kind="repair", due_date=due
        )

    late = add("Late", engineer, date(2026, 3, 1))
    late_done = add("Late but done", engineer, date(2026, 3, 1))
    future = add("Future", owner, date(2026, 3, 20))
    client = bearer_client(people["support"])
    with time_machine.travel(T0, tick=False):
        patch(bearer_client(owner), f"{API}/action-items/{late_done.pk}/", {"status": "done"})

        def ids(query: str) -> list[int]:
            answer = client.get(f"{API}/action-items/?{query}")
            assert answer.status_code == 200, answer.content
            return [i["id"] for i in answer.json()["results"]]

        assert ids("") == [late.pk, late_done.pk, future.pk]  # by due date
        assert ids("overdue=true") == [late.pk]
        assert ids("overdue=false") == [late_done.pk, future.pk]
        assert ids(f"owner={engineer.pk}") == [late.pk, late_done.pk]
        assert ids(f"owner={engineer.pk}&overdue=true") == [late.pk]
        assert ids("status=done") == [late_done.pk]
        assert ids(f"postmortem={postmortem.pk}&status=open") == [late.pk, future.pk]
        assert_error(client.get(f"{API}/action-items/?status=maybe"), 400, field="status")
        assert_error(client.get(f"{API}/action-items/?overdue=perhaps"), 400, field="overdue")
        assert_error(client.get(f"{API}/action-items/?cursor=cD1nYXJiYWdl"), 404)  # p=garbage
