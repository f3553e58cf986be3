from django.conf import settings
from django.http import HttpRequest

from oncall.roles import user_roles


def portal(request: HttpRequest) -> dict[str, object]:
    """What the base layout needs on every page: the current user's roles, and whether
    passwords are in use (people signing in through single sign-on have none to change)."""
    user = getattr(request, "user", None)
    roles = sorted(user_roles(user)) if user is not None and user.is_authenticated else []
    return {"user_roles": roles, "password_login": settings.PASSWORD_LOGIN}
