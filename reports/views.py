"""Pages of the on-call reports: My reports, a report (its facts beside the writing form,
htmx or plain), submitting, the handoff box of the home page and "Got the handoff"."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.markup import markdown_safe
from reports import rules, selectors, services
from reports.forms import ReportForm
from reports.messages import SECTIONS
from reports.models import OnCallReport

# Where a plain "Got the handoff" returns to (the pages showing the handoff box).
BACK = {"home": "home", "oncall": "rotations:oncall", "mine": "reports:mine"}


def _report(report_id: int) -> OnCallReport:
    return get_object_or_404(selectors.reports_list(), pk=report_id)


def _context(
    request: HtmxHttpRequest, report: OnCallReport, form: ReportForm | None = None
) -> dict[str, Any]:
    user = signed_in_user(request)
    stats = selectors.report_stats(report)
    initial = {name: getattr(report, name) for name in ReportForm.base_fields}
    return {
        "report": report,
        "stats": stats,
        "engaged": selectors.engaged(stats),
        "form": form or ReportForm(initial=initial),
        "can_edit": report.is_draft and rules.report_can_edit(user, report),
        "sections": [
            (heading, markdown_safe(getattr(report, name)))
            for name, heading in SECTIONS
            if getattr(report, name).strip()
        ],
        "now": timezone.now(),
    }


@require_GET
@in_viewer_timezone
def my_reports(request: HtmxHttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    reports = list(selectors.reports_list(user_id=user.pk)[:50])
    return render(
        request,
        "reports/mine.html",
        {"reports": reports, "handoffs": selectors.handoff_boxes(user=user)},
    )


@require_GET
@in_viewer_timezone
def handoffs(request: HtmxHttpRequest) -> HttpResponse:
    """The home page's box: handoffs I receive and have not acknowledged (a partial)."""
    user = signed_in_user(request)
    back = request.GET.get("back") if request.GET.get("back") in BACK else "home"
    return render(
        request,
        "reports/handoffs.html",
        {"handoffs": selectors.handoff_boxes(user=user), "back": back},
    )


@require_GET
@in_viewer_timezone
def report_detail(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    return render(request, "reports/report.html", _context(request, _report(report_id)))


@require_POST
@in_viewer_timezone
def report_save(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    report = _report(report_id)
    form: ReportForm | None = ReportForm(request.POST)
    assert form is not None
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            report = services.report_update(
                report=report,
                actor=signed_in_user(request),
                **{
                    name: data[name]
                    for name in (
                        "summary",
                        "ongoing",
                        "unplanned",
                        "engineering",
                        "handoff_notes",
                        "effort",
                    )
                },
                off_hours_spent=data["off_hours_spent"],
                clear_off_hours=data["off_hours_spent"] is None,
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
            status = 400
        except services.ReportError as error:
            form.add_error(None, str(error))
            status = 403 if isinstance(error, services.NotAllowed) else 409
        else:
            if not request.htmx:
                messages.success(request, "Saved.")
                return HttpResponseRedirect(reverse("reports:detail", args=[report.pk]))
            form = None
    else:
        status = 400
    template = "reports/report.html#writing" if request.htmx else "reports/report.html"
    return render(request, template, _context(request, report, form), status=status)


@require_POST
def report_submit(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    report = _report(report_id)
    try:
        services.report_submit(report=report, actor=signed_in_user(request))
        messages.success(request, "Submitted and emailed to the team and the incoming on-call.")
    except services.ReportError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(reverse("reports:detail", args=[report.pk]))


@require_POST
def handoff_acknowledge(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    report = _report(report_id)
    try:
        services.report_handoff_acknowledge(report=report, actor=signed_in_user(request))
        messages.success(request, f"Handoff of {report.rotation.label} acknowledged.")
    except services.ReportError as error:
        messages.error(request, str(error))
    back = request.POST.get("next", "")
    if request.htmx:
        user = signed_in_user(request)
        return render(
            request,
            "reports/handoffs.html",
            {
                "handoffs": selectors.handoff_boxes(user=user),
                "back": back if back in BACK else "home",
            },
        )
    return HttpResponseRedirect(
        reverse(BACK[back]) if back in BACK else reverse("reports:detail", args=[report.pk])
    )
