"""Acknowledge links, Twilio callbacks, the dev outbox and the notification profile page.

Profile page in htmx style: one template with a `settings` partial; an htmx POST gets the
partial back, a plain POST redirects.
"""

import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications import selectors, services
from notifications.callbacks import AckSubject, ack_describe
from notifications.channels.base import one_line
from notifications.channels.twilio import twilio_signature_valid
from notifications.forms import ContactMethodForm, ProviderStatusForm, RuleForm, VerifyForm
from notifications.models import (
    CODE_HIDDEN,
    Channel,
    ContactMethod,
    Notification,
    NotificationRule,
)
from notifications.signing import AckLinkExpired, AckLinkInvalid, ack_path, ack_token_load
from oncall.models import User
from oncall.roles import is_manager


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "LoginRequiredMiddleware lets only users through"
    return user


def _ack_error(request: HttpRequest, *, status: int, title: str, detail: str) -> HttpResponse:
    context = {"title": title, "detail": detail}
    return render(request, "notifications/ack_error.html", context, status=status)


def _ack_subjects(notification: Notification) -> list[tuple[Notification, AckSubject]]:
    """What the link acknowledges: the row's subject, then each subject its message carried
    (one message can list several pages), each described by the app that owns it."""
    rows = [notification, *notification.bundled.select_related("recipient").order_by("id")]
    seen: dict[tuple[str, int | None], Notification] = {}
    for row in rows:
        if row.subject_type:
            seen.setdefault((row.subject_type, row.subject_id), row)
    described = [(row, ack_describe(row)) for row in seen.values()]
    return [(row, subject) for row, subject in described if subject is not None]


def _ack_context(notification: Notification) -> dict[str, Any]:
    subjects = [subject for _, subject in _ack_subjects(notification)]
    return {
        "notification": notification,
        "subjects": subjects,
        "actionable": any(subject.actionable for subject in subjects),
    }


