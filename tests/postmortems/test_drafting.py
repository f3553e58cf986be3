"""A postmortem is drafted when an incident that needs one is resolved, once, for the right
owner, due when its severity says, pre-filled from the record; or started by hand."""

from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
import time_machine
from django.conf import settings
from pytest_django import DjangoCaptureOnCommitCallbacks

from incidents.engine import escalation_sweep
from incidents.models import Incident, Severity, TimelineKind
from incidents.services import (
    incident_acknowledge,
    incident_declare,
    incident_post_status_update,
    incident_reopen,
    incident_resolve,
    incident_set_commander,
)
from notifications.models import Notification
from postmortems.models import Postmortem, PostmortemTemplate, PostmortemTemplateSection
from postmortems.services import postmortem_start
from tests.factories import IncidentFactory, UserFactory
from tests.incidents.conftest import T0, Core
from tests.support import all_at_once

DEFAULT_KEYS = [
    "summary",
    "impact",
    "detection",
    "response",
    "recovery",
    "contributing_factors",
    "what_went_well",
    "what_went_badly",
    "where_we_got_lucky",
    "new_metrics",
    "alarm_thresholds",
    "playbook_entries",
    "docs_updated",
]


def declare(core: Core, severity: str = Severity.SEV2) -> Incident:
    """Declared by John (support) and paged: the first step runs at once (bob is on call)."""
    incident = incident_declare(
        title="Checkout down", actor=core.people["john"], team=core.team, severity=severity
    )
    escalation_sweep()
    return incident


@pytest.mark.django_db
def test_resolving_a_sev2_drafts_one_postmortem_prefilled_for_its_commander(
    core: Core, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    alice, bob = core.people["alice"], core.people["bob"]
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(core)
        incident_set_commander(incident=incident, commander=alice, actor=core.people["john"])
        traveller.shift(timedelta(minutes=4))
        incident_acknowledge(incident=incident, actor=bob)
        incident_post_status_update(incident=incident, message="Rolling back", actor=alice)
        traveller.shift(timedelta(minutes=30))
        incident_resolve(incident=incident, actor=bob, note="rolled back")

    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.owner == alice
    assert postmortem.status == "draft"
    assert postmortem.version == 1
    assert postmortem.title == "Checkout down"
    # SEV2: due five days after the resolve.
    assert postmortem.due_at == T0 + timedelta(minutes=34) + timedelta(days=5)
    assert [s.key for s in postmortem.sections.all()] == DEFAULT_KEYS
    summary = postmortem.sections.get(key="summary")
    assert summary.title == "Summary"
    assert summary.prompt
    assert summary.body == ""
    # The incident's timeline as editable lines, in words, with the key moments starred.
    lines = list(postmortem.timeline.all())
    texts = [line.text for line in lines]
    john = core.people["john"]
    assert texts[0] == f"{incident.number} declared (SEV2): Checkout down — {john} via dashboard"
    assert lines[0].at == T0
    assert lines[0].key_moment
    starred = [line.text for line in lines if line.key_moment]
    assert any(text.startswith("Acknowledged") and str(bob) in text for text in starred)
    assert any(text.startswith("Resolved: rolled back") for text in starred)
    assert not any("Postmortem" in text for text in texts)
    facts = postmortem.facts
    assert facts["time_to_acknowledge_seconds"] == 4 * 60
    assert facts["time_to_resolve_seconds"] == 34 * 60
    assert facts["status_updates_sent"] == 1
    assert facts["people_paged_count"] == len(facts["people_paged"]) >= 1
    assert facts["escalation_steps_run"] >= 1
    # The incident's timeline says so, in words.
    drafted = incident.timeline.get(kind=TimelineKind.POSTMORTEM_DRAFTED)
    assert drafted.get_kind_display() == "Postmortem drafted"
    assert str(alice) in drafted.message
    # The owner is told through the outbox, with a link.
    notice = Notification.objects.get(
        idempotency_key=f"postmortem:{postmortem.pk}:drafted:user{alice.pk}"
    )
    assert notice.address == alice.email
    assert f"{settings.SITE_URL}/postmortems/{postmortem.pk}/" in notice.body  # its own page


@pytest.mark.django_db
def test_a_severity_that_needs_no_postmortem_gets_none(core: Core) -> None:
    incident = declare(core, severity=Severity.SEV3)  # postmortem_required is off for SEV3
    incident_resolve(incident=incident, actor=core.people["bob"])
    assert not Postmortem.objects.filter(incident=incident).exists()
    assert not incident.timeline.filter(kind=TimelineKind.POSTMORTEM_DRAFTED).exists()


@pytest.mark.django_db
def test_reopened_and_resolved_again_it_still_has_one_postmortem(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(core)
        traveller.shift(timedelta(minutes=10))
        incident_resolve(incident=incident, actor=core.people["bob"])
        first = Postmortem.objects.get(incident=incident)
        traveller.shift(timedelta(minutes=10))
        incident_reopen(incident=incident, actor=core.people["bob"], reason="back")
        traveller.shift(timedelta(minutes=10))
        incident_resolve(incident=incident, actor=core.people["bob"])

    assert Postmortem.objects.filter(incident=incident).count() == 1
    again = Postmortem.objects.get(incident=incident)
    assert again.pk == first.pk
    assert incident.timeline.filter(kind=TimelineKind.POSTMORTEM_DRAFTED).count() == 1
    # Its computed facts follow the record; nothing written by people is touched.
    assert again.facts["reopened"] == 1
    assert again.facts["time_to_resolve_seconds"] == 30 * 60


@pytest.mark.django_db
def test_the_owner_is_the_commander_else_the_acknowledger_else_the_escalation_contact(
    core: Core,
) -> None:
    bob, alice, morgan = core.people["bob"], core.people["alice"], core.people["morgan"]
    with time_machine.travel(T0, tick=False):  # bob is on call
        nobody_acked = declare(core)
        incident_resolve(incident=nobody_acked, actor=core.people["john"])
        assert Postmortem.objects.get(incident=nobody_acked).owner == morgan  # escalation contact

        acked = declare(core)
        incident_acknowledge(incident=acked, actor=bob)
        incident_resolve(incident=acked, actor=bob)
        assert Postmortem.objects.get(incident=acked).owner == bob

        commanded = declare(core)
        incident_acknowledge(incident=commanded, actor=bob)
        incident_set_commander(incident=commanded, commander=alice, actor=bob)
        incident_resolve(incident=commanded, actor=bob)
        assert Postmortem.objects.get(incident=commanded).owner == alice


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("severity", "days"), [(Severity.SEV0, 3), (Severity.SEV1, 3), (Severity.SEV2, 5)]
)
def test_the_due_date_is_the_resolve_plus_the_severitys_postmortem_due(
    core: Core, severity: str, days: int
) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core, severity=severity)
        incident_resolve(incident=incident, actor=core.people["bob"])
    assert Postmortem.objects.get(incident=incident).due_at == T0 + timedelta(days=days)


