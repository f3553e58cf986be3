"""GET /api/v1/reviews/<week>/: the review page's content as JSON (ISO 8601 durations), the
meeting with PATCH and its version, the error shape for bad weeks and stale versions."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from incidents.models import Severity
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT_MANAGER
from postmortems import meetings
from postmortems.models import ActionItem, Postmortem, PostmortemStatus, ReviewMeeting
from postmortems.review import IsoWeek
from postmortems.services import action_item_create, postmortem_start
from tests.api.conftest import assert_error, bearer_client
from tests.factories import IncidentFactory, UserFactory

URL = "/api/v1/reviews/2026-W11/"
IN_W11 = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)


@pytest.fixture
def manager(db: None) -> User:
    return UserFactory.create(username="mara", roles=[MANAGER])


def patch(client: Client, body: dict[str, object], url: str = URL) -> Any:
    return client.patch(url, data=body, content_type="application/json")


def test_the_review_as_json(manager: User) -> None:
    incident = IncidentFactory.create(
        severity=Severity.SEV1,
        status="resolved",
        triggered_at=IN_W11,
        acknowledged_at=IN_W11 + timedelta(minutes=5),
        resolved_at=IN_W11 + timedelta(hours=1, minutes=30),
    )
    pm = postmortem_start(incident=incident, actor=manager)
    Postmortem.objects.filter(pk=pm.pk).update(status=PostmortemStatus.IN_REVIEW)
    item = action_item_create(
        postmortem=pm, actor=manager, title="Alarm", owner=manager, kind="detect"
    )
    ActionItem.objects.filter(pk=item.pk).update(created_at=IN_W11)
    meetings.review_meeting_save(
        week=IsoWeek(2026, 10).monday, actor=manager, version=0, notes="Last week."
    )
    response = bearer_client(manager).get(URL)
    assert response.status_code == 200
    data = response.json()
    assert (data["week"], data["time_zone"]) == ("2026-W11", "America/New_York")
    assert data["start"] == "2026-03-09T04:00:00Z"
    sev1 = data["incidents"]["by_severity"][0]
    assert sev1["severity"] == "SEV1"
    assert sev1["figures"]["time_to_acknowledge_median"] == "PT5M"
    assert sev1["figures"]["time_to_resolve_mean"] == "PT1H30M"
    assert sev1["incidents"][0]["number"] == incident.number
    assert data["incidents"]["all"]["count"] == 1
    (reviewed,) = data["postmortems_to_review"]
    assert reviewed["id"] == pm.pk
    assert {c["key"]: c["filled"] for c in reviewed["checklist"]}["contributing_factors"] is False
    assert data["action_items_opened"]["total"] == 1
    assert data["meeting"] is None
    assert data["previous_meeting_week"] == "2026-W10"
    assert data["headline"]["from"] == "2026-03-09T04:00:00Z"
    assert (data["headline"]["incidents"], data["headline"]["mttr_p90"]) == (1, "PT1H30M")


def test_the_reviews_headline_is_the_insights_apis(manager: User) -> None:
    """The review's headline of the week and of the period before are the insights API's
    figures for the same ranges (W11 and the 168 hours before it)."""
    for n, minutes in enumerate((3, 9, 14, 60)):
        at = IN_W11 - timedelta(days=7 * (n % 2), hours=n)
        IncidentFactory.create(
            status="resolved",
            triggered_at=at,
            acknowledged_at=at + timedelta(minutes=minutes),
            resolved_at=at + timedelta(minutes=minutes * 2),
        )
    client = bearer_client(manager)
    review = client.get(URL).json()
    with time_machine.travel(datetime(2026, 3, 20, tzinfo=UTC)):
        insights = client.get("/api/v1/insights/?from=2026-03-09&to=2026-03-15").json()
    previous = insights.pop("previous")
    assert review["headline_previous"] == previous
    assert review["headline"] == {key: insights[key] for key in review["headline"]}
    assert review["headline"]["incidents"] == 2
    assert review["headline_previous"]["mtta_p90"] == "PT54M54S"  # 9 + 0.9 * (60 - 9) minutes


@pytest.mark.parametrize("week", ["2026-W54", "2026-W00", "9999-W01", "x", "2026-W1"])
def test_unknown_weeks_are_404_in_the_error_shape(manager: User, week: str) -> None:
    response = bearer_client(manager).get(f"/api/v1/reviews/{week}/")
    assert_error(response, 404, "not_found")


def test_the_meeting_is_written_with_its_version(manager: User) -> None:
    client = bearer_client(manager)
    response = patch(client, {"version": 0, "notes": "N", "attendees": [manager.pk], "held": True})
    assert response.status_code == 200, response.json()
    meeting = response.json()["meeting"]
    assert (meeting["version"], meeting["notes"], meeting["attendees"]) == (1, "N", [manager.pk])
    assert meeting["held_by"] == manager.pk
    stale = patch(client, {"version": 0, "notes": "Mine"})
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["conflict"] == {
        "current_version": 1,
        "theirs": {"notes": "N"},
        "yours": {"notes": "Mine"},
    }
    assert {"version", "notes"} <= set(error["fields"])
    assert ReviewMeeting.objects.get().notes == "N"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notes": "N"}, "version"),
        ({"version": -1}, "version"),
        ({"version": 0, "attendees": [99999999]}, "attendees"),
        ({"version": 0, "attendees": ["x"]}, "attendees.0"),
        ({"version": 0, "notes": "a\u0000b"}, "notes"),
    ],
)
def test_bad_meeting_input_is_a_400_naming_the_field(
    manager: User, body: dict[str, object], field: str
) -> None:
    response = patch(bearer_client(manager), body)
    assert_error(response, 400, field=field)
    assert not ReviewMeeting.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"), [(MANAGER, 200), (SUPPORT_MANAGER, 200), (ENGINEER, 403)]
)
def test_who_writes_the_meeting_through_the_api(db: None, role: str, status: int) -> None:
    user = UserFactory.create(username=f"u-{role[:4].lower()}", roles=[role])
    client = bearer_client(user)
    assert client.get(URL).status_code == 200
    response = patch(client, {"version": 0, "decisions": "D"})
    assert response.status_code == status
    assert ReviewMeeting.objects.exists() is (status == 200)


def test_the_review_reads_in_a_fixed_number_of_queries(
    manager: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = bearer_client(manager)
    meetings.review_meeting_save(week=IsoWeek(2026, 11).monday, actor=manager, version=0, notes="N")

    def add(n: int) -> None:
        for _ in range(n):
            pm = postmortem_start(
                incident=IncidentFactory.create(triggered_at=IN_W11), actor=manager
            )
            Postmortem.objects.filter(pk=pm.pk).update(
                status=PostmortemStatus.IN_REVIEW, due_at=IN_W11
            )
            action_item_create(
                postmortem=pm, actor=manager, title="t", owner=manager, kind="detect"
            )

    add(1)
    client.get(URL)  # the key's first use records it (one UPDATE); later ones within a while don't
    # Read again with no write since: the review (9) is kept, its token read.
    with django_assert_num_queries(4):
        assert client.get(URL).status_code == 200
    add(5)
    # After a write: the review read again (9).
    with django_assert_num_queries(12):
        assert client.get(URL).status_code == 200
    with django_assert_num_queries(4):
        assert client.get(URL).status_code == 200
