"""The review's markup built in Python (`postmortems.templatetags.review_words`): the same
as the template markup it replaced."""

from types import SimpleNamespace

from django.template.loader import render_to_string

from incidents.models import Severity
from postmortems.review import CheckItem
from postmortems.templatetags.review_words import review_checklist, severity_badges


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
