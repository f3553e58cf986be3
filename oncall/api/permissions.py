"""Who may call what: everyone signed in reads; managers change the configuration."""

from typing import Any

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from oncall.models import User
from oncall.roles import is_manager


class SchemaAccess(BasePermission):
    """The OpenAPI schema and docs: anyone signed in, everyone when API_SCHEMA_PUBLIC."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(settings.API_SCHEMA_PUBLIC or (request.user and request.user.is_authenticated))


class IsManagerOrReadOnly(BasePermission):
    """Reads for anyone signed in; writes (teams, rotations, policies…) for managers only."""

    message = "Only managers may change teams, rotations, overrides and escalation policies."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or is_manager(request.user)


def signed_in(request: Request) -> User:
    """The person behind the request (permission classes have refused anyone else)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user
