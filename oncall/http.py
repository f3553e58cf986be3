"""What every app's pages share: the htmx request type, the signed-in person, their timezone,
and reading ids and instants from a query string, a form or a path without trusting them."""

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Concatenate

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from oncall.models import User
from oncall.validators import ROW_ID_MAX, instant_in_range


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "LoginRequiredMiddleware lets only users through"
    return user


def in_viewer_timezone[**P](
    view: Callable[Concatenate[HtmxHttpRequest, P], HttpResponse],
) -> Callable[Concatenate[HtmxHttpRequest, P], HttpResponse]:
    """Render (and read form datetimes) in the signed-in person's timezone."""

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        with timezone.override(signed_in_user(request).tzinfo):
            return view(request, *args, **kwargs)

    return wrapper


def id_from_text(value: object) -> int | None:
    """A row id read from text (query, form, path); None unless ASCII digits that fit a key.

    `str.isdigit()` alone lets "²" through to `int()`, and a 30-digit number reaches the
    database, which cannot compare it with a foreign key.
    """
    text = "" if value is None else str(value)
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= ROW_ID_MAX else None


def instant_from_text(value: str | None) -> datetime | None:
    """An aware ISO 8601 instant within the portal's years (2000–2199); None otherwise.

    Year 9999 at -14:00 parses, but showing it in any zone east of it overflows.
    """
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    if parsed.utcoffset() is None:
        return None
    return parsed if instant_in_range(parsed) else None
