"""Triage's pure rules (incidents.triage): the suggested severity, the answers, evidence
links, the ticket's link and the service name."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from incidents.triage import (
    EVIDENCE_MAX_ITEMS,
    answer_words,
    answers_clean,
    evidence_clean,
    service_clean,
    service_from_labels,
    suggested_severity,
    ticket_url,
)

NAMES = ("users_affected", "which_users", "user_impact", "company_impact", "stakeholder_view")


def answers(*values: int) -> dict[str, int]:
    return dict(zip(NAMES, values, strict=True))


# (answers in the handbook's order, the points by hand, the suggestion)
TABLE = [
    ((1, 1, 1, 1, 1), 5, "SEV3"),
    ((2, 2, 2, 1, 1), 8, "SEV3"),  # the top of SEV3
    ((2, 2, 2, 2, 1), 9, "SEV2"),  # one point more
    ((3, 3, 2, 2, 2), 12, "SEV2"),
    ((3, 3, 3, 2, 2), 13, "SEV1"),
    ((4, 3, 3, 3, 3), 16, "SEV1"),
    ((4, 4, 3, 3, 3), 17, "SEV0"),
    ((4, 4, 4, 4, 4), 20, "SEV0"),
    # One user, a regular customer, blocked and losing money, the company losing the
    # customer: 1 + 2 + 4 + 4 + 1 = 12 points (SEV2), raised to SEV1 by company impact 4.
    ((1, 2, 4, 4, 1), 12, "SEV1"),
    ((1, 1, 1, 4, 1), 8, "SEV1"),
    # Company impact 4 never lowers: 20 points stay SEV0.
    ((4, 4, 4, 4, 4), 20, "SEV0"),
    # The user blocked (4) is not the company's loss: 1 + 1 + 4 + 1 + 1 = 8, SEV3.
    ((1, 1, 4, 1, 1), 8, "SEV3"),
]


@pytest.mark.parametrize(("values", "points", "expected"), TABLE)
def test_the_suggested_severity_follows_the_points_and_the_company_rule(
    values: tuple[int, ...], points: int, expected: str
) -> None:
    assert sum(values) == points
    assert suggested_severity(answers(*values)) == expected


def test_answers_must_be_whole_numbers_from_1_to_4_naming_each_bad_one() -> None:
    with pytest.raises(ValidationError) as refused:
        answers_clean(
            {"users_affected": 0, "which_users": "5", "user_impact": 2.5, "colour": 1},
            required=True,
        )
    assert set(refused.value.message_dict) == {
        "answers.users_affected",
        "answers.which_users",
        "answers.user_impact",
        "answers.company_impact",  # missing, and required
        "answers.stakeholder_view",
        "answers.colour",  # not a question
    }
    with pytest.raises(ValidationError):  # True is not a number
        answers_clean({"which_users": True}, required=False)


def test_partial_answers_are_kept_when_not_confirming() -> None:
    assert answers_clean({"users_affected": "3"}, required=False) == {"users_affected": 3}
    assert answers_clean(None, required=False) == {}


def test_each_answer_shows_the_scale_words() -> None:
    rows = answer_words({"users_affected": 4, "company_impact": 1})
    words = {row["name"]: row["words"] for row in rows}
    assert words["users_affected"] == "All or most users"
    assert words["company_impact"] == "None"
    assert words["which_users"] == ""
    assert [row["name"] for row in rows] == list(NAMES)


def test_evidence_is_http_links_trimmed_deduplicated_and_bounded() -> None:
    assert evidence_clean(
        [" https://logs.example.com/q?id=1 ", "", "https://logs.example.com/q?id=1", "http://a.io"]
    ) == ["https://logs.example.com/q?id=1", "http://a.io"]
    assert evidence_clean("https://a.io/1\nhttps://a.io/2\n") == [
        "https://a.io/1",
        "https://a.io/2",
    ]
    with pytest.raises(ValidationError) as refused:
        evidence_clean(["javascript:alert(1)", "https://ok.io", "ftp://files.io/x", 7])
    assert set(refused.value.message_dict) == {"evidence.0", "evidence.2", "evidence.3"}
    with pytest.raises(ValidationError) as refused:
        evidence_clean(["https://a.io/" + "x" * 2000])
    assert "evidence.0" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        evidence_clean([f"https://a.io/{n}" for n in range(EVIDENCE_MAX_ITEMS + 1)])
    assert "evidence" in refused.value.message_dict
    with pytest.raises(ValidationError):
        evidence_clean({"url": "https://a.io"})


@override_settings(TICKET_URL_TEMPLATE="https://jira.example.com/browse/{key}")
def test_the_ticket_link_comes_from_the_setting() -> None:
    assert ticket_url("MCT-123") == "https://jira.example.com/browse/MCT-123"
    assert ticket_url("") == ""


@override_settings(TICKET_URL_TEMPLATE="")
def test_no_template_no_link() -> None:
    assert ticket_url("MCT-123") == ""


def test_the_service_name_is_lower_case_and_plain() -> None:
    assert service_clean(" Checkout-API ") == "checkout-api"
    assert service_clean("") == ""
    with pytest.raises(ValidationError):
        service_clean("checkout api")
    with pytest.raises(ValidationError):
        service_clean("x" * 101)
    labels = {"job": "node-exporter", "service": "Payments-API"}
    assert service_from_labels(labels) == "payments-api"
    assert service_from_labels({"job": "node-exporter"}) == "node-exporter"
    assert service_from_labels({"service": "not valid!", "app": "web"}) == "web"
    assert service_from_labels({"alertname": "DiskFull"}) == ""
