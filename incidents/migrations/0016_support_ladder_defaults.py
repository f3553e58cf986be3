"""The support ladder's defaults per severity (handbook 004): SEV0–SEV2 go through the
support manager; SEV0/SEV1 escalate to the on-call engineer (a few hours), SEV2/SEV3 to the
engineering manager (a day). And the "Security owners" group (told of security incidents
at once; it grants no permissions)."""

from datetime import timedelta

from django.db import migrations

DEFAULTS = {
    "SEV0": (True, "oncall", timedelta(hours=2)),
    "SEV1": (True, "oncall", timedelta(hours=4)),
    "SEV2": (True, "engineering_manager", timedelta(hours=4)),
    "SEV3": (False, "engineering_manager", timedelta(hours=4)),
}


def set_defaults(apps, schema_editor):
    SeverityPolicy = apps.get_model("incidents", "SeverityPolicy")
    for level, (required, to, oncall_target) in DEFAULTS.items():
        SeverityPolicy.objects.filter(level=level).update(
            support_manager_required=required,
            support_escalates_to=to,
            engineering_manager_target=timedelta(days=1),
            oncall_target=oncall_target,
        )
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="Security owners")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0015_support_ladder"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(set_defaults, migrations.RunPython.noop)]
