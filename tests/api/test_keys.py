"""Personal API keys: issued once, stored hashed, Bearer auth with the owner's role."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oncall.api.services import api_key_create
from oncall.keys import key_digest
from oncall.models import ApiKey, User
from tests.api.conftest import assert_error, bearer_client
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db
KEYS = reverse("api:key-list")
ME = reverse("api:me")


def test_a_new_key_is_shown_once_and_stored_only_as_its_digest(
    client: Client, people: dict[str, User]
) -> None:
    client.force_login(people["engineer"])

    created = client.post(KEYS, {"name": "deploy bot"}, content_type="application/json")

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "prefix", "created_at", "last_used_at", "key"}
    secret = body["key"]
    assert secret.startswith(body["prefix"])
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.digest == key_digest(secret)
    assert secret not in {stored.prefix, stored.digest, stored.name}
    listed = client.get(KEYS).json()
    assert listed == [{k: v for k, v in body.items() if k != "key"}]
    assert secret not in client.get(KEYS).content.decode()


def test_a_key_authenticates_as_its_owner(people: dict[str, User]) -> None:
    api = bearer_client(people["support"])

    me = api.get(ME)

    assert me.status_code == 200
    assert me.json() == {
        "id": people["support"].pk,
        "username": "support",
        "name": people["support"].name,
        "email": "support@example.com",
        "phone": "",
        "timezone": "America/New_York",
        "roles": ["Support"],
        "is_manager": False,
    }


def test_a_key_acts_with_its_owners_role(people: dict[str, User]) -> None:
    team = {"slug": "vro", "name": "VRO"}

    refused = bearer_client(people["engineer"]).post(
        reverse("api:team-list"), team, content_type="application/json"
    )
    allowed = bearer_client(people["manager"]).post(
        reverse("api:team-list"), team, content_type="application/json"
    )

    assert_error(refused, 403, "permission_denied")
    assert allowed.status_code == 201


@pytest.mark.parametrize(
    "header",
    [
        "Bearer oncall_api_not-a-real-key",
        "Bearer",
        "Bearer two words",
        "bearer " + "x" * 500,
    ],
)
def test_an_unknown_or_malformed_key_is_401_json(header: str, people: dict[str, User]) -> None:
    response = Client(HTTP_AUTHORIZATION=header).get(ME)

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_at_once(people: dict[str, User]) -> None:
    key: Any = ApiKeyFactory.create(user=people["engineer"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert api.get(ME).status_code == 200

    revoked = api.delete(reverse("api:key-detail", args=[key.pk]))

    assert revoked.status_code == 204
    assert_error(api.get(ME), 401, "authentication_failed")
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_a_key_of_an_inactive_person_is_refused(people: dict[str, User]) -> None:
    api = bearer_client(people["engineer"])
    User.objects.filter(pk=people["engineer"].pk).update(is_active=False)

    assert_error(api.get(ME), 401)


def test_nobody_revokes_or_lists_someone_elses_keys(people: dict[str, User]) -> None:
    theirs = api_key_create(user=people["support"], name="theirs").key
    api = bearer_client(people["manager"])

    assert_error(api.delete(reverse("api:key-detail", args=[theirs.pk])), 404, "not_found")
    assert theirs.pk not in [k["id"] for k in api.get(KEYS).json()]
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_last_used_is_written_at_most_once_a_minute(people: dict[str, User]) -> None:
    key: Any = ApiKeyFactory.create(user=people["engineer"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    with time_machine.travel(start, tick=False) as traveller:
        api.get(ME)
        assert ApiKey.objects.get(pk=key.pk).last_used_at == start
        traveller.shift(timedelta(seconds=30))
        with CaptureQueriesContext(connection) as queries:
            api.get(ME)
        # Used less than a minute ago: no write.
        assert not [q for q in queries.captured_queries if "UPDATE" in q["sql"]]
        assert ApiKey.objects.get(pk=key.pk).last_used_at == start
        traveller.shift(timedelta(seconds=31))
        api.get(ME)
        assert ApiKey.objects.get(pk=key.pk).last_used_at == start + timedelta(seconds=61)


def test_session_auth_still_works_and_enforces_csrf_on_writes(people: dict[str, User]) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["engineer"])

    assert browser.get(ME).json()["username"] == "engineer"
    refused = browser.post(KEYS, {"name": "x"}, content_type="application/json")
    assert_error(refused, 403, "permission_denied")
    assert "CSRF" in refused.json()["error"]["message"]
    assert not ApiKey.objects.exists()


def test_a_key_needs_no_csrf_token(people: dict[str, User]) -> None:
    key: Any = ApiKeyFactory.create(user=people["engineer"])
    api = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key.secret}")

    assert api.post(KEYS, {"name": "ci"}, content_type="application/json").status_code == 201


def test_anonymous_requests_are_refused_in_the_error_shape(client: Client) -> None:
    assert_error(client.get(KEYS), 403, "not_authenticated")
    assert_error(client.post(KEYS, {"name": "x"}, content_type="application/json"), 403)


def test_a_key_needs_a_name(client: Client) -> None:
    client.force_login(UserFactory.create())

    assert_error(client.post(KEYS, {}, content_type="application/json"), 400, field="name")
    assert_error(
        client.post(KEYS, {"name": "x" * 101}, content_type="application/json"), 400, field="name"
    )


def test_users_list_and_detail_have_the_contract_fields(people: dict[str, User]) -> None:
    api = bearer_client(people["support"])

    listed = api.get(reverse("api:user-list")).json()
    one = api.get(reverse("api:user-detail", args=[people["engineer"].pk])).json()

    assert {u["username"] for u in listed} == set(people)
    assert set(one) == {"id", "username", "name", "email", "phone", "timezone"}
    assert one in listed
    assert_error(api.get(reverse("api:user-detail", args=[999999])), 404, "not_found")


def test_admin_lists_keys_without_the_digest_and_revokes_them(
    admin_client: Client, people: dict[str, User]
) -> None:
    key: Any = ApiKeyFactory.create(user=people["engineer"])
    changelist = reverse("admin:oncall_apikey_changelist")

    listed = admin_client.get(changelist)
    revoked = admin_client.post(
        changelist, {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )

    assert listed.status_code == 200
    assert key.prefix in listed.content.decode()
    assert key.digest not in listed.content.decode()
    assert revoked.status_code == 200
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert_error(Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}").get(ME), 401)
