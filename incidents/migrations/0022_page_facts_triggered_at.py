"""Page facts keep their incident's trigger time (`PageFacts.triggered_at`), so a period's
escalated incidents are read through one partial index."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    incident = apps.get_model("incidents", "Incident")
    facts = apps.get_model("incidents", "PageFacts")
    facts.objects.update(
        triggered_at=Subquery(
            incident.objects.filter(pk=OuterRef("incident_id")).values("triggered_at")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0021_interruption_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="pagefacts",
            name="triggered_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="pagefacts",
            name="triggered_at",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="pagefacts",
            index=models.Index(
                condition=models.Q(("escalated", True)),
                fields=["triggered_at"],
                name="page_facts_escalated",
            ),
        ),
    ]
