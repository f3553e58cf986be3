"""`Authorization: Bearer <key>`: a personal API key acting with its owner's role.

Listed before session authentication, so a request with a key never needs a CSRF token
(a browser cannot be made to send the header cross-site) while a browser session still
must send one for writes. A bad key is a 401 with `WWW-Authenticate: Bearer`; a request
without credentials keeps the session's 403. API_KEY_FAILURE_LIMIT bad keys from one address
within API_KEY_FAILURE_WINDOW make its next tries 429 with Retry-After, good keys included,
until the window ends; only failures count, so a busy client with a valid key is never slowed.
"""

import time
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from oncall.api.services import api_key_touch
from oncall.keys import key_digest
from oncall.models import ApiKey, User

KEYWORD = "Bearer"
MAX_KEY_LENGTH = 200


def _failures_key(request: Request) -> str:
    # The address as django-axes sees it (the same proxy settings for both doors).
    return f"api-key-failures:{get_client_ip_address(request._request) or 'unknown'}"


def _refuse_if_throttled(request: Request) -> None:
    started = cache.get(_failures_key(request) + ":since")
    if started is None or cache.get(_failures_key(request), 0) < settings.API_KEY_FAILURE_LIMIT:
        return
    window = settings.API_KEY_FAILURE_WINDOW.total_seconds()
    wait = max(1, int(started + window - time.time()) + 1)
    raise exceptions.Throttled(
        wait=wait, detail="Too many invalid API keys from your address; try again later."
    )


def _count_failure(request: Request) -> None:
    key = _failures_key(request)
    window = int(settings.API_KEY_FAILURE_WINDOW.total_seconds())
    if cache.add(key + ":since", time.time(), window):
        cache.set(key, 0, window)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls: a new window
        cache.set(key, 1, window)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        _refuse_if_throttled(request)
        try:
            return self._authenticate_key(request, header)
        except exceptions.AuthenticationFailed:
            _count_failure(request)
            raise

    def _authenticate_key(self, request: Request, header: list[bytes]) -> tuple[User, ApiKey]:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as `Authorization: Bearer <key>`.")
        try:
            secret = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        if len(secret) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        key = (
            ApiKey.objects.select_related("user")
            .filter(digest=key_digest(secret), revoked_at__isnull=True)
            .first()
        )
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        api_key_touch(key=key)
        return key.user, key

    def authenticate_header(self, request: Request) -> str | None:
        # Only a request that tried a key is told to use one; others keep the session's 403.
        if authentication.get_authorization_header(request):
            return f'{KEYWORD} realm="api"'
        return None


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "oncall.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API key from POST /api/v1/keys/; it acts with your role.",
        }
