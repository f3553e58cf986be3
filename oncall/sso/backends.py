"""The authentication backend behind the provider's callback (mozilla-django-oidc's, adapted).

mozilla-django-oidc reads its endpoints when a backend is built, and Django builds every
backend for every password sign-in and every request's session user; this one finds them
only when a provider's answer is being checked, so nothing else waits on the provider.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from oncall.sso.provider import provider, sso_enabled
from oncall.sso.services import SsoRefused, sso_user_sign_in


def is_sso_attempt(request: HttpRequest, credentials: dict[str, Any] | None) -> bool:
    """AXES_WHITELIST_CALLABLE: a provider callback is no password guess. The provider throttles
    its own sign-ins; counted here, every refusal would share one key (no username), and a
    few people without a role behind one office address would lock everyone there out."""
    return credentials is not None and "nonce" in credentials and "username" not in credentials


class SsoBackend(OIDCAuthenticationBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.UserModel = get_user_model()  # the rest is read when a callback arrives

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_RP_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_RP_CLIENT_SECRET)

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:
        return str(settings.OIDC_RP_SIGN_ALGO)

    @property
    def OIDC_RP_IDP_SIGN_KEY(self) -> None:
        return None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return provider().token_endpoint

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return provider().userinfo_endpoint

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return provider().jwks_uri

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        # Only the callback view passes a nonce; a password sign-in is not ours.
        if request is None or "nonce" not in kwargs or "username" in kwargs:
            return None
        if not sso_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library checks signature, expiry and nonce; add audience and issuer."""
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if "nonce" not in kwargs:
            return payload  # a signed userinfo answer, not the id_token
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The id_token was issued to another client.")
        issuer = provider().issuer
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("The id_token comes from another issuer.")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        """The id_token's claims with the userinfo endpoint's on top (when there is one):
        some providers put the role claim only in one of them."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            userinfo = super().get_userinfo(access_token, id_token, payload)
            if not isinstance(userinfo, dict):
                raise SuspiciousOperation("The userinfo answer is not a JSON object.")
            if userinfo.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("The userinfo answer is about someone else.")
            claims.update(userinfo)
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        try:
            return sso_user_sign_in(claims=self.get_userinfo(access_token, id_token, payload))
        except SsoRefused as refusal:
            # Django's authenticate() swallows the refusal; the callback view shows this.
            self.request.sso_refusal = str(refusal)
            raise

    def get_user(self, user_id: Any) -> Any:
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None
