"""Interruptions beside the pages (`incidents.interruptions`), filled from every page already
sent (by chunks of incident ids)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    from incidents.interruptions import fill_with

    fill_with(
        notification=apps.get_model("notifications", "Notification"),
        interruption=apps.get_model("incidents", "Interruption"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0019_page_facts"),
        ("notifications", "0009_contactmethod_last_tested_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Interruption",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("incident_id", models.BigIntegerField()),
                ("minute", models.DateTimeField()),
                ("is_new", models.BooleanField(default=False)),
                ("is_veteran", models.BooleanField(default=False)),
                (
                    "recipient",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["minute", "recipient", "incident_id", "is_new", "is_veteran"],
                        name="interruption_minute",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("recipient", "incident_id", "minute"), name="interruption_slot"
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