def _ack_link_error(request: HttpRequest, token: str) -> tuple[int, HttpResponse | None]:
    try:
        return ack_token_load(token=token), None
    except AckLinkExpired:
        return 0, _ack_error(
            request,
            status=410,
            title="This acknowledge link has expired",
            detail="Acknowledge from the portal's dashboard instead.",
        )
    except AckLinkInvalid:
        return 0, _ack_error(
            request,
            status=400,
            title="This acknowledge link is not valid",
            detail="It may have been cut short when it was copied.",
        )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def ack(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what the link acknowledges and asks for confirmation (mail scanners follow
    links); POST acknowledges. A link that would change nothing (resolved, reopened since,
    already acknowledged) says so and changes nothing."""
    notification_id, error = _ack_link_error(request, token)
    if error is not None:
        return error
    notification = (
        Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    )
    if notification is None:
        return _ack_error(
            request, status=404, title="Nothing to acknowledge", detail="The page is gone."
        )
    context = _ack_context(notification)
    if not context["subjects"]:
        return _ack_error(
            request,
            status=404,
            title="Nothing to acknowledge",
            detail=f"The portal does not know how to acknowledge a {notification.subject_type!r}.",
        )
    if request.method == "GET":
        return render(request, "notifications/ack_confirm.html", context)
    if not context["actionable"]:
        return render(request, "notifications/ack_confirm.html", context, status=409)
    try:
        services.notification_acknowledge(notification_id=notification.pk, channel="link")
    except services.UnknownSubject:
        return _ack_error(
            request,
            status=404,
            title="Nothing to acknowledge",
            detail=f"The portal does not know how to acknowledge a {notification.subject_type!r}.",
        )
    return render(request, "notifications/ack_done.html", _ack_context(notification))


def _twilio_params(request: HttpRequest) -> dict[str, str]:
    return {key: request.POST[key] for key in request.POST}


def _twilio_request_valid(request: HttpRequest) -> bool:
    url = settings.SITE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    return twilio_signature_valid(url=url, params=_twilio_params(request), signature=signature)


@login_not_required
@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Twilio's delivery report for an SMS or a call (signed with X-Twilio-Signature)."""
    if not _twilio_request_valid(request):
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    report = ProviderStatusForm(request.POST)
    if not report.is_valid():
        return HttpResponse(report.problems(), status=400, content_type="text/plain")
    data = report.cleaned_data
    services.notification_provider_status_record(
        notification_id=pk,
        provider_status=data["MessageStatus"] or data["CallStatus"],
        error_code=data["ErrorCode"],
    )
    return HttpResponse(status=204)


def _twiml(text: str) -> HttpResponse:
    from xml.sax.saxutils import escape

    body = f"<Response><Say>{escape(one_line(text))}</Say></Response>"
    return HttpResponse(body, content_type="application/xml")


@login_not_required
@csrf_exempt
@require_POST
def twilio_voice_ack(request: HttpRequest, token: str) -> HttpResponse:
    """The keypress gathered on a voice page: 1 acknowledges."""
    if not _twilio_request_valid(request):
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    try:
        notification_id = ack_token_load(token=token)
    except (AckLinkExpired, AckLinkInvalid):
        return _twiml("This page can no longer be acknowledged by phone. Goodbye.")
    if request.POST.get("Digits") != "1":
        return _twiml("Not acknowledged. Goodbye.")
    row = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    subjects = [subject for _, subject in _ack_subjects(row)] if row is not None else []
    if subjects and not any(subject.actionable for subject in subjects):
        return _twiml(f"Nothing was changed. {subjects[0].state} Goodbye.")
    try:
        services.notification_acknowledge(notification_id=notification_id, channel="voice")
    except (services.UnknownSubject, Notification.DoesNotExist):
        return _twiml("There is nothing to acknowledge. Goodbye.")
    return _twiml("Acknowledged. Thank you. Goodbye.")


@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """The development outbox: what the portal sent (or would have sent) lately, each
    message with the acknowledge link it carried, times in the viewer's zone.

    Served only with the console channel on (`NOTIFY_CONSOLE`), only to superusers, and
    never with a verification code: those messages' bodies are hidden.
    """
    if not settings.NOTIFY_CONSOLE:
        raise Http404("The outbox page is on only with the console channel (NOTIFY_CONSOLE).")
    if not _user(request).is_superuser:
        raise PermissionDenied("The outbox is for superusers.")
    rows = list(selectors.outbox_recent())
    links = {
        row.pk: ack_path(notification_id=row.pk)
        for row in rows
        if row.subject_type and row.bundled_into_id is None
    }
    with timezone.override(_user(request).tzinfo):
        return render(
            request,
            "notifications/outbox.html",
            {
                "notifications": [(row, links.get(row.pk, "")) for row in rows],
                "code_hidden": CODE_HIDDEN,
            },
        )


def _profile_context(
    request: HttpRequest, *, method_form: ContactMethodForm | None = None, **extra: Any
) -> dict[str, Any]:
    user = _user(request)
    return {
        "methods": selectors.contact_methods_with_last_test(user=user),
        "rules": selectors.notification_rules_of(user=user),
        "method_form": method_form or ContactMethodForm(),
        "rule_form": extra.pop("rule_form", None) or RuleForm(user=user),
        "verify_form": VerifyForm(),
        "sees_untested": is_manager(user),
        **extra,
    }


def _profile_response(
    request: HttpRequest, *, throttled: services.Throttled | None = None, **context: Any
) -> HttpResponse:
    """The settings partial for htmx; a redirect for a plain POST without errors.

    A plain POST with errors gets the page with 400 (429 and Retry-After when a code or a
    new address must wait); htmx gets the partial with 200, since htmx swaps no 4xx.
    """
    htmx = getattr(request, "htmx", False)
    has_errors = (
        any(getattr(form, "errors", None) for form in context.values() if hasattr(form, "errors"))
        or context.get("verify_error")
        or context.get("test_error")
        or throttled is not None
    )
    # A new signing secret is shown in this answer only: no redirect (it would be lost).
    if request.method == "POST" and not htmx and not has_errors and "fresh_secret" not in context:
        return redirect("notifications:profile")
    template = "notifications/profile.html"
    status = 429 if throttled is not None else 400 if has_errors else 200
    if htmx:
        template, status = template + "#settings", 200
    response = render(request, template, _profile_context(request, **context), status=status)
    if "fresh_secret" in context:
        add_never_cache_headers(response)  # a secret shown once is never kept by a cache
    if throttled is not None:
        response["Retry-After"] = str(math.ceil(throttled.retry_after.total_seconds()))
    return response


@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    return _profile_response(request)


@require_POST
def contact_method_add(request: HttpRequest) -> HttpResponse:
    form = ContactMethodForm(request.POST)
    throttled = None
    shown: dict[str, Any] = {}
    if form.is_valid():
        try:
            method = services.contact_method_create(user=_user(request), **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        except services.VerificationThrottled as refused:
            form.add_error(None, refused.message)
            throttled = refused
        else:
            messages.success(request, "Added. We sent a code to it: enter it to verify.")
            if method.channel == Channel.WEBHOOK:
                shown["fresh_secret"] = (method.pk, method.secret)
    return _profile_response(request, method_form=form, throttled=throttled, **shown)


@require_POST
def contact_method_secret_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    """A new signing secret for my webhook method, shown in this answer only."""
    method = get_object_or_404(ContactMethod, pk=pk, user=_user(request), channel=Channel.WEBHOOK)
    services.contact_method_secret_rotate(contact_method=method)
    messages.success(
        request, f"New signing secret for {method.address}: the old one no longer signs."
    )
    return _profile_response(request, fresh_secret=(method.pk, method.secret))


@require_POST
def contact_method_verify(request: HttpRequest, pk: int) -> HttpResponse:
    method = get_object_or_404(ContactMethod, pk=pk, user=_user(request))
    form = VerifyForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.contact_method_verify(contact_method=method, code=form.cleaned_data["code"])
        except ValidationError as caught:
            error = "; ".join(caught.messages)
    else:
        error = "Enter the six-digit code."
    if error:
        return _profile_response(request, verify_error=error, verify_method=method.pk)
    messages.success(request, f"{method} is verified.")
    return _profile_response(request)


def _method_send(
    request: HttpRequest,
    *,
    method: ContactMethod,
    send: Callable[..., Notification],
    shown_as: str,
    done: str,
) -> HttpResponse:
    """Send something to my method (a code, a test page); a refusal is shown on its row as
    `<shown_as>_error` (429 and Retry-After when it must wait)."""
    on_row: dict[str, Any] = {f"{shown_as}_method": method.pk}
    try:
        send(contact_method=method)
    except services.Throttled as refused:
        on_row[f"{shown_as}_error"] = refused.message
        return _profile_response(request, throttled=refused, **on_row)
    except ValidationError as error:
        on_row[f"{shown_as}_error"] = "; ".join(error.messages)
        return _profile_response(request, **on_row)
    messages.info(request, done)
    return _profile_response(request)


@require_POST
def contact_method_resend(request: HttpRequest, pk: int) -> HttpResponse:
    method = get_object_or_404(ContactMethod, pk=pk, user=_user(request))
    return _method_send(
        request,
        method=method,
        send=services.contact_method_verification_send,
        shown_as="verify",
        done=f"A new code is on its way to {method.address}.",
    )


@require_POST
def contact_method_delete(request: HttpRequest, pk: int) -> HttpResponse:
    method = get_object_or_404(ContactMethod, pk=pk, user=_user(request))
    services.contact_method_delete(contact_method=method)
    return _profile_response(request)


@require_POST
def rule_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = RuleForm(request.POST, user=user)
    if form.is_valid():
        try:
            services.notification_rule_create(user=user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
    return _profile_response(request, rule_form=form)


@require_POST
def rules_reset(request: HttpRequest) -> HttpResponse:
    services.notification_rules_reset(user=_user(request))
    messages.success(request, "Your rules are the defaults again.")
    return _profile_response(request)


@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(NotificationRule, pk=pk, user=_user(request))
    services.notification_rule_delete(rule=rule)
    return _profile_response(request)


@require_POST
def contact_method_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Send myself a test page through one of my methods; its row then shows the page's
    status, polled until it is delivered or failed."""
    method = get_object_or_404(ContactMethod, pk=pk, user=_user(request))
    return _method_send(
        request,
        method=method,
        send=services.contact_method_test_send,
        shown_as="test",
        done=f"A test page is on its way to {method.address}.",
    )


@require_GET
def test_page_status(request: HttpRequest, pk: int) -> HttpResponse:
    """One of my test pages: its status in words (htmx polls the partial until final)."""
    page = selectors.own_test_page(user=_user(request), notification_id=pk)
    if page is None:
        raise Http404("You sent no test page with this id.")
    template = "notifications/test_page.html"
    htmx = bool(getattr(request, "htmx", False))
    if htmx:
        template += "#status"
    with timezone.override(_user(request).tzinfo):
        # htmx: the profile's "last successful test" line comes along, out of band.
        response = render(request, template, {"test": page, "oob": htmx})
    add_never_cache_headers(response)  # a status that moves must never come from a cache
    return response


@require_GET
def untested(request: HttpRequest) -> HttpResponse:
    """For managers: people in a rotation whose high-urgency methods had no successful test
    page in 90 days."""
    viewer = _user(request)
    if not is_manager(viewer):
        raise PermissionDenied("The list of untested contact methods is for managers.")
    with timezone.override(viewer.tzinfo):
        return render(
            request,
            "notifications/untested.html",
            {
                "people": selectors.untested_on_call(now=timezone.now()),
                "days": selectors.UNTESTED_AFTER.days,
            },
        )
