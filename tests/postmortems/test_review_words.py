"""The review's markup built in Python (`postmortems.templatetags.review_words`): the same
as the template markup it replaced."""

import zoneinfo
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from incidents.models import Severity
from oncall.models import User
from postmortems.review import (
    ActionItemRow,
    CheckItem,
    IncidentRow,
    PostmortemRow,
    PostmortemToReview,
)
from postmortems.templatetags.review_words import (
    overdue_item_rows,
    overdue_postmortem_rows,
    review_article,
    review_checklist,
    severity_badges,
)


def test_the_checklist_marks_each_line_and_counts_proposed_entries() -> None:
    item = SimpleNamespace(
        postmortem=SimpleNamespace(pk=7),
        checklist=[
            CheckItem("Root cause found", "contributing_factors", True),
            CheckItem("Playbook entries", "playbook_entries", False),
        ],
    )
    assert review_checklist(item, {7: 2}) == (
        '<li class="filled">✓ Root cause found<span class="visually-hidden">: filled in</span>'
        "</li>"
        '<li class="missing">✗ Playbook entries <small class="proposed-entries">'
        '(2 proposed entries)</small><span class="visually-hidden">: not filled in</span></li>'
    )
    assert "(1 proposed entry)" in review_checklist(item, {7: 1})
    assert "(0 proposed entries)" in review_checklist(item, {})


def test_severity_badges_are_the_included_template() -> None:
    badges = severity_badges()
    assert set(badges) == set(Severity.values)
    for severity in Severity.values:
        assert badges[severity] == render_to_string(
            "incidents/severity.html", {"severity": severity}
        )


# The markup the review's template wrote before the tags below replaced it.
ARTICLE_TEMPLATE = """{% load review_words %}{% with pm=item.postmortem %}
  <article class="review-postmortem">
    <h3><a href="{{ prefix }}{{ pm.pk }}/">{{ pm.incident.number }} {{ pm.title }}</a>
      {{ badges|badge:pm.incident.severity }}
      <span class="badge status">{{ pm.get_status_display }}</span></h3>
    <p class="muted small">Owner: {{ pm.owner.name|default:"nobody" }}{% if pm.team_name %} · {{ pm.team_name }}{% endif %}{% if pm.published_at %} · published {{ pm.published_at|when }}{% endif %}</p>
    <div class="markdown">{{ item.summary_html|default:"<p class='muted'>No summary yet.</p>" }}</div>
    <ul class="checklist" aria-label="Review checklist of {{ pm.incident.number }}: {{ item.checked }} of {{ item.checklist|length }} filled in">
      {% review_checklist item proposed %}
    </ul>
  </article>
  {% endwith %}"""
OVERDUE_POSTMORTEMS_TEMPLATE = """{% for pm in rows %}<li><a href="{{ prefix }}{{ pm.pk }}/">{{ pm.incident.number }}</a> {{ pm.title }} <small class="muted">due {{ pm.due_at|timesince:cutoff }} before</small></li>{% endfor %}"""
OVERDUE_ITEMS_TEMPLATE = """{% for item in rows %}<li>{{ item.title }} <small class="muted">(<a href="{{ prefix }}{{ item.postmortem_id }}/">{{ item.incident_number }}</a>, due {{ item.due_date|date:"j M Y" }})</small></li>{% endfor %}"""
HOSTILE = "<script>alert('x')</script> & \"quotes\""
CUTOFF = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)


def _postmortem(pk: int, owner: User | None, *, published: bool, team: str | None) -> Any:
    return PostmortemRow(
        pk,
        f"{HOSTILE} {pk}",
        "published" if published else "in_review",
        owner=owner,
        due_at=CUTOFF - timedelta(days=pk * 9, hours=pk, minutes=7),
        published_at=CUTOFF - timedelta(hours=30) if published else None,
        incident=IncidentRow(pk + 100, "untitled", Severity.SEV1 if pk % 2 else Severity.SEV3),
        team_name=team,
    )


def test_a_postmortem_to_review_is_the_template_markup_it_replaced() -> None:
    named = User(username="dana", display_name=HOSTILE)
    plain = User(username="erin")
    badges = severity_badges()
    checklist = [
        CheckItem(HOSTILE, "contributing_factors", True),
        CheckItem("Playbook entries", "playbook_entries", False),
    ]
    cases = [
        (_postmortem(1, named, published=True, team=HOSTILE), SafeString("<p>Fixed</p>")),
        (_postmortem(2, plain, published=False, team=None), SafeString("")),
        (_postmortem(3, None, published=True, team=""), SafeString("<p>x</p>")),
    ]
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        for row, summary in cases:
            item = PostmortemToReview(row, summary, checklist)
            context = {"item": item, "badges": badges, "proposed": {1: 2}, "prefix": "/pm/"}
            assert review_article(item, badges, {1: 2}, "/pm/") == (
                Template(ARTICLE_TEMPLATE).render(Context(context))
            )


def test_overdue_rows_are_the_template_markup_they_replaced() -> None:
    owner = User(username="dana")
    postmortems = [_postmortem(pk, owner, published=False, team=None) for pk in (1, 2, 40)]
    # Due after the cutoff ("0 minutes"), as a row read just before a due time passed.
    postmortems.append(replace(postmortems[0], due_at=CUTOFF + timedelta(hours=1)))
    context = {"rows": postmortems, "prefix": "/pm/", "cutoff": CUTOFF}
    assert overdue_postmortem_rows(postmortems, "/pm/", CUTOFF) == Template(
        OVERDUE_POSTMORTEMS_TEMPLATE
    ).render(Context(context))
    items = [
        ActionItemRow(
            pk,
            postmortem_id=pk * 3,
            incident_id=pk * 7,
            title=f"{HOSTILE} {pk}",
            description="",
            kind="repair",
            priority="high",
            status="open",
            due_date=date(2026, month, pk),
            ticket_url="",
            created_at=CUTOFF,
            completed_at=None,
            owner=owner,
        )
        for pk, month in ((1, 1), (9, 5), (28, 12))
    ]
    context = {"rows": items, "prefix": "/pm/"}
    assert overdue_item_rows(items, "/pm/") == Template(OVERDUE_ITEMS_TEMPLATE).render(
        Context(context)
    )
