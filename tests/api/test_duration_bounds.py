"""No saved duration can make a timer, the resolver or a page overflow.

A Manager could save a step wait, a shift length, a severity target or a rule delay of
999,999,999 days (the admin's duration field and ISO 8601 both take it); adding it to now
overflowed in the engine, the dry run, Who's on call and the timers sweep.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from incidents.models import SeverityPolicy
from notifications.models import Channel, ContactMethod, NotificationRule, Urgency
from rotations.models import StepAction
from tests.api.conftest import Core, assert_error
from tests.factories import EscalationStepFactory, RotationFactory, UserFactory

pytestmark = pytest.mark.django_db

HUGE = timedelta(days=999_999_999)


def _errors(instance: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        instance.full_clean()  # type: ignore[attr-defined]
    return refused.value.message_dict


def test_every_duration_a_timer_adds_to_now_has_a_ceiling() -> None:
    rotation = RotationFactory.create(members=[UserFactory.create()])
    rotation.shift_length = HUGE
    assert _errors(rotation)["shift_length"] == ["At most 366 days."]

    step = EscalationStepFactory.create(action=StepAction.ROTATION_ONCALL, rotation=rotation)
    step.wait = HUGE
    assert _errors(step)["wait"] == ["At most 1 week."]

    policy = SeverityPolicy.objects.first()
    assert policy is not None
    policy.triage_target = HUGE
    assert "triage_target" in _errors(policy)

    person = UserFactory.create()
    method = ContactMethod.objects.create(user=person, channel=Channel.EMAIL, address="p@x.org")
    rule = NotificationRule(user=person, urgency=Urgency.HIGH, contact_method=method, delay=10**9)
    assert _errors(rule)["delay"] == ["At most 1 day."]
    rule.delay = 10**14  # more seconds than a timedelta holds: still a field error, not a 500
    assert "At most 1 day." in _errors(rule)["delay"]


def test_the_longest_allowed_durations_still_save() -> None:
    rotation = RotationFactory.create(
        shift_length=timedelta(days=366), members=[UserFactory.create()]
    )
    rotation.full_clean()
    EscalationStepFactory.create(wait=timedelta(days=7)).full_clean()


def test_the_api_refuses_a_step_wait_of_a_million_days_naming_it(
    manager_api: Client, core: Core
) -> None:
    response = manager_api.post(
        reverse("api:escalation-policy-list"),
        {
            "team": "core",
            "name": "Forever",
            "repeat": 1,
            "steps": [{"action": "walk_rotation", "rotation": core.veteran.pk, "wait": "P999999D"}],
        },
        content_type="application/json",
    )
    assert_error(response, 400, field="steps.0.wait")
