"""Signing a person in from the claims their identity provider vouched for."""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction

from oncall.models import User
from oncall.roles import MANAGER, ROLES
from oncall.validators import validate_timezone

logger = logging.getLogger(__name__)
USERNAME_MAX = User._meta.get_field("username").max_length or 150
NAME_MAX = 150


class SsoRefused(PermissionDenied):
    """The provider vouched for someone the portal will not sign in; the message says why."""


def claim_values(claims: Mapping[str, Any]) -> list[str]:
    """The role claim's values: providers send one string or a list of them."""
    raw = claims.get(settings.OIDC_ROLE_CLAIM)
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list | tuple):
        return [value for value in raw if isinstance(value, str)]
    return []


def roles_from_claims(claims: Mapping[str, Any]) -> set[str]:
    """The portal roles the claim maps to, else OIDC_DEFAULT_ROLE (empty: none)."""
    role_map: dict[str, str] = settings.OIDC_ROLE_MAP
    roles = {role_map[value] for value in claim_values(claims) if value in role_map}
    if not roles and settings.OIDC_DEFAULT_ROLE:
        roles = {settings.OIDC_DEFAULT_ROLE}
    return roles & set(ROLES)


def verified_email(claims: Mapping[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise SsoRefused("Your sign-in provider sent no email address.")
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise SsoRefused(f"Your sign-in provider sent an invalid email address: {email}.") from None
    # Providers that have not checked the address say so; some send the flag as a string.
    if str(claims.get("email_verified", True)).lower() == "false":
        raise SsoRefused(f"Your sign-in provider has not verified the email address {email}.")
    return email


def _free_username(candidates: Iterable[Any], email: str) -> str:
    validator = UnicodeUsernameValidator()
    for candidate in candidates:
        if not isinstance(candidate, str) or not 0 < len(candidate) <= USERNAME_MAX:
            continue
        try:
            validator(candidate)
        except ValidationError:
            continue
        if not User.objects.filter(username__iexact=candidate).exists():
            return candidate
    base = email[: USERNAME_MAX - 8]
    taken = set(User.objects.filter(username__istartswith=base).values_list("username", flat=True))
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _new_user(*, email: str, claims: Mapping[str, Any]) -> User:
    user = User(
        username=_free_username([claims.get("preferred_username"), email], email),
        email=email,
        first_name=str(claims.get("given_name") or "")[:NAME_MAX],
        last_name=str(claims.get("family_name") or "")[:NAME_MAX],
    )
    zone = claims.get("zoneinfo")
    if isinstance(zone, str):
        try:
            validate_timezone(zone)
            user.timezone = zone
        except ValidationError:
            pass  # the default zone; the person sets theirs on their profile
    user.set_unusable_password()  # signs in through the provider only
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def sso_user_sign_in(*, claims: Mapping[str, Any]) -> User:
    """Match (by email, any case) or create the person and set their role groups from the claim.

    Only the four role groups are touched; `is_staff` (the admin's door) follows the Manager
    role, and superusers keep theirs. A refusal (`SsoRefused`) changes nothing.
    """
    email = verified_email(claims)
    users = list(User.objects.select_for_update().filter(email__iexact=email)[:2])
    if len(users) > 1:
        raise SsoRefused(
            f"More than one account has the email address {email}; an administrator must "
            "give one of them another address before you can sign in."
        )
    if users and not users[0].is_active:
        raise SsoRefused("Your account in the portal is disabled.")
    roles = roles_from_claims(claims)
    if not roles:
        values = ", ".join(claim_values(claims)) or "none"
        raise SsoRefused(
            f"Your sign-in provider gives you no role in the portal "
            f"({settings.OIDC_ROLE_CLAIM}: {values}). Ask your manager to add you to an "
            "on-call group."
        )
    user = users[0] if users else _new_user(email=email, claims=claims)
    wanted = set(Group.objects.filter(name__in=roles))
    held = set(user.groups.filter(name__in=ROLES))
    if held - wanted:
        user.groups.remove(*(held - wanted))
    if wanted - held:
        user.groups.add(*(wanted - held))
    staff = MANAGER in roles
    if not user.is_superuser and user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
    logger.info(
        "single sign-on: %s (%s) as %s%s",
        user.username,
        user.pk,
        ", ".join(sorted(roles)),
        "" if users else ", new account",
    )
    return user
