"""Which policy pages: the team's explicit references, never a policy's name."""

from datetime import timedelta

import pytest

from incidents.models import Incident, Severity
from incidents.services import incident_declare, incident_engage
from rotations.models import EscalationPolicy, StepAction
from tests.factories import EscalationPolicyFactory, EscalationStepFactory
from tests.incidents.conftest import Core

pytestmark = pytest.mark.django_db


def _policy(core: Core, name: str, action: str = StepAction.ESCALATION_CONTACT) -> EscalationPolicy:
    policy = EscalationPolicyFactory.create(team=core.team, name=name)
    if action == StepAction.WALK_ROTATION:
        EscalationStepFactory.create(policy=policy, walk=True, rotation=core.veteran)
    else:
        EscalationStepFactory.create(policy=policy, action=action)
    return policy


def _policies_by_track(incident: Incident) -> dict[str, int | None]:
    return {s.track: s.snapshot["policy_id"] for s in incident.escalation_states.all()}


def _declare(core: Core) -> Incident:
    return incident_declare(
        title="Checkout down", actor=None, team=core.team, severity=Severity.SEV2
    )


def _engage(core: Core) -> Incident:
    return incident_engage(
        team=core.team,
        ticket="CSD-123",
        requester_name="John",
        requester_phone="+1 202 555 0143",
        bridge="",
        actor=None,
    )


def test_a_declared_incident_pages_with_the_teams_default_and_a_rename_changes_nothing(
    core: Core,
) -> None:
    chosen = _policy(core, "Zulu: the real one")
    other = _policy(core, "Alpha: sorts first")
    core.team.default_policy = chosen
    core.team.save()

    assert _policies_by_track(_declare(core)) == {"main": chosen.pk}
    chosen.name, other.name = "Zz renamed to sort last", "Aa renamed"
    chosen.save()
    other.save()
    assert _policies_by_track(_declare(core)) == {"main": chosen.pk}


def test_without_a_default_the_oldest_policy_pages_whatever_the_names(core: Core) -> None:
    oldest = _policy(core, "Zulu")
    _policy(core, "Alpha")

    assert _policies_by_track(_declare(core)) == {"main": oldest.pk}
    oldest.name = "Zz renamed"
    oldest.save()
    assert _policies_by_track(_declare(core)) == {"main": oldest.pk}


def test_engage_uses_the_teams_engage_and_new_tier_policies(core: Core) -> None:
    veteran = _policy(core, "Veterans, slowly", StepAction.WALK_ROTATION)
    new = _policy(core, "Newcomers", StepAction.ROTATION_ONCALL)
    core.team.engage_policy, core.team.new_tier_policy = veteran, new
    core.team.save()

    assert _policies_by_track(_engage(core)) == {"veteran": veteran.pk, "new": new.pk}
    veteran.name, new.name = "Engage development", "New tier (paged once)"
    veteran.save()
    new.save()
    assert _policies_by_track(_engage(core)) == {"veteran": veteran.pk, "new": new.pk}


def test_engage_ignores_policies_that_only_carry_the_old_names(core: Core) -> None:
    # The names once looked up in settings choose nothing any more: the built-in walk pages.
    _policy(core, "Engage development")
    _policy(core, "New tier (paged once)", StepAction.ROTATION_ONCALL)

    incident = _engage(core)

    assert _policies_by_track(incident) == {"veteran": None, "new": None}
    veteran = incident.escalation_states.get(track="veteran").snapshot
    assert [s["action"] for s in veteran["steps"]] == [
        StepAction.WALK_ROTATION,
        StepAction.ESCALATION_CONTACT,
    ]
    assert veteran["steps"][0]["wait"] == timedelta(minutes=10).total_seconds()


def test_a_deleted_reference_falls_back(core: Core) -> None:
    policy = _policy(core, "Walk", StepAction.WALK_ROTATION)
    core.team.engage_policy = policy
    core.team.save()
    policy.delete()
    core.team.refresh_from_db()

    assert core.team.engage_policy is None
    assert _policies_by_track(_engage(core))["veteran"] is None
