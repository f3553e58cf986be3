"""Data migrations of rotations: today's choices survive as explicit references."""

from importlib import import_module

import pytest
from django.apps import apps

from rotations.models import Team
from tests.factories import EscalationPolicyFactory, TeamFactory

pytestmark = pytest.mark.django_db

fill = import_module("rotations.migrations.0005_team_policy_references_fill").fill


def test_the_fill_keeps_the_alphabetical_default_and_the_engage_names() -> None:
    core, quiet, empty = TeamFactory.create(), TeamFactory.create(), TeamFactory.create()
    engage = EscalationPolicyFactory.create(team=core, name="Engage development")
    new = EscalationPolicyFactory.create(team=core, name="New tier (paged once)")
    EscalationPolicyFactory.create(team=core, name="Weekend")
    EscalationPolicyFactory.create(team=quiet, name="Zulu")
    night = EscalationPolicyFactory.create(team=quiet, name="Night")

    fill(apps, None)

    core, quiet, empty = (Team.objects.get(pk=t.pk) for t in (core, quiet, empty))
    assert (core.default_policy, core.engage_policy, core.new_tier_policy) == (engage, engage, new)
    assert (quiet.default_policy, quiet.engage_policy, quiet.new_tier_policy) == (
        night,
        None,
        None,
    )
    assert (empty.default_policy, empty.engage_policy, empty.new_tier_policy) == (None, None, None)
