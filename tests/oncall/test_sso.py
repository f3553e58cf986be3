"""Single sign-on end to end: the portal's login page, a local OpenID Connect provider
(tests/oncall/oidc_provider.py) and the callback, followed by hand through Django's client."""

import socket
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from oncall.models import User
from oncall.roles import ENGINEER, ENGINEERING_COUNCIL, MANAGER, ROLES, SUPPORT
from tests.factories import UserFactory
from tests.oncall.oidc_provider import (
    ROLE_MAP,
    Provider,
    at_provider,
    new_key,
    person,
    sso_sign_in,
    start,
)

pytestmark = pytest.mark.django_db
HOME = reverse("home")
LOGIN = reverse("login")
GROUP_OF = {role: value for value, role in ROLE_MAP.items()}


@pytest.fixture
def provider(httpserver: HTTPServer, settings: Settings) -> Provider:
    stand_in = Provider(httpserver)
    stand_in.install()
    stand_in.configure(settings)
    settings.PASSWORD_LOGIN = True
    return stand_in


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(answer: Any, status: int, words: str, client: Client | None = None) -> None:
    """A page in the portal layout that names the problem, and nobody signed in."""
    assert answer.status_code == status
    page = answer.content.decode()
    assert words in page
    assert 'class="brand"' in page
    if client is not None:
        assert signed_in_user(client) is None


def role_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


@pytest.mark.parametrize("role", ROLES)
def test_a_new_person_is_created_with_the_mapped_role(provider: Provider, role: str) -> None:
    provider.person = person(
        "Dana@Example.com",
        GROUP_OF[role],
        "unrelated-group",
        preferred_username="dana",
        given_name="Dana",
        family_name="Scully",
        zoneinfo="Europe/Berlin",
    )
    client = Client()

    answer = sso_sign_in(client)

    assert answer.status_code == 302
    assert answer["Location"] == HOME
    user = signed_in_user(client)
    assert user is not None
    assert (user.username, user.email, user.first_name, user.timezone) == (
        "dana",
        "Dana@example.com",
        "Dana",
        "Europe/Berlin",
    )
    assert role_names(user) == {role}
    assert not user.has_usable_password()
    assert not user.is_superuser
    # Only a Manager's role opens the admin (as is_staff does for Managers today).
    assert user.is_staff == (role == MANAGER)
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == (200 if role == MANAGER else 302)
    # No password to change: the layout offers none.
    assert reverse("password_change") not in client.get(HOME).content.decode()


def test_explicit_endpoints_work_without_discovery(provider: Provider, settings: Settings) -> None:
    provider.configure(settings, discovery=False)
    provider.person = person("erin@example.com", "oncall-engineers")
    client = Client()

    assert sso_sign_in(client).status_code == 302
    assert signed_in_user(client) is not None
    assert provider.token_requests[0]["redirect_uri"] == (
        "http://testserver" + reverse("oidc_authentication_callback")
    )


def test_an_existing_person_is_matched_by_email_in_any_case(provider: Provider) -> None:
    alice = UserFactory.create(username="alice", email="Alice@Example.com", roles=[SUPPORT])
    alice.groups.add(Group.objects.get_or_create(name=ENGINEERING_COUNCIL)[0])
    provider.person = person("alice@EXAMPLE.com", "oncall-engineers", preferred_username="a2")
    client = Client()

    assert sso_sign_in(client).status_code == 302

    assert signed_in_user(client) == alice
    assert User.objects.count() == 1
    alice.refresh_from_db()
    # The role groups follow the claim; any other group (the council) is left alone.
    assert role_names(alice) == {ENGINEER, ENGINEERING_COUNCIL}
    assert alice.username == "alice"
    assert alice.has_usable_password()


def test_the_role_changes_on_the_next_sign_in(provider: Provider) -> None:
    provider.person = person("morgan@example.com", "oncall-managers")
    assert sso_sign_in(Client()).status_code == 302
    morgan = User.objects.get(email="morgan@example.com")
    assert role_names(morgan) == {MANAGER}
    assert morgan.is_staff

    provider.person = person("morgan@example.com", "oncall-engineers", "oncall-support")
    client = Client()
    assert sso_sign_in(client).status_code == 302

    morgan.refresh_from_db()
    assert role_names(morgan) == {ENGINEER, SUPPORT}
    assert not morgan.is_staff
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_superuser_keeps_superuser_and_staff_whatever_the_claim(provider: Provider) -> None:
    root = UserFactory.create(
        username="root", email="root@example.com", is_staff=True, is_superuser=True
    )
    provider.person = person("root@example.com", "oncall-engineers")

    assert sso_sign_in(Client()).status_code == 302

    root.refresh_from_db()
    assert root.is_superuser
    assert root.is_staff
    assert role_names(root) == {ENGINEER}


