"""/api/v1/users/ shows email and phone only to Managers and to the person; who is on call
now, with their phone, is on /api/v1/oncall/ for everyone signed in."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from oncall.models import User
from tests.api.conftest import ROLE_NAMES, bearer_client
from tests.factories import RotationFactory

pytestmark = pytest.mark.django_db
PHONE = "+12025550142"


@pytest.fixture
def alice(people: dict[str, User]) -> User:
    alice = people["engineer"]
    alice.phone = PHONE
    alice.save(update_fields=["phone"])
    return alice


@pytest.mark.parametrize("viewer", ROLE_NAMES)
def test_contact_details_only_for_managers_and_oneself(
    viewer: str, people: dict[str, User], alice: User
) -> None:
    api = bearer_client(people[viewer])

    listed = {u["username"]: u for u in api.get(reverse("api:user-list")).json()}
    one = api.get(reverse("api:user-detail", args=[alice.pk])).json()

    sees = viewer in ("manager", "engineer")  # a Manager, or alice herself
    assert one == listed["engineer"]
    assert one["phone"] == (PHONE if sees else None)
    assert one["email"] == ("engineer@example.com" if sees else None)
    assert one["name"] == alice.name  # who they are stays visible
    own = listed[viewer]
    assert own["email"] == f"{viewer}@example.com"  # everyone sees their own


@pytest.mark.parametrize("viewer", ROLE_NAMES)
def test_everyone_signed_in_sees_the_on_call_phone(
    viewer: str, people: dict[str, User], alice: User
) -> None:
    rotation = RotationFactory.create(members=[alice])
    api = bearer_client(people[viewer])

    with time_machine.travel(datetime(2026, 1, 7, 12, tzinfo=UTC), tick=False):
        oncall = api.get(reverse("api:oncall"), {"team": rotation.team.slug}).json()

    assert [(row["user"]["username"], row["user"]["phone"]) for row in oncall] == [
        ("engineer", PHONE)
    ]
