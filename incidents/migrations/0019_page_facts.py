"""What an incident's pages tell, beside them (`incidents.pagefacts`), filled for every
incident that has pages."""

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 2000


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    from incidents.pagefacts import refresh_with

    incident = apps.get_model("incidents", "Incident")
    notification = apps.get_model("notifications", "Notification")
    facts = apps.get_model("incidents", "PageFacts")
    ids = list(incident.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        refresh_with(
            ids[start : start + CHUNK], incident=incident, notification=notification, facts=facts
        )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0018_incident_metrics_counts"),
        ("notifications", "0009_contactmethod_last_tested_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="PageFacts",
            fields=[
                (
                    "incident",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="page_facts",
                        serialize=False,
                        to="incidents.incident",
                    ),
                ),
                ("paged_veteran", models.BooleanField(default=False)),
                ("paged_new", models.BooleanField(default=False)),
                ("escalated", models.BooleanField(default=False)),
                ("acknowledger_paged_veteran", models.BooleanField(default=False)),
                ("acknowledger_paged_new", models.BooleanField(default=False)),
            ],
            options={"verbose_name_plural": "page facts"},
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