def test_a_person_with_no_mapped_role_is_refused_and_nothing_is_stored(
    provider: Provider,
) -> None:
    bob = UserFactory.create(username="bob", email="bob@example.com", roles=[ENGINEER])
    provider.person = person("bob@example.com", "finance")
    client = Client()

    answer = sso_sign_in(client)

    assert answer.status_code == 403
    page = answer.content.decode()
    assert "Sign-in refused" in page
    assert "no role in the portal" in page
    assert "groups: finance" in page
    assert signed_in_user(client) is None
    assert role_names(bob) == {ENGINEER}

    provider.person = person("newcomer@example.com")
    assert sso_sign_in(Client()).status_code == 403
    assert not User.objects.filter(email="newcomer@example.com").exists()


def test_the_default_role_lets_unmapped_people_in(provider: Provider, settings: Settings) -> None:
    settings.OIDC_DEFAULT_ROLE = SUPPORT
    provider.person = person("newcomer@example.com", "finance")

    assert sso_sign_in(Client()).status_code == 302

    assert role_names(User.objects.get(email="newcomer@example.com")) == {SUPPORT}


@pytest.mark.parametrize("flag", [False, "false"])
def test_an_unverified_email_is_refused(provider: Provider, flag: Any) -> None:
    UserFactory.create(username="carol", email="carol@example.com", roles=[SUPPORT])
    provider.person = person("carol@example.com", "oncall-managers", email_verified=flag)
    client = Client()

    answer = sso_sign_in(client)

    assert_refused(answer, 403, "has not verified the email address carol@example.com", client)
    assert role_names(User.objects.get(username="carol")) == {SUPPORT}


def test_an_inactive_person_is_refused(provider: Provider) -> None:
    UserFactory.create(username="gone", email="gone@example.com", is_active=False)
    provider.person = person("gone@example.com", "oncall-engineers")
    client = Client()

    answer = sso_sign_in(client)

    assert_refused(answer, 403, "disabled", client)


def test_a_person_deactivated_after_signing_in_is_signed_out(provider: Provider) -> None:
    provider.person = person("frank@example.com", "oncall-engineers")
    client = Client()
    assert sso_sign_in(client).status_code == 302
    assert client.get(HOME).status_code == 200

    User.objects.filter(email="frank@example.com").update(is_active=False)

    assert client.get(HOME).status_code == 302


def test_two_accounts_with_one_email_are_refused(provider: Provider) -> None:
    UserFactory.create(username="twin1", email="twin@example.com")
    UserFactory.create(username="twin2", email="TWIN@example.com")
    provider.person = person("twin@example.com", "oncall-engineers")

    answer = sso_sign_in(Client())

    assert_refused(answer, 403, "More than one account")


def test_the_next_page_survives_the_round_trip(provider: Provider) -> None:
    provider.person = person("erin@example.com", "oncall-engineers")

    answer = sso_sign_in(Client(), next_url="/incidents/")

    assert answer["Location"] == "/incidents/"


def callback(client: Client, **query: str) -> Any:
    return client.get(reverse("oidc_authentication_callback"), query)


def test_an_unknown_state_is_refused(provider: Provider) -> None:
    provider.person = person("eve@example.com", "oncall-managers")
    client = Client()
    start(client)  # a state in the session, but not the one sent back

    answer = callback(client, code="stolen", state="forged")
    fresh = callback(Client(), code="stolen", state="forged")  # no state in the session

    for refused in (answer, fresh):
        assert_refused(refused, 400, "could not be verified")
    assert signed_in_user(client) is None
    assert provider.token_requests == []


def test_a_replayed_callback_is_refused(provider: Provider) -> None:
    provider.person = person("erin@example.com", "oncall-engineers")
    client = Client()
    query = at_provider(client)
    assert callback(client, **query).status_code == 302
    client.logout()

    assert callback(client, **query).status_code == 400


@pytest.mark.parametrize(
    ("fault", "value"),
    [
        ("nonce_override", "another-nonce"),
        ("signing_key", "other-key"),
        ("audience", "another-client"),
    ],
)
def test_a_token_that_does_not_verify_is_refused(
    provider: Provider, fault: str, value: str
) -> None:
    setattr(provider, fault, new_key() if value == "other-key" else value)
    provider.person = person("mallory@example.com", "oncall-managers")
    client = Client()

    answer = sso_sign_in(client)

    assert_refused(answer, 400, "could not be verified", client)
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_the_provider_saying_no_is_shown(provider: Provider) -> None:
    client = Client()
    start(client)
    state = next(iter(client.session["oidc_states"]))

    answer = callback(
        client, error="access_denied", error_description="The user cancelled", state=state
    )

    assert_refused(answer, 403, "refused the sign-in: The user cancelled")