@pytest.mark.django_db
def test_anyone_starts_one_by_hand_for_any_incident_and_gets_the_existing_one_after(
    core: Core,
) -> None:
    incident = IncidentFactory.create(team=core.team, severity=Severity.SEV3)
    support = UserFactory.create(username="sid")
    with time_machine.travel(T0, tick=False):
        started = postmortem_start(incident=incident, actor=support)
    assert started.owner == support  # who starts it owns it
    assert started.due_at == T0 + timedelta(days=10)  # not resolved: from now, SEV3's 10 days
    assert postmortem_start(incident=incident, actor=core.people["bob"]).pk == started.pk
    assert Postmortem.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind=TimelineKind.POSTMORTEM_DRAFTED).count() == 1
    # Nobody is told about their own postmortem.
    assert not Notification.objects.filter(idempotency_key__startswith="postmortem:").exists()


@pytest.mark.django_db
def test_a_postmortem_keeps_its_sections_whatever_happens_to_the_template(core: Core) -> None:
    template = PostmortemTemplate.objects.get(is_default=True)
    first = postmortem_start(incident=declare(core), actor=core.people["bob"])

    summary = template.sections.get(key="summary")
    summary.heading = "TL;DR"
    summary.save()
    template.sections.filter(key="where_we_got_lucky").delete()
    PostmortemTemplateSection.objects.create(
        template=template, key="customer_quotes", heading="Customer quotes", position=99
    )

    assert [s.key for s in first.sections.all()] == DEFAULT_KEYS
    assert first.sections.get(key="summary").title == "Summary"
    later = postmortem_start(incident=declare(core), actor=core.people["bob"])
    keys = [s.key for s in later.sections.all()]
    assert keys[-1] == "customer_quotes"
    assert "where_we_got_lucky" not in keys
    assert later.sections.get(key="summary").title == "TL;DR"

    template.delete()
    assert [s.key for s in Postmortem.objects.get(pk=first.pk).sections.all()] == DEFAULT_KEYS


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_racing_starts_and_a_resolve_make_exactly_one_postmortem_on_postgresql(
    core: Core,
) -> None:
    incident = declare(core)
    people = [core.people[name] for name in ("alice", "bob", "carol", "dave")]
    calls: list[Callable[[], object]] = [
        partial(postmortem_start, incident=incident, actor=person) for person in people
    ]
    calls.append(partial(incident_resolve, incident=incident, actor=core.people["erin"]))

    errors = all_at_once(*calls)

    assert errors == []
    assert Postmortem.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind=TimelineKind.POSTMORTEM_DRAFTED).count() == 1
