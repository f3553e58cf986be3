"""What every view of this API shares: managers only, bodies checked, documented errors."""

from typing import Any

from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from oncall.models import User
from oncall.roles import is_manager

TAGS = ["integrations"]
READ_ERRORS = (401, 403)
WRITE_ERRORS = (400, 401, 403, 413, 415)


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User), "IsAuthenticated lets only users through"
    return user


class IsManager(BasePermission):
    message = "Only managers can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_manager(request.user)


def _body(
    serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)
