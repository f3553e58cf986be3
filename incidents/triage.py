"""Triage's checklist (handbook 004) as pure rules: the five priority questions and their
short scales, the suggested severity, evidence links and the ticket's link.

Nothing here reads the database; the triage service, the portal's panel and the API all
decide through these functions, so the three can never disagree.
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from incidents.models import SERVICE_MAX, Severity

EVIDENCE_MAX_ITEMS = 20
EVIDENCE_URL_MAX = 2000


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    scale: tuple[str, str, str, str]  # the words for 1, 2, 3 and 4 (4 is the worst)


# Handbook 004's "Evaluate severity" criteria, in its order; each answered from 1 to 4.
QUESTIONS: tuple[Question, ...] = (
    Question(
        "users_affected",
        "How many users are affected?",
        ("One user", "A few users", "Many users", "All or most users"),
    ),
    Question(
        "which_users",
        "What users are affected?",
        ("Trial or internal users", "Regular customers", "Key accounts", "Our top customers"),
    ),
    Question(
        "user_impact",
        "What's the impact to the user?",
        (
            "Nice to have, no real impact",
            "Inconvenient, a workaround exists",
            "Blocked in part of their work",
            "Blocked entirely or losing money",
        ),
    ),
    Question(
        "company_impact",
        "What's the impact to the company?",
        (
            "None",
            "Minor: support load, reputation",
            "Revenue at risk",
            "Losing money or the customer",
        ),
    ),
    Question(
        "stakeholder_view",
        "How does the stakeholder feel?",
        ("Can wait", "Wants it fixed soon", "Urgent", "Critical: drop everything"),
    ),
)
ANSWER_NAMES = tuple(q.name for q in QUESTIONS)
ANSWER_MIN, ANSWER_MAX = 1, 4

# The sum of the five answers (5–20) → the suggestion: 5–8 SEV3, 9–12 SEV2, 13–16 SEV1,
# 17–20 SEV0. One rule overrides the sum: a company losing money or the customer (company
# impact 4) is never below SEV1.
BANDS: tuple[tuple[int, str], ...] = (
    (17, Severity.SEV0),
    (13, Severity.SEV1),
    (9, Severity.SEV2),
    (5, Severity.SEV3),
)


def suggested_severity(answers: dict[str, int]) -> str:
    """The severity the five answers suggest (see BANDS). `answers` holds all five, 1–4;
    `answers_clean` checks that first."""
    total = sum(answers[name] for name in ANSWER_NAMES)
    level = next(level for floor, level in BANDS if total >= floor)
    if answers["company_impact"] == ANSWER_MAX and level > Severity.SEV1:
        level = Severity.SEV1  # "SEV2" > "SEV1": the level names sort worst first
    return str(level)


def answers_clean(raw: Any, *, required: bool) -> dict[str, int]:
    """The answers as {name: 1..4}; a ValidationError naming each bad one ("answers.<name>").

    Unknown names are refused (a typo must not pass as "not answered"). With `required`,
    all five must be there; without, the ones given are checked and kept."""
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError({"answers": "Give the answers as an object of name: 1–4."})
    errors: dict[str, str] = {}
    answers: dict[str, int] = {}
    for name in raw:
        if name not in ANSWER_NAMES:
            errors[f"answers.{name}"] = f"Not a question; the questions: {', '.join(ANSWER_NAMES)}."
    for name in ANSWER_NAMES:
        value = raw.get(name)
        if value in (None, ""):
            if required:
                errors[f"answers.{name}"] = "Answer this question (1–4)."
            continue
        number = _whole_number(value)
        if number is None or not ANSWER_MIN <= number <= ANSWER_MAX:
            errors[f"answers.{name}"] = "Give a whole number from 1 to 4."
            continue
        answers[name] = number
    if errors:
        raise ValidationError(errors)
    return answers


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 3:
        return int(value.strip())
    return None


def answer_words(answers: dict[str, int]) -> list[dict[str, Any]]:
    """Each question with its answer and the scale's word for it (for pages and messages)."""
    rows = []
    for question in QUESTIONS:
        value = answers.get(question.name)
        rows.append(
            {
                "name": question.name,
                "text": question.text,
                "value": value,
                "words": question.scale[value - 1] if value else "",
                "scale": list(enumerate(question.scale, start=1)),
            }
        )
    return rows


_url = URLValidator(schemes=["http", "https"])


def evidence_clean(raw: Any) -> list[str]:
    """Links to logs, customer emails, alerts: http(s) URLs, at most EVIDENCE_MAX_ITEMS of
    at most EVIDENCE_URL_MAX characters; blanks dropped, duplicates kept once, order kept.

    A ValidationError names each bad entry as "evidence.<index>"."""
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list | tuple):
        raise ValidationError({"evidence": "Give the evidence as a list of links."})
    errors: dict[str, str] = {}
    links: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            errors[f"evidence.{index}"] = "Give a link (text)."
            continue
        link = item.strip()
        if not link:
            continue
        if len(link) > EVIDENCE_URL_MAX:
            errors[f"evidence.{index}"] = f"At most {EVIDENCE_URL_MAX} characters."
            continue
        try:
            _url(link)
        except ValidationError:
            errors[f"evidence.{index}"] = "Give an http:// or https:// link."
            continue
        if link not in links:
            links.append(link)
    if errors:
        raise ValidationError(errors)
    if len(links) > EVIDENCE_MAX_ITEMS:
        raise ValidationError({"evidence": f"At most {EVIDENCE_MAX_ITEMS} links."})
    return links


SERVICE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*$")


def service_clean(service: str) -> str:
    """A service name as labels spell it, lower case: "Checkout-API " → "checkout-api";
    empty stays empty (ValidationError for anything else)."""
    service = (service or "").strip().lower()
    if not service:
        return ""
    if len(service) > SERVICE_MAX:
        raise ValidationError(f"At most {SERVICE_MAX} characters.", code="max_length")
    if not SERVICE.match(service):
        raise ValidationError(
            "Letters, digits and . _ / : - only, e.g. checkout-api.", code="invalid_service"
        )
    return service


def service_from_labels(labels: dict[str, Any]) -> str:
    """The service an alert names: its `service` label, else `job`, else `app` (Prometheus
    conventions; Events v2's `component` is passed the same way). Empty when none fits."""
    for name in ("service", "job", "app", "component"):
        value = labels.get(name)
        if isinstance(value, str):
            try:
                cleaned = service_clean(value)
            except ValidationError:
                continue
            if cleaned:
                return cleaned
    return ""


def ticket_url(ticket: str) -> str:
    """The ticket's link from settings.TICKET_URL_TEMPLATE ("…/browse/{key}"); empty when
    there is no ticket or no template."""
    template = getattr(settings, "TICKET_URL_TEMPLATE", "")
    if not ticket or not template or "{key}" not in template:
        return ""
    return template.replace("{key}", quote(ticket, safe=""))


def may_triage(user: Any) -> bool:
    """Who may triage: everyone signed in, whatever their role (the portal's rule before the
    checklist; support triages, and engineers and managers revise). One place to change it."""
    return bool(user is not None and user.is_authenticated and user.is_active)
