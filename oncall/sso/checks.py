"""System checks of the single sign-on settings (run by `manage.py check`, runserver, migrate)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from oncall.roles import ROLES
from oncall.sso.provider import sso_enabled


@register()
def check_sso_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    roles = ", ".join(ROLES)
    for value, role in settings.OIDC_ROLE_MAP.items():
        if role not in ROLES:
            messages.append(
                Error(
                    f"OIDC_ROLE_MAP maps {value!r} to {role!r}, not a role ({roles}).",
                    id="sso.E001",
                )
            )
    if settings.OIDC_DEFAULT_ROLE and settings.OIDC_DEFAULT_ROLE not in ROLES:
        messages.append(
            Error(
                f"OIDC_DEFAULT_ROLE {settings.OIDC_DEFAULT_ROLE!r} is not a role ({roles}).",
                id="sso.E002",
            )
        )
    if sso_enabled():
        algorithm = settings.OIDC_RP_SIGN_ALGO
        if algorithm[:2] in ("RS", "ES", "PS") and not (
            settings.OIDC_OP_JWKS_ENDPOINT or settings.OIDC_OP_DISCOVERY_URL
        ):
            messages.append(
                Error(f"OIDC_RP_SIGN_ALGO {algorithm} needs OIDC_OP_JWKS_ENDPOINT.", id="sso.E003")
            )
        if not settings.OIDC_ROLE_MAP and not settings.OIDC_DEFAULT_ROLE:
            messages.append(
                Warning(
                    "Single sign-on is on but neither OIDC_ROLE_MAP nor OIDC_DEFAULT_ROLE is set: "
                    "every sign-in will be refused.",
                    id="sso.W001",
                )
            )
    elif not settings.PASSWORD_LOGIN:
        messages.append(
            Warning(
                "PASSWORD_LOGIN is off and single sign-on is not configured: nobody can sign in.",
                id="sso.W002",
            )
        )
    return messages
