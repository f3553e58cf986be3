"""One severity policy per level (handbooks 001 and 004), editable by managers afterwards.

"P3 or more severe" needs company-wide updates, so every level does, at a slower cadence as
severity falls; only P0's published postmortem is emailed to the whole company.
"""

from datetime import timedelta

from django.db import migrations

LEVELS = [
    # level, description, urgency, ack target, both tiers, update every, postmortem, emailed
    ("SEV0", "Critical: the product is down or losing data for many customers.", "high", 5, True, 30, True, True),
    ("SEV1", "Major: a core feature is broken for many users.", "high", 10, True, 60, True, False),
    ("SEV2", "Moderate: degraded, or broken for a few users.", "high", 30, False, 120, True, False),
    ("SEV3", "Minor: small impact, a workaround exists.", "low", 60, False, 240, False, False),
]


def create(apps, schema_editor):
    SeverityPolicy = apps.get_model("incidents", "SeverityPolicy")
    for level, description, urgency, ack, both, every, postmortem, emailed in LEVELS:
        SeverityPolicy.objects.update_or_create(
            level=level,
            defaults={
                "description": description,
                "urgency": urgency,
                "acknowledge_target": timedelta(minutes=ack),
                "triage_target": timedelta(minutes=30),
                "page_both_tiers": both,
                "status_updates_required": True,
                "status_update_interval": timedelta(minutes=every),
                "postmortem_required": postmortem,
                "postmortem_emailed": emailed,
            },
        )


def remove(apps, schema_editor):
    apps.get_model("incidents", "SeverityPolicy").objects.filter(
        level__in=[row[0] for row in LEVELS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
