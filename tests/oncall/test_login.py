"""Sign-in throttling: django-axes locks a username+address pair after repeated failures,
with a page in the portal layout; the answers give away nothing about which users exist.
Invalid API keys are throttled per address."""

import re
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from oncall.models import User
from tests.api.conftest import assert_error
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")
HOME = reverse("home")
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


def sign_in(password: str, username: str = "alice", address: str = ATTACKER) -> Any:
    return Client().post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def alice() -> User:
    return UserFactory.create(username="alice", password="right-pass-2026")


def test_five_failures_lock_the_username_at_that_address(alice: User) -> None:
    failures = [sign_in("wrong") for _ in range(5)]
    locked = sign_in("right-pass-2026")

    assert [r.status_code for r in failures[:4]] == [200] * 4
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed sign-ins" in page
    assert "Try again in 15 minutes" in page
    assert 'class="brand"' in page  # the portal layout, not a bare 403
    assert "_auth_user_id" not in locked.client.session
    # Another address, or another username from this one, is not locked.
    assert sign_in("right-pass-2026", address=ELSEWHERE).status_code == 302
    assert sign_in("wrong", username="bob").status_code == 200


def test_a_lockout_is_lifted_by_axes_reset(alice: User) -> None:
    for _ in range(5):
        sign_in("wrong")
    assert sign_in("right-pass-2026").status_code == 429

    call_command("axes_reset_username", "alice")

    assert sign_in("right-pass-2026").status_code == 302


def test_a_superuser_sees_and_lifts_lockouts_in_the_admin(alice: User, client: Client) -> None:
    for _ in range(5):
        sign_in("wrong")
    attempt = AccessAttempt.objects.get(username="alice")
    client.force_login(UserFactory.create(username="root", is_staff=True, is_superuser=True))

    listed = client.get(reverse("admin:axes_accessattempt_changelist"))
    lifted = client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )

    assert "alice" in listed.content.decode()
    assert lifted.status_code == 302
    assert sign_in("right-pass-2026").status_code == 302


def test_a_success_clears_the_count(alice: User) -> None:
    for _ in range(4):
        sign_in("wrong")
    assert sign_in("right-pass-2026").status_code == 302
    for _ in range(4):
        sign_in("wrong")

    assert sign_in("right-pass-2026").status_code == 302


def _comparable(response: Any, username: str) -> str:
    page = response.content.decode().replace(username, "USERNAME")
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", page)


def test_unknown_user_and_wrong_password_answer_alike(alice: User) -> None:
    wrong_password = sign_in("wrong", username="alice")
    unknown_user = sign_in("wrong", username="zelda")

    assert wrong_password.status_code == unknown_user.status_code == 200
    assert "Please enter a correct username and password" in wrong_password.content.decode()
    assert _comparable(wrong_password, "alice") == _comparable(unknown_user, "zelda")


# --- API keys -------------------------------------------------------------------------------
ME = reverse("api:me")


def api_get(secret: str, address: str = ATTACKER) -> Any:
    return Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR=address)


def test_repeated_invalid_keys_from_one_address_answer_429(settings: Settings) -> None:
    settings.API_KEY_FAILURE_LIMIT = 3
    key: Any = ApiKeyFactory.create()

    tries = [api_get("oncall_api_guess") for _ in range(3)]
    throttled = api_get("oncall_api_guess")
    valid_here = api_get(key.secret)

    assert [r.status_code for r in tries] == [401] * 3
    assert_error(throttled, 429, "throttled")
    assert 1 <= int(throttled["Retry-After"]) <= 15 * 60 + 1
    # A guess that is right is refused too while the address is throttled.
    assert_error(valid_here, 429, "throttled")
    assert api_get(key.secret, address=ELSEWHERE).status_code == 200


def test_a_valid_key_is_never_throttled(settings: Settings) -> None:
    settings.API_KEY_FAILURE_LIMIT = 3
    key: Any = ApiKeyFactory.create()

    answers = {api_get(key.secret).status_code for _ in range(20)}

    assert answers == {200}


@pytest.mark.redis
def test_invalid_key_counts_are_shared_through_redis(settings: Settings, redis_url: str) -> None:
    """Two web processes see one count: the production cache is Redis when REDIS_URL is set."""
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "test-api-key-failures",
        }
    }
    settings.API_KEY_FAILURE_LIMIT = 2
    keys = ["api-key-failures:192.0.2.77", "api-key-failures:192.0.2.77:since"]
    # Never clear(): it would flush the Redis database the broker shares.
    caches["default"].delete_many(keys)
    try:
        tries = [api_get("oncall_api_guess", address="192.0.2.77") for _ in range(2)]
        stored = caches["default"].get("api-key-failures:192.0.2.77")
        throttled = api_get("oncall_api_guess", address="192.0.2.77")
    finally:
        caches["default"].delete_many(keys)

    assert [r.status_code for r in tries] == [401, 401]
    assert stored == 2
    assert_error(throttled, 429, "throttled")
