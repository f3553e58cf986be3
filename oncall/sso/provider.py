"""The identity provider: whether single sign-on is on, and where its endpoints are.

Endpoints come from the settings, else from the discovery document
(`OIDC_OP_DISCOVERY_URL`), fetched when a sign-in needs it and cached, so no request, start-up
or password sign-in ever waits on the provider.
"""

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache

DISCOVERY_CACHE_SECONDS = 3600
ENDPOINTS = {
    # setting → key in the discovery document
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered something unusable."""


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    issuer: str


def sso_enabled() -> bool:
    """On when a client id is set and the endpoints are named (explicitly or by discovery)."""
    if not settings.OIDC_RP_CLIENT_ID:
        return False
    if settings.OIDC_OP_DISCOVERY_URL:
        return True
    return bool(settings.OIDC_OP_AUTHORIZATION_ENDPOINT and settings.OIDC_OP_TOKEN_ENDPOINT)


def password_login_enabled() -> bool:
    return bool(settings.PASSWORD_LOGIN)


def _discovery() -> dict[str, Any]:
    url = settings.OIDC_OP_DISCOVERY_URL
    if not url:
        return {}
    key = f"oidc-discovery:{url}"
    document = cache.get(key)
    if document is None:
        try:
            response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(f"discovery document: {error}") from error
        if not isinstance(document, dict):
            raise ProviderUnavailable("discovery document is not a JSON object")
        cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def provider() -> Provider:
    """The provider's endpoints; explicit settings win over the discovery document."""
    needs_discovery = any(not getattr(settings, name) for name in ENDPOINTS)
    document = _discovery() if needs_discovery else {}
    found = {
        name: getattr(settings, name) or str(document.get(field) or "")
        for name, field in ENDPOINTS.items()
    }
    for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT"):
        if not found[name]:
            raise ProviderUnavailable(f"no {ENDPOINTS[name]} (set {name})")
    return Provider(
        authorization_endpoint=found["OIDC_OP_AUTHORIZATION_ENDPOINT"],
        token_endpoint=found["OIDC_OP_TOKEN_ENDPOINT"],
        userinfo_endpoint=found["OIDC_OP_USER_ENDPOINT"],
        jwks_uri=found["OIDC_OP_JWKS_ENDPOINT"],
        issuer=str(document.get("issuer") or ""),
    )
