"""/postmortems/: filters (team, severity, status, owner, created days in the viewer's zone),
the search (PostgreSQL full-text, SQLite plain match), pages, columns, fixed queries."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from incidents.models import Severity
from oncall.models import User
from oncall.roles import ENGINEER
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus
from postmortems.services import action_item_create, postmortem_start, postmortem_update
from tests.factories import IncidentFactory, TeamFactory, UserFactory

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def viewer(db: None) -> User:
    # Kiritimati is UTC+14: a day there starts ten hours before the UTC day.
    return UserFactory.create(username="vic", roles=[ENGINEER], timezone="Pacific/Kiritimati")


@pytest.fixture
def client(viewer: User) -> Client:
    client = Client()
    client.force_login(viewer)
    return client


def made(owner: User, title: str, created: datetime, **incident: object) -> Postmortem:
    pm = postmortem_start(incident=IncidentFactory.create(title=title, **incident), actor=owner)
    Postmortem.objects.filter(pk=pm.pk).update(created_at=created)
    return Postmortem.objects.get(pk=pm.pk)


def listed(client: Client, query: str = "") -> list[int]:
    response = client.get(f"/postmortems/?{query}")
    assert response.status_code == 200
    rows = response.context["rows"]
    return [row["postmortem"].pk for row in rows]


@pytest.fixture
def three(viewer: User) -> dict[str, Postmortem]:
    core = TeamFactory.create(slug="core", name="Core")
    web = TeamFactory.create(slug="web", name="Web")
    olga = UserFactory.create(username="olga")
    cert = made(
        olga, "Certificate expired", NOW - timedelta(days=3), team=core, severity=Severity.SEV1
    )
    postmortem_update(
        postmortem=cert,
        actor=olga,
        version=cert.version,
        sections={"contributing_factors": "The renewal job was failing silently."},
    )
    queue = made(
        viewer, "Queue backed up", NOW - timedelta(days=2), team=web, severity=Severity.SEV2
    )
    Postmortem.objects.filter(pk=queue.pk).update(status=PostmortemStatus.IN_REVIEW)
    disk = made(
        olga, "Disk full on db-3", NOW - timedelta(days=1), team=core, severity=Severity.SEV2
    )
    return {"cert": cert, "queue": queue, "disk": disk}


def test_newest_first_with_each_filter(client: Client, three: dict[str, Postmortem]) -> None:
    cert, queue, disk = three["cert"], three["queue"], three["disk"]
    assert listed(client) == [disk.pk, queue.pk, cert.pk]
    assert listed(client, "team=core") == [disk.pk, cert.pk]
    assert listed(client, "severity=SEV2") == [disk.pk, queue.pk]
    assert listed(client, "status=in_review") == [queue.pk]
    assert listed(client, f"owner={queue.owner_id}") == [queue.pk]
    assert listed(client, "team=core&severity=SEV1") == [cert.pk]


def test_created_days_are_the_viewers(client: Client, viewer: User) -> None:
    # 2026-03-18T09:59Z is 23:59 on the 18th in Kiritimati; 10:00Z is already the 19th.
    late = made(viewer, "Late", datetime(2026, 3, 18, 9, 59, tzinfo=UTC))
    next_day = made(viewer, "Next", datetime(2026, 3, 18, 10, 0, tzinfo=UTC))
    assert listed(client, "created_from=2026-03-19") == [next_day.pk]
    assert listed(client, "created_to=2026-03-18") == [late.pk]
    assert listed(client, "created_from=2026-03-18&created_to=2026-03-19") == [next_day.pk, late.pk]


def test_the_search_finds_titles_and_sections(client: Client, three: dict[str, Postmortem]) -> None:
    assert listed(client, "q=renewal") == [three["cert"].pk]  # in a section body
    assert listed(client, "q=queue") == [three["queue"].pk]  # in a title
    assert listed(client, "q=nothing-like-it") == []
    if connection.vendor == "postgresql":
        # Full-text: stems ("failing" finds "fail"), websearch syntax (-word, "phrases").
        assert listed(client, "q=fail") == [three["cert"].pk]
        assert listed(client, 'q="disk full"') == [three["disk"].pk]
        assert listed(client, "q=disk -db") == []
        assert listed(client, "q=certificate OR queue") == [three["queue"].pk, three["cert"].pk]
    else:
        assert listed(client, "q=RENEWAL JOB") == [three["cert"].pk]  # plain, case-insensitive


def test_the_search_on_postgresql_uses_full_text(
    postgres: None, client: Client, three: dict[str, Postmortem]
) -> None:
    """A plain substring match would not find "failing" from "fails"."""
    assert listed(client, "q=fails") == [three["cert"].pk]


def test_the_search_document_follows_edits_and_spans_sections(
    postgres: None, client: Client, three: dict[str, Postmortem]
) -> None:
    """Each postmortem is one document: words from its title and different sections match
    together, and an edit through the services is found at once (old words are not)."""
    disk = three["disk"]
    assert listed(client, "q=disk renewal") == []
    postmortem_update(
        postmortem=disk,
        actor=disk.owner,
        version=disk.version,
        title="Volume full on db-3",
        sections={"impact": "Writes stalled.", "recovery": "A renewal of the volume."},
    )
    assert listed(client, "q=volume stalled renewal") == [disk.pk]
    assert listed(client, "q=renewal") == [disk.pk, three["cert"].pk]  # newest first
    assert listed(client, 'q="disk full"') == []


@pytest.mark.parametrize(
    "query",
    [
        "team=nope",
        "severity=SEV9",
        "status=gone",
        "owner=x",
        "owner=99999999999999999999",
        "created_from=2026-02-30",
        "created_from=9999-12-31",
        "q=" + "x" * 600,
        "page=x",
        "page=99999999999999999999999",
        "q=%00",
        "q=!!!",
        "q=-",
        "team=%00",
        "owner=%00",
        "created_to=%00",
        "severity=%00",
    ],
)
def test_bad_filters_never_fail(client: Client, three: dict[str, Postmortem], query: str) -> None:
    response = client.get(f"/postmortems/?{query}")
    assert response.status_code == 200


def test_columns_due_in_words_and_closed_out(client: Client, viewer: User) -> None:
    pm = made(viewer, "Columns", NOW - timedelta(days=5))
    Postmortem.objects.filter(pk=pm.pk).update(due_at=NOW - timedelta(days=2))
    done = action_item_create(postmortem=pm, actor=viewer, title="a", owner=viewer, kind="detect")
    action_item_create(postmortem=pm, actor=viewer, title="b", owner=viewer, kind="detect")
    ActionItem.objects.filter(pk=done.pk).update(status=ActionItemStatus.DONE, completed_at=NOW)
    with time_machine.travel(NOW):
        page = client.get("/postmortems/").content.decode()
    assert pm.incident.number in page
    assert "overdue by 2\xa0days" in page
    assert "<td>1 / 2</td>" in page
    assert "<td>No</td>" in page
    ActionItem.objects.update(status=ActionItemStatus.WONT_DO, completed_at=NOW)
    with time_machine.travel(NOW):
        assert "<td>Yes</td>" in client.get("/postmortems/").content.decode()


def test_pages_of_fifty_in_fixed_queries(
    client: Client, viewer: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    def count(query: str) -> None:
        with django_assert_num_queries(7):  # session, user, roles, teams, owners, count, rows
            assert client.get(f"/postmortems/?{query}").status_code == 200

    first = made(viewer, "First", NOW)
    action_item_create(postmortem=first, actor=viewer, title="a", owner=viewer, kind="detect")
    count("")
    count("q=first&team=")
    for n in range(55):
        made(viewer, f"Outage {n}", NOW - timedelta(minutes=n + 1))
    count("")
    count("q=outage&severity=SEV2")
    response = client.get("/postmortems/?page=2")
    assert len(response.context["rows"]) == 6
    assert 'rel="prev"' in response.content.decode()


def test_htmx_gets_the_results_only(client: Client, three: dict[str, Postmortem]) -> None:
    response = client.get("/postmortems/?team=core", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="postmortem-results">')
    assert three["disk"].incident.number in body
