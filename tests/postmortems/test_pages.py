"""The postmortem pages: reading, writing (with the stale-version conflict), the preview,
submit/publish/reopen, action items, My action items, and the incident page's link."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from incidents.models import Incident
from oncall.models import User
from oncall.roles import SUPPORT
from postmortems.forms import fingerprints_of, saved_values
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus
from postmortems.services import (
    TimelineLine,
    action_item_create,
    action_item_transition,
    postmortem_start,
    postmortem_submit,
    postmortem_update,
)
from tests.factories import IncidentFactory, UserFactory

HTMX = {"HX-Request": "true"}
# Every person here (the factory's default) reads and types times in this zone.
VIEWER_TZ = ZoneInfo("America/New_York")


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="olga", first_name="Olga", roles=["Engineer"])


@pytest.fixture
def commander(db: None) -> User:
    return UserFactory.create(username="cora", roles=["Engineer"])


def started(owner: User, commander: User | None = None, **incident: Any) -> Postmortem:
    return postmortem_start(
        incident=IncidentFactory.create(commander=commander, **incident), actor=owner
    )


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(postmortem: Postmortem, action: str = "") -> str:
    return f"/postmortems/{postmortem.pk}/{action + '/' if action else ''}"


def edit_body(postmortem: Postmortem, **changes: str) -> dict[str, str]:
    """What the writing form posts, as the page showed it, with `changes` typed in."""
    postmortem = Postmortem.objects.get(pk=postmortem.pk)
    values = saved_values(postmortem)
    body = {
        "version": str(postmortem.version),
        "fingerprints": fingerprints_of(values),
        "title": values["title"],
        "owner": str(values["owner"].pk) if values["owner"] else "",
        "due_at": "",
        "no_action_items_reason": values["no_action_items_reason"],
        "timeline-TOTAL_FORMS": str(len(values["timeline"])),
        "timeline-INITIAL_FORMS": str(len(values["timeline"])),
    }
    if postmortem.due_at:
        body["due_at"] = timezone.localtime(postmortem.due_at, VIEWER_TZ).strftime("%Y-%m-%dT%H:%M")
    for n, line in enumerate(values["timeline"]):
        body[f"timeline-{n}-at"] = timezone.localtime(line.at, VIEWER_TZ).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        body[f"timeline-{n}-text"] = line.text
        if line.key_moment:
            body[f"timeline-{n}-key_moment"] = "on"
    for section in postmortem.sections.all():
        body[f"section-{section.key}"] = section.body
    body.update(changes)
    return body


# --- who sees and does what --------------------------------------------------------------


ROLES = ["anonymous", "engineer", "owner", "commander", "manager", "support_manager"]


def client_for(who: str, people: dict[str, User], owner: User, commander: User) -> Client:
    if who == "anonymous":
        return Client()
    user = {"owner": owner, "commander": commander}.get(who) or people[who]
    return as_user(user)


@pytest.mark.parametrize(
    ("who", "read", "edit", "add_item", "submit"),
    [
        ("anonymous", 302, 302, 302, 302),
        ("engineer", 200, 403, 403, 403),
        ("owner", 200, 200, 302, 302),
        ("commander", 200, 200, 302, 403),
        ("manager", 200, 200, 302, 302),
        ("support_manager", 200, 403, 403, 403),
    ],
)
def test_the_role_matrix_of_the_pages_and_their_posts(
    who: str,
    read: int,
    edit: int,
    add_item: int,
    submit: int,
    people: dict[str, User],
    owner: User,
    commander: User,
) -> None:
    postmortem = started(owner, commander)
    client = client_for(who, people, owner, commander)

    page = client.get(url(postmortem))
    assert page.status_code == read
    if read == 200:
        html = page.content.decode()
        assert ('id="edit-postmortem"' in html) == (edit == 200)
        assert ('id="submit-postmortem"' in html) == (submit == 302)
        assert ('id="add-action-item"' in html) == (add_item == 302)
    else:
        assert page["Location"].startswith("/accounts/login/")
    assert client.get(url(postmortem, "edit")).status_code == edit
    saved = client.post(url(postmortem, "edit"), edit_body(postmortem, title="Renamed"))
    assert saved.status_code == {200: 302}.get(edit, edit)
    added = client.post(
        url(postmortem, "action-items"),
        {
            "title": "Alert on 5xx",
            "owner": owner.pk,
            "kind": "detect",
            "priority": "high",
            "due_date": "2030-01-01",
        },
    )
    assert added.status_code == add_item
    # Those who may submit are sent a stale version (409, nothing moves); the others, 403.
    saved_version = Postmortem.objects.get(pk=postmortem.pk).version
    version = "99" if submit == 302 and who != "anonymous" else str(saved_version)
    moved = client.post(url(postmortem, "submit"), {"version": version})
    assert moved.status_code == (409 if version == "99" else submit)
    fresh = Postmortem.objects.get(pk=postmortem.pk)
    writer = who in ("owner", "commander", "manager")
    assert (fresh.title == "Renamed") == writer
    assert ActionItem.objects.filter(postmortem=postmortem).exists() == writer
    assert fresh.status == PostmortemStatus.DRAFT


def test_submit_then_only_a_manager_publishes_and_support_manager_for_support_incidents(
    people: dict[str, User], owner: User
) -> None:
    postmortem = started(owner)
    owners = as_user(owner)
    assert owners.post(url(postmortem, "submit"), {"version": "1"}).status_code == 302
    # Missing parts are listed by field before the button, and publishing is refused.
    manager = as_user(people["manager"])
    page = manager.get(url(postmortem)).content.decode()
    assert 'id="publish-problems"' in page
    assert 'data-field="sections.summary"' in page
    assert 'data-field="action_items"' in page
    refused = manager.post(url(postmortem, "publish"))
    assert refused.status_code == 400
    assert "Write the summary before publishing." in refused.content.decode()

    postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=Postmortem.objects.get(pk=postmortem.pk).version,
        sections={"summary": "It broke.", "impact": "Everyone."},
        no_action_items_reason="A one-off.",
    )
    assert owners.post(url(postmortem, "publish")).status_code == 403
    assert as_user(people["support_manager"]).post(url(postmortem, "publish")).status_code == 403
    assert manager.post(url(postmortem, "publish")).status_code == 302
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.PUBLISHED
    again = manager.post(url(postmortem, "publish"), headers=HTMX)
    assert again.status_code == 200
    assert "it cannot become published" in again.content.decode()
    assert manager.post(url(postmortem, "publish")).status_code == 409
    # A published one is not written: reopen it first.
    assert owners.get(url(postmortem, "edit")).status_code == 409
    assert owners.post(url(postmortem, "reopen")).status_code == 302
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.IN_REVIEW

    # Declared by support: the Support manager publishes it.
    declarer = UserFactory.create(username="sid2", roles=[SUPPORT])
    theirs = started(owner, declared_by=declarer)
    postmortem_update(
        postmortem=theirs,
        actor=owner,
        version=1,
        sections={"summary": "It broke.", "impact": "Everyone."},
        no_action_items_reason="A one-off.",
    )
    postmortem_submit(postmortem=theirs, actor=owner)
    support_manager = as_user(people["support_manager"])
    assert 'id="publish-postmortem"' in support_manager.get(url(theirs)).content.decode()
    assert support_manager.post(url(theirs, "publish")).status_code == 302


# --- writing -----------------------------------------------------------------------------


def test_saving_writes_only_what_was_touched_and_clears_owner_and_due(owner: User) -> None:
    postmortem = started(owner)
    client = as_user(owner)
    saved = client.post(
        url(postmortem, "edit"),
        edit_body(postmortem, **{"section-summary": "Checkout **failed**.\r\nFor 20 minutes."}),
    )
    assert saved.status_code == 302
    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert fresh.version == 2
    assert fresh.section_body("summary") == "Checkout **failed**.\nFor 20 minutes."
    assert fresh.revisions.get().changed == ["summary"]

    cleared = client.post(url(postmortem, "edit"), edit_body(fresh, owner="", due_at=""))
    assert cleared.status_code == 302
    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert (fresh.owner, fresh.due_at, fresh.version) == (None, None, 3)


def test_timeline_rows_are_edited_starred_added_and_removed(owner: User) -> None:
    postmortem = started(owner)
    first = timezone.now().replace(microsecond=0)
    postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=1,
        timeline=[TimelineLine(at=first, text="Paged"), TimelineLine(at=first, text="Acked")],
    )
    client = as_user(owner)
    body = edit_body(postmortem)
    rows = int(body["timeline-TOTAL_FORMS"])
    assert rows == 2
    # "Add a row" shows one more empty row and saves nothing.
    added = client.post(url(postmortem, "edit"), {**body, "add_row": "1"}, headers=HTMX)
    assert added.status_code == 200
    assert f'name="timeline-{rows}-text"' in added.content.decode()
    assert Postmortem.objects.get(pk=postmortem.pk).version == 2

    body |= {
        "timeline-TOTAL_FORMS": str(rows + 1),
        f"timeline-{rows}-at": "2030-01-02T10:00:05",
        f"timeline-{rows}-text": "Rolled back",
        f"timeline-{rows}-key_moment": "on",
    }
    body["timeline-0-DELETE"] = "on"
    assert client.post(url(postmortem, "edit"), body).status_code == 302
    lines = list(Postmortem.objects.get(pk=postmortem.pk).timeline.all())
    assert [line.text for line in lines] == ["Acked", "Rolled back"]  # one removed, one added
    assert (lines[-1].text, lines[-1].key_moment) == ("Rolled back", True)
    assert lines[-1].at == datetime(2030, 1, 2, 10, 0, 5, tzinfo=VIEWER_TZ)
    assert lines[0].at == first  # untouched rows keep their time to the second


def test_bad_input_is_shown_by_the_field_and_nothing_is_saved(owner: User) -> None:
    postmortem = started(owner)
    client = as_user(owner)
    body = edit_body(postmortem, title="", due_at="3000-01-01T00:00")
    plain = client.post(url(postmortem, "edit"), body)
    assert plain.status_code == 400
    html = plain.content.decode()
    assert 'id="id_title_error"' in html
    assert 'id="id_due_at_error"' in html
    htmx = client.post(url(postmortem, "edit"), body, headers=HTMX)
    assert htmx.status_code == 200
    assert "<html" not in htmx.content.decode()
    assert 'id="id_title_error"' in htmx.content.decode()
    for broken in ({"version": "x"}, {"timeline-TOTAL_FORMS": "zz"}, {"owner": "99999999"}):
        assert client.post(url(postmortem, "edit"), {**body, **broken}).status_code == 400
    assert Postmortem.objects.get(pk=postmortem.pk).version == 1


def test_a_stale_save_shows_both_texts_keeps_yours_and_overwrites_nothing(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    mine = edit_body(postmortem, **{"section-summary": "My summary", "title": "My title"})
    # Meanwhile a Manager saves the summary (not the title).
    postmortem_update(
        postmortem=postmortem, actor=people["manager"], version=1, sections={"summary": "Theirs"}
    )

    for headers, status in (({}, 409), (HTMX, 200)):
        answer = as_user(owner).post(url(postmortem, "edit"), mine, headers=headers)
        assert answer.status_code == status
        html = answer.content.decode()
        assert 'id="conflict"' in html
        assert "Theirs, as saved now" in html
        assert "Theirs</pre>" in html  # their text …
        assert "My summary</pre>" in html  # … and yours, side by side
        assert ">My summary</textarea>" in html  # yours kept in the form
        assert 'value="My title"' in html  # and your other changes
        assert 'name="version" value="2"' in html  # saving again goes on top of theirs

    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert (fresh.version, fresh.section_body("summary"), fresh.title) == (
        2,
        "Theirs",
        postmortem.title,
    )


def test_a_stale_save_that_clashes_with_nothing_is_saved_on_top(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    mine = edit_body(postmortem, **{"section-impact": "EU shoppers"})
    postmortem_update(
        postmortem=postmortem, actor=people["manager"], version=1, sections={"summary": "Theirs"}
    )
    assert as_user(owner).post(url(postmortem, "edit"), mine).status_code == 302
    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert (fresh.version, fresh.section_body("summary"), fresh.section_body("impact")) == (
        3,
        "Theirs",
        "EU shoppers",
    )


def test_the_preview_renders_markdown_harmlessly(owner: User) -> None:
    client = as_user(owner)
    text = (
        "**bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    )
    answer = client.post(
        "/postmortems/preview/", {"field": "section-summary", "section-summary": text}
    )
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "javascript:" not in html.replace("[x](javascript:", "")
    assert 'href="javascript' not in html
    assert "<img" not in html
    assert Client().post("/postmortems/preview/", {"text": "x"}).status_code == 302
    assert client.get("/postmortems/preview/").status_code == 405
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(owner)
    assert csrf.post("/postmortems/preview/", {"text": "x"}).status_code == 403


def test_the_page_shows_sections_timeline_facts_and_revisions(owner: User) -> None:
    postmortem = started(owner)
    postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=1,
        sections={"summary": "Saw <script>x</script> and **this**"},
        due_at=timezone.now() - timedelta(days=2),
    )
    html = as_user(owner).get(url(postmortem)).content.decode()
    assert "<strong>this</strong>" in html
    assert "<script>x" not in html
    assert "overdue by 2" in html
    assert "Version 2:" in html
    assert f'href="/incidents/{postmortem.incident_id}/"' in html
    assert "Response facts" in html


# --- action items ------------------------------------------------------------------------


def test_action_items_are_added_edited_and_moved_on(owner: User, people: dict[str, User]) -> None:
    postmortem = started(owner)
    client = as_user(owner)
    page = client.get(url(postmortem)).content.decode()
    assert 'name="due_date"' in page  # defaulted from the severity
    bad = client.post(url(postmortem, "action-items"), {"title": "", "kind": "nope"})
    assert bad.status_code == 400
    assert 'id="id_title_error"' in bad.content.decode()
    engineer = people["engineer"]
    answer = client.post(
        url(postmortem, "action-items"),
        {
            "title": "Alert on 5xx",
            "owner": engineer.pk,
            "kind": "detect",
            "priority": "high",
            "due_date": "2030-01-01",
            "ticket_url": "https://jira.example.com/OPS-1",
        },
        headers=HTMX,
    )
    assert answer.status_code == 200
    assert "Alert on 5xx" in answer.content.decode()
    item = ActionItem.objects.get()
    # The item's owner moves it on but does not edit its details.
    theirs = as_user(engineer)
    assert theirs.get(f"/postmortems/action-items/{item.pk}/").status_code == 403
    moved = theirs.post(
        f"/postmortems/action-items/{item.pk}/status/", {"to": "in_progress", "back": "mine"}
    )
    assert moved.status_code == 302
    assert ActionItem.objects.get().status == ActionItemStatus.IN_PROGRESS
    illegal = theirs.post(f"/postmortems/action-items/{item.pk}/status/", {"to": "in_progress"})
    assert illegal.status_code == 409
    other = as_user(people["support"])
    assert (
        other.post(f"/postmortems/action-items/{item.pk}/status/", {"to": "done"}).status_code
        == 403
    )
    edited = client.post(
        f"/postmortems/action-items/{item.pk}/",
        {
            "title": "Alert on 5xx and 4xx",
            "owner": engineer.pk,
            "kind": "detect",
            "priority": "low",
            "due_date": "2030-02-01",
        },
    )
    assert edited.status_code == 302
    assert ActionItem.objects.get().title == "Alert on 5xx and 4xx"


def test_my_action_items_groups_them_and_home_counts_the_overdue(
    owner: User, people: dict[str, User]
) -> None:
    postmortem = started(owner)
    today = timezone.localdate(timezone=VIEWER_TZ)
    for title, due in (("Late one", -3), ("Soon", 3), ("Busy", 5), ("Finished", 1)):
        action_item_create(
            postmortem=postmortem,
            actor=owner,
            title=title,
            owner=owner,
            kind="repair",
            due_date=today + timedelta(days=due),
        )
    action_item_transition(
        item=ActionItem.objects.get(title="Busy"), to=ActionItemStatus.IN_PROGRESS, actor=owner
    )
    action_item_transition(
        item=ActionItem.objects.get(title="Finished"), to=ActionItemStatus.DONE, actor=owner
    )
    html = as_user(owner).get("/postmortems/action-items/mine/").content.decode()
    sections = {
        key: html.split(f'id="items-{key}"')[1].split("</section>")[0]
        for key in ("overdue", "open", "in_progress", "done")
    }
    assert "Late one" in sections["overdue"]
    assert "3 days late" in sections["overdue"]
    assert "Soon" in sections["open"]
    assert "Busy" in sections["in_progress"]
    assert "Finished" in sections["done"]
    assert f'href="/postmortems/{postmortem.pk}/"' in html
    home = as_user(owner).get("/").content.decode()
    assert "1 overdue" in home
    assert 'href="/postmortems/action-items/mine/"' in home
    assert "none overdue" in as_user(people["engineer"]).get("/").content.decode()


# --- the incident page's link ------------------------------------------------------------


def test_the_incident_page_starts_or_links_its_postmortem(people: dict[str, User]) -> None:
    incident: Incident = IncidentFactory.create()
    client = as_user(people["support"])
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="start-postmortem"' in page
    started_it = client.post(f"/postmortems/start/{incident.pk}/")
    postmortem = Postmortem.objects.get(incident=incident)
    assert started_it.status_code == 302
    assert started_it["Location"] == f"/postmortems/{postmortem.pk}/"
    assert postmortem.owner == people["support"]
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/postmortems/{postmortem.pk}/"' in page
    assert 'id="start-postmortem"' not in page
    again = client.post(f"/postmortems/start/{incident.pk}/", headers=HTMX)
    assert again["HX-Redirect"] == f"/postmortems/{postmortem.pk}/"
    assert client.post("/postmortems/start/99999999/").status_code == 404


# --- query counts ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 10])
def test_the_postmortem_page_reads_in_a_fixed_number_of_queries(
    count: int,
    owner: User,
    people: dict[str, User],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    postmortem = started(owner)
    for n in range(count):
        action_item_create(
            postmortem=postmortem,
            actor=people["manager"],
            title=f"Item {n}",
            owner=people["engineer"],
            kind="repair",
        )
        postmortem_update(  # a revision each, some changing the owner (names read once)
            postmortem=postmortem,
            actor=people["manager"],
            version=n + 1,
            sections={"summary": f"v{n}"},
            owner=owner if n % 2 else people["manager"],
        )
    client = as_user(people["manager"])  # a writer: the add form and its default due too
    with django_assert_num_queries(QUERIES_POSTMORTEM_PAGE):
        response = client.get(url(postmortem))
    assert response.content.decode().count('class="item item-') == count


@pytest.mark.parametrize("count", [1, 10])
def test_my_action_items_reads_in_a_fixed_number_of_queries(
    count: int, owner: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for n in range(count):
        postmortem = started(owner)
        action_item_create(
            postmortem=postmortem, actor=owner, title=f"Item {n}", owner=owner, kind="repair"
        )
    client = as_user(owner)
    with django_assert_num_queries(QUERIES_MY_ITEMS):
        response = client.get("/postmortems/action-items/mine/")
    assert response.content.decode().count('class="item item-') == count


QUERIES_POSTMORTEM_PAGE = 12  # 11 + the playbook entries it proposed (playbooks)
QUERIES_MY_ITEMS = 4
