import pytest
from django.test import Client

from oncall.roles import ENGINEER
from tests.factories import UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/accounts/password/", "/admin/"])
def test_pages_need_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.django_db
def test_login_shows_name_and_roles_then_logout(client: Client) -> None:
    UserFactory.create(username="alice", first_name="Alice", last_name="Moreau", roles=[ENGINEER])
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b"Log in" in page.content
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "secret-pass"}, follow=True
    )
    assert response.status_code == 200
    assert b"Alice Moreau" in response.content
    assert b"Engineer" in response.content
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client: Client) -> None:
    UserFactory.create(username="alice")
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


@pytest.mark.django_db
def test_password_change(client: Client) -> None:
    user = UserFactory.create(username="alice")
    client.force_login(user)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "secret-pass",
            "new_password1": "Brand-new-pass-42",
            "new_password2": "Brand-new-pass-42",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Brand-new-pass-42")


def test_favicon_ico_leads_to_the_portal_icon_without_login(client: Client) -> None:
    """The admin and the API docs name no icon, so browsers ask for /favicon.ico (was 404)."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith(".svg")
    assert "favicon" in response["Location"]
