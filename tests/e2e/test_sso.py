"""Single sign-on in a real browser: the login page's button, the local provider's redirects
and the callback, with password sign-in turned off."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer
from pytest_httpserver import HTTPServer

from oncall.models import User
from oncall.roles import ENGINEER, ROLES
from tests.oncall.oidc_provider import Provider, person

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_a_person_signs_in_through_the_provider_in_the_browser(
    page: Page, live_server: LiveServer, httpserver: HTTPServer, settings: Settings
) -> None:
    for role in ROLES:  # a transactional test may start after another emptied the tables
        Group.objects.get_or_create(name=role)
    provider = Provider(httpserver)
    provider.install()
    provider.configure(settings)
    settings.PASSWORD_LOGIN = False
    provider.person = person(
        "dana@example.com", "oncall-engineers", given_name="Dana", family_name="Scully"
    )

    page.goto(f"{live_server.url}/incidents/")  # signed out: the login page, next=/incidents/
    expect(page.locator("#id_password")).to_have_count(0)
    page.get_by_role("link", name="Sign in with SSO").click()

    expect(page).to_have_url(f"{live_server.url}/incidents/")
    expect(page.locator(".whoami")).to_contain_text("Dana Scully")
    expect(page.locator(".whoami")).not_to_contain_text("Password")
    dana = User.objects.get(email="dana@example.com")
    assert set(dana.groups.values_list("name", flat=True)) == {ENGINEER}
