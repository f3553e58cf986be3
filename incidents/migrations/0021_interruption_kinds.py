"""Each interruption's kind (business, off, sleep) and the fingerprint of the classifier that
gave it (`insights.classify`). Rows start unclassified (spec 0): the beat task and the
insights readers classify them; nothing is computed here."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_interruptions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="interruption",
            name="kind",
            field=models.PositiveSmallIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="interruption",
            name="spec",
            field=models.IntegerField(db_default=0),
        ),
        migrations.AddIndex(
            model_name="interruption",
            index=models.Index(
                fields=["minute", "recipient", "incident_id", "is_new", "is_veteran", "kind", "spec"],
                name="interruption_minute_kind",
            ),
        ),
        migrations.RemoveIndex(model_name="interruption", name="interruption_minute"),
        migrations.AddIndex(
            model_name="interruption",
            index=models.Index(
                condition=models.Q(("spec", 0)), fields=["id"], name="interruption_unclassified"
            ),
        ),
    ]