def closed_port_url(path: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def test_a_provider_that_is_down_gets_a_clear_page(provider: Provider, settings: Settings) -> None:
    settings.OIDC_OP_DISCOVERY_URL = closed_port_url("/.well-known/openid-configuration")

    answer = start(Client())

    assert_refused(answer, 502, "could not be reached")


@pytest.mark.parametrize("fault", ["down", "500"])
def test_a_token_endpoint_that_fails_gets_a_clear_page(
    provider: Provider, settings: Settings, fault: str
) -> None:
    provider.configure(settings, discovery=False)
    if fault == "down":
        settings.OIDC_OP_TOKEN_ENDPOINT = closed_port_url("/token")
    else:
        provider.token_status = 500
    provider.person = person("erin@example.com", "oncall-engineers")
    client = Client()

    answer = sso_sign_in(client)

    assert_refused(answer, 502, "could not be reached", client)


def test_single_sign_on_is_off_unless_configured(settings: Settings) -> None:
    settings.OIDC_RP_CLIENT_ID = ""

    page = Client().get(LOGIN).content.decode()

    assert "Sign in with SSO" not in page
    assert 'name="password"' in page
    assert "Sign in with SSO" not in Client().get(reverse("admin:login")).content.decode()
    assert start(Client()).status_code == 404
    assert callback(Client(), code="x", state="y").status_code == 404


def test_the_login_page_offers_sso_beside_the_password(provider: Provider) -> None:
    page = Client().get(LOGIN, {"next": "/incidents/"}).content.decode()

    assert "Sign in with SSO" in page
    assert reverse("oidc_authentication_init") + "?next=/incidents/" in page
    assert 'name="password"' in page


def test_with_password_login_off_only_sso_is_offered(
    provider: Provider, settings: Settings
) -> None:
    settings.PASSWORD_LOGIN = False
    UserFactory.create(username="alice", password="right-pass-2026", is_staff=True)
    client = Client()

    page = client.get(LOGIN).content.decode()
    refused = client.post(LOGIN, {"username": "alice", "password": "right-pass-2026"})
    admin_page = client.get(reverse("admin:login"), {"next": "/admin/"})
    admin_post = client.post(
        reverse("admin:login"), {"username": "alice", "password": "right-pass-2026"}
    )

    assert "Sign in with SSO" in page
    assert 'name="password"' not in page
    assert_refused(refused, 403, "password is turned off")
    assert admin_page.status_code == 302
    assert admin_page["Location"] == LOGIN + "?next=%2Fadmin%2F"
    assert admin_post.status_code == 403
    assert signed_in_user(client) is None
    # Single sign-on still signs people in.
    provider.person = person("erin@example.com", "oncall-engineers")
    assert sso_sign_in(client).status_code == 302


def test_the_admin_login_offers_sso_beside_the_password(provider: Provider) -> None:
    page = Client().get(reverse("admin:login"), {"next": "/admin/"}).content.decode()

    assert "Sign in with SSO" in page
    assert reverse("oidc_authentication_init") + "?next=/admin/" in page
    assert 'name="password"' in page


def test_the_admin_login_still_takes_passwords_when_on(provider: Provider) -> None:
    UserFactory.create(
        username="root", password="right-pass-2026", is_staff=True, is_superuser=True
    )
    client = Client()

    answer = client.post(
        reverse("admin:login"),
        {"username": "root", "password": "right-pass-2026", "next": "/admin/"},
    )

    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"


def test_axes_still_locks_passwords_and_ignores_sso_refusals(provider: Provider) -> None:
    UserFactory.create(username="alice", password="right-pass-2026")
    address = "203.0.113.7"

    provider.person = person("nobody@example.com", "finance")
    for _ in range(6):
        assert sso_sign_in(Client(REMOTE_ADDR=address)).status_code == 403
    provider.person = person("erin@example.com", "oncall-engineers")
    assert sso_sign_in(Client(REMOTE_ADDR=address)).status_code == 302
    assert not AccessAttempt.objects.exists()

    for _ in range(5):
        Client().post(LOGIN, {"username": "alice", "password": "wrong"}, REMOTE_ADDR=address)
    locked = Client().post(
        LOGIN, {"username": "alice", "password": "right-pass-2026"}, REMOTE_ADDR=address
    )
    assert locked.status_code == 429
