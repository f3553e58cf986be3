"""What every view of this API shares: managers only, documented errors (bodies are checked
by `oncall.api.inputs.validated_body`)."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from oncall.models import User
from oncall.roles import is_manager

TAGS = ["integrations"]
READ_ERRORS = (401, 403)
WRITE_ERRORS = (400, 401, 403, 413, 415)


def request_user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User), "IsAuthenticated lets only users through"
    return user


class IsManager(BasePermission):
    message = "Only managers can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_manager(request.user)
