"""API fixtures: a person per role, each with a client that sends their API key."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import Rotation, Team, Tier
from tests.factories import ApiKeyFactory, RotationFactory, TeamFactory, UserFactory

ROLE_NAMES = {
    "manager": MANAGER,
    "support_manager": SUPPORT_MANAGER,
    "engineer": ENGINEER,
    "support": SUPPORT,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schemathesis: property-based API conformance run (part of make test)"
    )


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {
        key: UserFactory.create(username=key, first_name=key.title(), roles=[role])
        for key, role in ROLE_NAMES.items()
    }


def bearer_client(user: User) -> Client:
    """A client that authenticates only with a fresh API key of `user` (no session)."""
    key: Any = ApiKeyFactory.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}")


@pytest.fixture
def as_role(people: dict[str, User]) -> Callable[[str], Client]:
    return lambda role: bearer_client(people[role])


@pytest.fixture
def manager_api(people: dict[str, User]) -> Client:
    return bearer_client(people["manager"])


@pytest.fixture
def engineer_api(people: dict[str, User]) -> Client:
    return bearer_client(people["engineer"])


@dataclass
class Core:
    team: Team
    veteran: Rotation
    new: Rotation
    alice: User
    bob: User


@pytest.fixture
def core(people: dict[str, User]) -> Core:
    alice = UserFactory.create(username="alice")
    bob = UserFactory.create(username="bob")
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=people["manager"])
    veteran = RotationFactory.create(team=team, tier=Tier.VETERAN, members=[alice, bob])
    new = RotationFactory.create(team=team, tier=Tier.NEW, members=[bob])
    return Core(team, veteran, new, alice, bob)


def assert_error(
    response: Any, status: int, code: str | None = None, *, field: str | None = None
) -> dict[str, Any]:
    """The portal's one error shape, with the status, code and field asked for."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    assert code is None or body["error"]["code"] == code, body
    if field is not None:
        assert field in body["error"]["fields"], body
    error: dict[str, Any] = body["error"]
    return error
