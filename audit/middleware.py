"""Who made a change and through which door, for every audit entry a request writes."""

from collections.abc import Callable
from typing import Any

from auditlog.context import set_extra_data
from django.http import HttpRequest, HttpResponse

from audit.models import Via


def via_for(path: str) -> str:
    if path.startswith("/admin/"):
        return Via.ADMIN
    # The REST API and the drop-in doors monitoring tools post to are machines' doors.
    if path.startswith(("/api/", "/v2/", "/integrations/")):
        return Via.API
    return Via.PORTAL


def _user_of(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class AuditMiddleware:
    """auditlog's middleware, with two changes: the door (`via`) is recorded, and the actor is
    read when the entry is written, not when the request arrives, because an API key is
    checked by DRF inside the view (which then sets `request.user`).

    The address is REMOTE_ADDR only: X-Forwarded-For is whatever the client says; for the
    same reason no client-sent correlation id is stored (an over-long one would fail the save).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def actor_id() -> int | None:
            user = _user_of(request)
            return user.pk if user is not None else None

        def actor_email() -> str | None:
            user = _user_of(request)
            return user.email or None if user is not None else None

        context = {
            "actor_id": actor_id,
            "actor_email": actor_email,
            "via": via_for(request.path),
            "remote_addr": request.META.get("REMOTE_ADDR") or None,
        }
        with set_extra_data(context_data=context):
            return self.get_response(request)
