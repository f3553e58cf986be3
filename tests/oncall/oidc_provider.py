"""A local OpenID Connect provider stand-in on pytest-httpserver: discovery, authorize
(redirects back with code and state), token (an RS256 id_token signed with a key made here),
userinfo and JWKS. Tests say who signs in next (`person`) and how the provider misbehaves."""

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse
from jwt.algorithms import RSAAlgorithm
from pytest_django import Settings
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CLIENT_ID = "oncall-portal"
CLIENT_SECRET = "portal-secret"
ROLE_MAP = {
    "oncall-support": "Support",
    "oncall-support-managers": "Support manager",
    "oncall-engineers": "Engineer",
    "oncall-managers": "Manager",
}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Provider:
    server: HTTPServer
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = "test-key-1"
    # The person who signs in next (their claims), and per-test misbehaviour.
    person: dict[str, Any] = field(default_factory=dict)
    signing_key: rsa.RSAPrivateKey | None = None  # sign with another key than the JWKS's
    nonce_override: str | None = None
    audience: str = CLIENT_ID
    token_status: int = 200
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def discovery(self) -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.server.url_for("/authorize"),
            "token_endpoint": self.server.url_for("/token"),
            "userinfo_endpoint": self.server.url_for("/userinfo"),
            "jwks_uri": self.server.url_for("/jwks"),
        }

    def install(self) -> None:
        self.server.expect_request("/.well-known/openid-configuration").respond_with_json(
            self.discovery()
        )
        self.server.expect_request("/authorize").respond_with_handler(self._authorize)
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request("/userinfo").respond_with_handler(self._userinfo)
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        self.server.expect_request("/jwks").respond_with_json({"keys": [jwk]})

    def _authorize(self, request: Request) -> Response:
        args = request.args
        assert args["client_id"] == CLIENT_ID
        assert args["response_type"] == "code"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": args.get("nonce"),
            "redirect_uri": args["redirect_uri"],
            "claims": dict(self.person),
        }
        query = urlencode({"code": code, "state": args["state"]})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def _token(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.token_requests.append(form)
        if self.token_status != 200:
            return Response('{"error": "server_error"}', status=self.token_status)
        grant = self.codes.pop(form.get("code", ""), None)
        if (
            grant is None
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return Response('{"error": "invalid_grant"}', status=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce_override or grant["nonce"],
            **grant["claims"],
        }
        id_token = jwt.encode(
            claims, self.signing_key or self.key, algorithm="RS256", headers={"kid": self.kid}
        )
        self.access_tokens[f"at-{grant['claims'].get('sub')}"] = grant["claims"]
        body = {"access_token": f"at-{grant['claims'].get('sub')}", "token_type": "Bearer"}
        return Response(json.dumps({**body, "id_token": id_token}), content_type="application/json")

    def _userinfo(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        claims = self.access_tokens.get(token)
        if claims is None:
            return Response(status=401)
        return Response(json.dumps(claims), content_type="application/json")

    def configure(self, settings: Settings, *, discovery: bool = True) -> None:
        settings.OIDC_RP_CLIENT_ID = CLIENT_ID
        settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_RP_SIGN_ALGO = "RS256"
        settings.OIDC_ROLE_CLAIM = "groups"
        settings.OIDC_ROLE_MAP = ROLE_MAP
        settings.OIDC_DEFAULT_ROLE = ""
        settings.OIDC_TIMEOUT = 5
        if discovery:
            settings.OIDC_OP_DISCOVERY_URL = self.server.url_for(
                "/.well-known/openid-configuration"
            )
        else:
            settings.OIDC_OP_DISCOVERY_URL = ""
            settings.OIDC_OP_AUTHORIZATION_ENDPOINT = self.server.url_for("/authorize")
            settings.OIDC_OP_TOKEN_ENDPOINT = self.server.url_for("/token")
            settings.OIDC_OP_USER_ENDPOINT = self.server.url_for("/userinfo")
            settings.OIDC_OP_JWKS_ENDPOINT = self.server.url_for("/jwks")


def person(email: str, *groups: str, sub: str | None = None, **claims: Any) -> dict[str, Any]:
    return {
        "sub": sub or email.lower(),
        "email": email,
        "email_verified": True,
        "groups": list(groups),
        **claims,
    }


def start(client: Client, next_url: str = "") -> Any:
    """The login page's "Sign in with SSO" link: the portal sends the browser to the provider."""
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    return client.get(reverse("oidc_authentication_init") + query)


def at_provider(client: Client, next_url: str = "") -> dict[str, str]:
    """The browser's trip out: the portal sends it to the provider, which sends it back with a
    code and the state; returns the callback's query."""
    started = start(client, next_url)
    assert started.status_code == 302, started.content
    answer = requests.get(started["Location"], allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == reverse("oidc_authentication_callback")
    return {name: values[0] for name, values in parse_qs(back.query).items()}


def sso_sign_in(client: Client, next_url: str = "") -> Any:
    """The whole round trip, followed by hand: portal → provider → the portal's callback."""
    return client.get(reverse("oidc_authentication_callback"), at_provider(client, next_url))
