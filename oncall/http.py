"""What every app's pages share: the htmx request type, the signed-in person, their timezone."""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from oncall.models import User


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
