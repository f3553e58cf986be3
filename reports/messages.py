"""The words of the reports' emails and pages: the submitted report (to the team and the
incoming on-call), the reminders, the escalation contact's notice and the handoff page."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from oncall.markup import markdown_safe
from oncall.models import User
from oncall.words import duration_words
from reports.models import OnCallReport

SECTIONS = (
    ("summary", "What happened"),
    ("ongoing", "Ongoing incidents"),
    ("unplanned", "Unplanned requests and blockers"),
    ("engineering", "Better engineering"),
    ("handoff_notes", "Handoff notes"),
)


def report_link(report: OnCallReport) -> str:
    return settings.SITE_URL + reverse("reports:detail", args=[report.pk])


def _when(at: datetime, person: User | None) -> str:
    zone = person.tzinfo if person is not None else at.tzinfo
    return f"{at.astimezone(zone):%a %-d %b %H:%M %Z}"


def shift_words(report: OnCallReport, reader: User | None = None) -> str:
    reader = reader or report.user
    return f"{report.rotation.label}, {_when(report.shift_start, reader)} – {_when(report.shift_end, reader)}"


def submitted_email(report: OnCallReport, stats: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text and HTML of a submitted report (sections in Markdown, rendered)."""
    subject = f"[On-call report] {report.rotation.label}: {report.user.name}"
    facts = (
        f"Pages: {stats.get('pages', 0)} (business hours {stats.get('business_hours_pages', 0)}, "
        f"off hours {stats.get('off_hours_pages', 0)}, sleep hours {stats.get('sleep_hours_pages', 0)}); "
        f"engaged {duration_words(timedelta(seconds=int(stats.get('engaged_seconds', 0))))}"
    )
    effort = report.get_effort_display() if report.effort else "not given"
    off_hours = f"{report.off_hours_spent} h" if report.off_hours_spent is not None else "not given"
    lines = [
        f"{report.user.name} on call for {shift_words(report)}",
        facts,
        f"Effort: {effort}; off-hours time spent: {off_hours}",
        "",
    ]
    html = [
        f"<p>{escape(report.user.name)} on call for {escape(shift_words(report))}<br>"
        f"{escape(facts)}<br>Effort: {escape(effort)}; off-hours time spent: {escape(off_hours)}</p>"
    ]
    incidents = stats.get("incidents", [])
    if incidents:
        lines.append("Incidents")
        html.append("<h2>Incidents</h2><ul>")
        for row in incidents:
            line = f"{row['number']} ({row['severity']}, {row['status']}): {row['title']} — {', '.join(row['roles'])}"
            lines.append(f"- {line}")
            html.append(f"<li>{escape(line)}</li>")
        lines.append("")
        html.append("</ul>")
    for name, heading in SECTIONS:
        text = getattr(report, name).strip()
        if not text:
            continue
        lines += [heading, "-" * len(heading), text, ""]
        html.append(f"<h2>{escape(heading)}</h2>{markdown_safe(text)}")
    link = report_link(report)
    lines.append(link)
    html.append(f'<p><a href="{escape(link)}">Read it in the portal</a></p>')
    return subject, "\n".join(lines), "".join(html)


def reminder_email(report: OnCallReport, *, second: bool) -> tuple[str, str]:
    person = report.user
    subject = (
        f"Still to submit: your on-call report for {report.rotation.label}"
        if second
        else f"Your on-call report for {report.rotation.label} is due"
    )
    body = (
        f"Hello {person.name},\n\n"
        f"Your shift on {shift_words(report)} has ended and its report is not submitted yet. "
        f"{'Your escalation contact has been told. ' if second else ''}"
        "Write what happened, what is still open and your notes for the next on-call, then "
        f"submit it:\n\n{report_link(report)}\n"
    )
    return subject, body


def overdue_email(report: OnCallReport, contact: User) -> tuple[str, str]:
    subject = f"On-call report overdue: {report.user.name}, {report.rotation.label}"
    body = (
        f"Hello {contact.name},\n\n"
        f"{report.user.name}'s on-call report for {shift_words(report, contact)} is still not "
        f"submitted a day after the shift ended; they have been reminded twice.\n\n"
        f"{report_link(report)}\n"
    )
    return subject, body


def handoff_page(outgoing: OnCallReport, incoming: User) -> tuple[str, str]:
    subject = f"Handoff not acknowledged: {outgoing.rotation.label}"
    notes = outgoing.handoff_notes.strip() or "(no handoff notes yet)"
    body = (
        f"You took over {outgoing.rotation.label} from {outgoing.user.name} at "
        f"{_when(outgoing.shift_end, incoming)} and have not acknowledged the handoff.\n\n"
        f"Handoff notes:\n{notes}\n\n{report_link(outgoing)}"
    )
    return subject, body
