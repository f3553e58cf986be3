"""Invariants the rotations models keep in clean(), whichever door writes them."""

import pytest
from django.core.exceptions import ValidationError

from tests.factories import EscalationPolicyFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["default_policy", "engage_policy", "new_tier_policy"])
def test_a_team_names_only_its_own_policies(field: str) -> None:
    team, other = TeamFactory.create(), TeamFactory.create()
    setattr(team, field, EscalationPolicyFactory.create(team=other))

    with pytest.raises(ValidationError) as error:
        team.full_clean()

    assert set(error.value.message_dict) == {field}
    setattr(team, field, EscalationPolicyFactory.create(team=team))
    team.full_clean()


def test_a_policy_stays_with_the_team_that_pages_with_it() -> None:
    team, other = TeamFactory.create(), TeamFactory.create()
    policy = EscalationPolicyFactory.create(team=team)
    team.new_tier_policy = policy
    team.save()

    policy.team = other
    with pytest.raises(ValidationError) as error:
        policy.full_clean()
    assert team.name in error.value.message_dict["team"][0]

    team.new_tier_policy = None
    team.save()
    policy.full_clean()
