"""Sign-in pages: the login page (password and/or "Sign in with SSO"), the admin's login door,
and the provider round trip (mozilla-django-oidc's views, answering every failure with a page
that names it instead of a bare redirect, a 400 from SuspiciousOperation or a 500)."""

import logging
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from oncall.sso.provider import ProviderUnavailable, password_login_enabled, provider, sso_enabled

logger = logging.getLogger(__name__)
REFUSED = "registration/sso_refused.html"
UNREACHABLE = (
    "Your sign-in provider could not be reached or gave an answer the portal cannot use. "
    "Try again in a minute; if it persists, tell the portal's administrators."
)
UNVERIFIED = (
    "The answer from your sign-in provider could not be verified (it may be stale, come from "
    "another browser tab, or have been tampered with). Start the sign-in again."
)
PASSWORD_OFF = "Sign-in with a password is turned off here: use single sign-on."
# What a provider round trip can raise besides a refusal: transport and HTTP errors, bad
# JSON (ValueError), a JWKS without the key or fields it should hold.
PROVIDER_ERRORS = (requests.RequestException, ProviderUnavailable, ValueError, KeyError)


def refusal(request: HttpRequest, message: str, status: int) -> HttpResponse:
    title = "Sign-in refused" if status == 403 else "Sign-in failed"
    context = {"title": title, "message": message}
    return render(request, REFUSED, context, status=status)


class LoginView(auth_views.LoginView):
    """The login page: the password form unless PASSWORD_LOGIN is off, the SSO button when on."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = sso_enabled()
        context["password_login"] = password_login_enabled()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not password_login_enabled():
            return refusal(request, PASSWORD_OFF, 403)
        return super().post(request, *args, **kwargs)


@login_not_required
@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's own login form, or with PASSWORD_LOGIN off the portal's (SSO) login page."""
    if password_login_enabled():
        return admin.site.login(request, extra_context={"sso_enabled": sso_enabled()})
    if request.method == "POST":
        return refusal(request, PASSWORD_OFF, 403)
    query = urlencode({"next": request.GET.get("next") or reverse("admin:index")})
    return HttpResponseRedirect(f"{reverse('login')}?{query}")


class SsoStart(OIDCAuthenticationRequestView):
    """Off unless configured; finds the authorization endpoint (maybe by discovery) per request."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider().authorization_endpoint
        except ProviderUnavailable as error:
            logger.warning("single sign-on: provider unavailable: %s", error)
            return refusal(request, UNREACHABLE, 502)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        response: HttpResponse = super().get(request)
        return response


class SsoCallback(OIDCAuthenticationCallbackView):
    """The provider's redirect back: code and state → token → person, or a page saying why not."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            response: HttpResponse = super().get(request)
        except (SuspiciousOperation, jwt.PyJWTError) as error:
            # Unknown state, wrong nonce, bad signature, audience or issuer.
            logger.warning("single sign-on: unverified answer: %s", error)
            return refusal(request, UNVERIFIED, 400)
        except PROVIDER_ERRORS as error:
            logger.warning("single sign-on: provider unavailable: %s", error)
            return refusal(request, UNREACHABLE, 502)
        return response

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, "sso_refusal", None)
        if reason:
            return refusal(request, reason, 403)
        if request.GET.get("error"):
            said = request.GET.get("error_description") or request.GET["error"]
            return refusal(request, f"Your sign-in provider refused the sign-in: {said}", 403)
        if getattr(self, "user", None) is not None and not self.user.is_active:
            return refusal(request, "Your account in the portal is disabled.", 403)
        return refusal(request, UNVERIFIED, 400)
