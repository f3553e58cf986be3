"""Keep today's choices as explicit references.

Until now a team's declared incidents were paged by its alphabetically first policy, and
engage development looked its two policies up by the names in settings
(ENGAGE_VETERAN_POLICY, ENGAGE_NEW_TIER_POLICY). Each team now names them itself.
"""

from typing import Any

from django.conf import settings
from django.db import migrations

VETERAN_NAME = getattr(settings, "ENGAGE_VETERAN_POLICY", "Engage development")
NEW_TIER_NAME = getattr(settings, "ENGAGE_NEW_TIER_POLICY", "New tier (paged once)")


def fill(apps: Any, schema_editor: Any) -> None:
    Team = apps.get_model("rotations", "Team")
    EscalationPolicy = apps.get_model("rotations", "EscalationPolicy")
    by_team: dict[int, list[Any]] = {}
    for policy in EscalationPolicy.objects.order_by("team_id", "name"):
        by_team.setdefault(policy.team_id, []).append(policy)
    for team in Team.objects.filter(pk__in=by_team):
        policies = by_team[team.pk]
        named = {p.name: p for p in policies}
        team.default_policy = policies[0]
        team.engage_policy = named.get(VETERAN_NAME)
        team.new_tier_policy = named.get(NEW_TIER_NAME)
        team.save(update_fields=["default_policy", "engage_policy", "new_tier_policy"])


class Migration(migrations.Migration):
    dependencies = [("rotations", "0004_team_policy_references")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
