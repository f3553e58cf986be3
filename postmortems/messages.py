"""The words of the postmortems' emails: drafted (to the owner), published (to the company),
and the daily digest of overdue action items (to each owner)."""

from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from oncall.markup import markdown_safe
from oncall.models import User
from postmortems.models import ActionItem, Postmortem


def postmortem_link(postmortem: Postmortem) -> str:
    """Where a postmortem is read: its own page."""
    return settings.SITE_URL + reverse("postmortems:detail", args=[postmortem.pk])


def drafted_email(postmortem: Postmortem, owner: User) -> tuple[str, str]:
    incident = postmortem.incident
    subject = f"Postmortem to write: {incident.number}: {postmortem.title}"
    due = (
        f"It is due {postmortem.due_at.astimezone(owner.tzinfo):%a %-d %b %Y %H:%M %Z}.\n"
        if postmortem.due_at
        else ""
    )
    body = (
        f"Hello {owner.name},\n\n"
        f"You own the postmortem of {incident.number} ({incident.severity}): "
        f"{incident.title}.\n{due}\n"
        "The incident's timeline and response facts are already filled in; write what "
        "happened, why, and the action items.\n\n"
        f"{postmortem_link(postmortem)}\n"
    )
    return subject, body


def published_subject(postmortem: Postmortem) -> str:
    return f"[Postmortem] {postmortem.incident.number}: {postmortem.title}"


def published_email(postmortem: Postmortem) -> tuple[str, str, str]:
    """Subject, text and HTML of a published postmortem (sections in Markdown, rendered)."""
    incident = postmortem.incident
    sections = [s for s in postmortem.sections.all() if s.body.strip()]
    items = list(postmortem.action_items.select_related("owner"))
    link = postmortem_link(postmortem)
    lines = [
        f"{incident.number} ({incident.severity}): {incident.title}",
        f"Owner: {postmortem.owner.name if postmortem.owner else 'nobody'}",
        "",
    ]
    html = [
        f"<p>{escape(incident.number)} ({escape(incident.severity)}): {escape(incident.title)}"
        f"<br>Owner: {escape(postmortem.owner.name if postmortem.owner else 'nobody')}</p>"
    ]
    for section in sections:
        lines += [section.title, "-" * len(section.title), section.body.strip(), ""]
        html.append(f"<h2>{escape(section.title)}</h2>{markdown_safe(section.body)}")
    lines.append("Action items")
    lines.append("------------")
    html.append("<h2>Action items</h2>")
    if items:
        html.append("<ul>")
        for item in items:
            line = f"{item.title} ({item.get_priority_display().lower()}, {item.owner.name}, due {item.due_date:%Y-%m-%d})"
            lines.append(f"- {line}")
            html.append(f"<li>{escape(line)}</li>")
        html.append("</ul>")
    else:
        reason = postmortem.no_action_items_reason.strip()
        lines.append(f"None: {reason}")
        html.append(f"<p>None: {escape(reason)}</p>")
    lines += ["", link]
    html.append(f'<p><a href="{escape(link)}">Read it in the portal</a></p>')
    return published_subject(postmortem), "\n".join(lines), "".join(html)


def digest_email(owner: User, items: list[ActionItem], today: date) -> tuple[str, str]:
    count = len(items)
    subject = f"{count} overdue action item{'s' if count != 1 else ''}"
    lines = [f"Hello {owner.name},", "", f"These action items you own are overdue ({today}):", ""]
    for item in items:
        incident = item.postmortem.incident
        days = (today - item.due_date).days
        lines.append(
            f"- {item.title} ({incident.number}, {item.get_priority_display().lower()}, "
            f"due {item.due_date:%Y-%m-%d}, {days} day{'s' if days != 1 else ''} late)"
        )
    lines += ["", "Finish them, or mark them won't do with a reason in the postmortem."]
    return subject, "\n".join(lines)
