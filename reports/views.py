"""Pages of the on-call reports: My reports, a report (its facts beside the writing form,
htmx or plain), submitting, the handoff box of the home page and "Got the handoff"."""

import csv
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.markup import markdown_safe
from reports import rules, selectors, services, shift_reminders
from reports.forms import HoursForm, ReportForm, ShiftReminderForm
from reports.hours import HoursRow, hours_number, hours_oncall
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


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def reminders(request: HtmxHttpRequest) -> HttpResponse:
    """How long before a shift starts and ends the person is told (a plain form; a POST
    redirects, a refused one answers 400 with the form)."""
    user = signed_in_user(request)
    if request.method == "POST":
        form = ShiftReminderForm(request.POST)
        if form.is_valid():
            shift_reminders.shift_reminder_set(
                user=user,
                before_start=form.cleaned_data["before_start"],
                before_end=form.cleaned_data["before_end"],
                slack_user_id=form.cleaned_data["slack_user_id"],
            )
            messages.success(request, "Shift reminders saved.")
            return HttpResponseRedirect(reverse("reports:reminders"))
        return render(request, "reports/reminders.html", {"form": form}, status=400)
    setting = shift_reminders.shift_reminder_get(user=user)
    form = ShiftReminderForm(
        initial={
            "before_start": setting.before_start,
            "before_end": setting.before_end,
            "slack_user_id": user.slack_user_id,
        }
    )
    return render(request, "reports/reminders.html", {"form": form})


# --- hours on call -------------------------------------------------------------------------


def _hours_query(request: HtmxHttpRequest) -> tuple[HoursForm, list[HoursRow] | None]:
    """The form read from the query string (this month so far when empty) and, when it is
    valid, the rows; the dates are the viewer's."""
    user = signed_in_user(request)
    today = timezone.localdate(timezone.now(), user.tzinfo)
    query = {
        "team": request.GET.get("team", ""),
        "from": request.GET.get("from") or today.replace(day=1).isoformat(),
        "to": request.GET.get("to") or today.isoformat(),
    }
    form = HoursForm(query)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=user.tzinfo)

    rows = hours_oncall(
        start=midnight(data["from"]),
        end=midnight(data["to"] + timedelta(days=1)),
        team_id=data["team"].pk if data["team"] else None,
    )
    return form, rows


@require_GET
@in_viewer_timezone
def hours(request: HtmxHttpRequest) -> HttpResponse:
    """Hours on call per person and rotation (everyone signed in reads them)."""
    form, rows = _hours_query(request)
    context = {
        "form": form,
        "rows": [
            (row, {k: hours_number(getattr(row, k)) for k in HOURS_COLUMNS}) for row in rows or []
        ],
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "reports/hours.html", context, status=200 if rows is not None else 400)


HOURS_COLUMNS = ("total", "business", "off", "sleep", "override")


@require_GET
def hours_csv(request: HtmxHttpRequest) -> HttpResponse:
    form, rows = _hours_query(request)
    if rows is None:
        problems = "; ".join(
            f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
        )
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="oncall-hours.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "person",
            "username",
            "team",
            "rotation",
            "hours",
            "business_hours",
            "off_hours",
            "sleep_hours",
            "override_hours",
            "pages",
            "incidents",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row.user.name,
                row.user.username,
                row.rotation.team.slug,
                row.rotation.label,
                *(hours_number(getattr(row, k)) for k in HOURS_COLUMNS),
                row.pages,
                row.incidents,
            ]
        )
    return response
