"""Friendly error pages (with DEBUG off, as the test settings and `make run` have it) and the
favicon every page links."""

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from oncall.roles import ENGINEER
from tests.factories import UserFactory


def test_debug_is_off_so_the_real_error_pages_are_used() -> None:
    assert settings.DEBUG is False


@pytest.mark.django_db
def test_a_missing_page_is_a_friendly_404_in_the_portal_layout(client: Client) -> None:
    client.force_login(UserFactory.create(username="alice", first_name="Alice", roles=[ENGINEER]))
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in html
    assert 'class="mainnav"' in html  # the portal's own navigation, signed in
    for link in ('href="/"', 'href="/incidents/"', 'href="/oncall/"'):
        assert link in html
    assert "URLconf" not in html
    assert "urlpatterns" not in html


@pytest.mark.django_db
def test_a_missing_incident_uses_the_same_page(client: Client) -> None:
    client.force_login(UserFactory.create(username="alice", roles=[ENGINEER]))
    response = client.get("/incidents/999999/")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()


@pytest.mark.django_db
def test_signed_out_a_missing_address_is_404_without_the_navigation(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Not found</h1>" in html
    assert 'class="mainnav"' not in html


def test_the_500_page_renders_without_a_database_or_request_context(rf: RequestFactory) -> None:
    # No django_db mark: any query raises here, as it would with the database down.
    response = server_error(rf.get("/incidents/1/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in html
    assert "call the on-call engineer or the team's numbers directly" in " ".join(html.split())
    assert "/static/" not in html  # nothing that needs the static manifest
    assert "{%" not in html
    assert "{{" not in html


@pytest.mark.django_db
def test_every_page_links_the_favicon_and_it_is_served(client: Client) -> None:
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    response = client.get("/static/favicon.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)  # type: ignore[attr-defined]
