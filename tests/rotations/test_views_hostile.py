"""Hostile query strings on the rotation pages and hostile feed tokens: never a 500.

The rotation page and My shifts prefill the override form from a shift's link
(?start=…&end=…&replaces=…); the iCal feeds take a token in the path.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from oncall.models import User
from oncall.roles import ENGINEER
from rotations.models import Rotation
from tests.factories import RotationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kiri(client: Client) -> User:
    """An engineer in UTC+14, where year 9999 at -14:00 is past year 9999."""
    user = UserFactory.create(username="kiri", roles=[ENGINEER], timezone="Pacific/Kiritimati")
    client.force_login(user)
    return user


@pytest.fixture
def rotation(kiri: User) -> Rotation:
    bob = UserFactory.create(username="bob")
    return RotationFactory.create(members=[kiri, bob])


@pytest.mark.parametrize(
    "start",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1999-12-31T23:00:00Z"],
)
def test_a_prefill_outside_the_portal_years_is_left_out_of_the_rotation_form(
    client: Client, rotation: Rotation, start: str
) -> None:
    """Found by the page fuzz: the form's initial value overflowed in the viewer's zone (500)."""
    response = client.get(reverse("rotations:rotation", args=[rotation.pk]), {"start": start})

    assert response.status_code == 200
    assert response.context["form"]["start"].value() is None


def test_a_prefill_within_the_years_is_shown_in_the_viewer_zone(
    client: Client, rotation: Rotation
) -> None:
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    response = client.get(
        reverse("rotations:rotation", args=[rotation.pk]),
        {"start": start.isoformat(), "replaces": "²"},
    )

    assert response.status_code == 200
    assert 'value="2026-03-03T00:00"' in response.content.decode()  # 10:00 UTC is 00:00 +14
    assert response.context["form"]["replaces"].value() is None


@pytest.mark.parametrize(
    "query",
    [
        {"change": "cover", "rotation": "²"},
        {"change": "swap", "rotation": "1", "user": "99999999999999999999"},
        {"change": "cover", "rotation": "1", "end": "9999-12-31T23:59:59-14:00"},
        {"change": "swap", "rotation": "1", "swap_start": "0001-01-01T00:00:00+14:00"},
    ],
)
def test_my_shifts_ignores_a_hostile_change_link(
    client: Client, rotation: Rotation, query: dict[str, str]
) -> None:
    """Found by the page fuzz: "²".isdigit() let int() fail; years overflowed (500)."""
    query = {**query, "rotation": query["rotation"].replace("1", str(rotation.pk))}

    response = client.get(reverse("rotations:my-shifts"), query)

    assert response.status_code == 200


def test_my_shift_change_for_a_rotation_named_by_a_superscript_is_refused(
    client: Client, rotation: Rotation
) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    response = client.post(
        reverse("rotations:my-shift-change"),
        {"rotation": "²", "change": "cover", "start": start.isoformat()},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("rotations:my-shifts")


@pytest.mark.parametrize(
    "token",
    ["A" * 16, "A" * 64, "%00" * 6 + "A" * 16, "%ED%A0%80" + "A" * 16, "A" * 200],
)
@pytest.mark.parametrize("feed", ["rotation", "person"])
def test_a_feed_with_a_hostile_token_is_404(token: str, feed: str) -> None:
    response = Client().get(f"/ical/{feed}/{token}.ics")

    assert response.status_code == 404
