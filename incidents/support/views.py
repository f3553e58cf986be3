"""The support desk's pages: the customer contacts box on the incident page, and the live
support dashboard (`/` for support roles; see `incidents.support.dashboard`)."""

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents.forms import ServiceErrorsMixin
from incidents.models import CONTACT_SUMMARY_MAX, ContactChannel, CustomerContact, Incident
from incidents.support.contacts import ContactRefused, can_log_contact, customer_contact_log
from incidents.support.dashboard import (
    SECTIONS,
    Dashboard,
    sees_support_dashboard,
    support_dashboard,
)
from incidents.views.detail import incident_or_404
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User
from oncall.validators import validate_instant_range
from rotations.forms import LocalDateTimeInput

# The dashboard asks for changes this often: a change shows within the 5 s the issue allows.
POLL_SECONDS = 3


class CustomerContactForm(ServiceErrorsMixin, forms.Form):
    channel = forms.ChoiceField(choices=ContactChannel.choices, label="How")
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=CONTACT_SUMMARY_MAX,
        label="What the customer was told and said",
    )
    next_due_at = forms.DateTimeField(
        label="Next contact due",
        required=False,
        widget=LocalDateTimeInput(),
        validators=[validate_instant_range],
        help_text="Empty: after the severity's interval.",
    )


def contacts_context(
    incident: Incident, viewer: User, form: CustomerContactForm | None = None, notice: str = ""
) -> dict[str, Any]:
    contacts = list(CustomerContact.objects.filter(incident=incident).select_related("by"))
    return {
        "incident": incident,
        "contacts": contacts,
        "latest": contacts[0] if contacts else None,
        "can_log": can_log_contact(viewer),
        "contact_form": form or CustomerContactForm(),
        "contact_notice": notice,
        "now": timezone.now(),
    }


@require_POST
@in_viewer_timezone
def customer_contact_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Log a customer contact: htmx gets the refreshed box, a plain POST the incident page."""
    viewer = signed_in_user(request)
    incident = incident_or_404(pk, viewer=viewer)
    form = CustomerContactForm(request.POST)
    notice = ""
    if form.is_valid():
        try:
            customer_contact_log(
                incident=incident,
                actor=viewer,
                channel=form.cleaned_data["channel"],
                summary=form.cleaned_data["summary"],
                next_due_at=form.cleaned_data["next_due_at"],
            )
        except ContactRefused as refused:
            form.add_error(None, str(refused))
        except ValidationError as failure:
            form.add_service_error(failure)
        else:
            notice = "Customer contact logged."
            if not request.htmx:
                messages.success(request, notice)
                return redirect("incidents:detail", pk=incident.pk)
            form = CustomerContactForm()
    if not request.htmx:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("incidents:detail", pk=incident.pk)
    return render(
        request,
        "incidents/customer_contacts.html",
        contacts_context(incident, viewer, form, notice),
    )


# --------------------------------------------------------------------------- the dashboard


def _board_context(request: HtmxHttpRequest, board: Dashboard) -> dict[str, Any]:
    versions = {name: board.versions.get(name, "") for name in SECTIONS}
    return {
        "board": board,
        "now": board.now,
        "kiosk": request.GET.get("kiosk") == "1",
        "versions": versions,
        "poll_query": urlencode(versions),
        "poll_seconds": POLL_SECONDS,
    }


def support_dashboard_page(request: HtmxHttpRequest) -> HttpResponse:
    """The home page of support roles (oncall.views.home dispatches here)."""
    with timezone.override(signed_in_user(request).tzinfo):
        board = support_dashboard(viewer=signed_in_user(request), now=timezone.now())
        return render(request, "incidents/support_dashboard.html", _board_context(request, board))


@require_GET
@in_viewer_timezone
def support_dashboard_live(request: HtmxHttpRequest) -> HttpResponse:
    """The dashboard's refresh: the query names each section's version as the page has it;
    the answer holds only the sections whose version changed (htmx out-of-band swaps, and
    the poller with the new versions), or 204 with nothing when none did."""
    viewer = signed_in_user(request)
    if not sees_support_dashboard(viewer):
        return HttpResponse("The support dashboard is for support roles.", status=403)
    board = support_dashboard(viewer=viewer, now=timezone.now())
    changed = [name for name in SECTIONS if request.GET.get(name) != board.versions[name]]
    etag = '"' + "-".join(board.versions[name] for name in SECTIONS) + '"'
    if not changed:
        response = HttpResponse(status=204)
    else:
        context = {**_board_context(request, board), "oob": True, "changed": changed}
        response = render(request, "incidents/support_dashboard.html#live", context)
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response
