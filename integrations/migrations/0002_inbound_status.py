"""InboundEvent gets an explicit status; existing rows get theirs from today's fields.

processed_at set: processed; failed_at set: failed; a recorded failure (attempts or
last_error) still pending: retrying; the rest: accepted. The pending index follows status.
"""

from typing import Any

from django.db import migrations, models


def statuses_from_fields(apps: Any, schema_editor: Any) -> None:
    event = apps.get_model("integrations", "InboundEvent")
    rows = event.objects.using(schema_editor.connection.alias)
    rows.filter(processed_at__isnull=False).update(status="processed")
    rows.filter(processed_at__isnull=True, failed_at__isnull=False).update(status="failed")
    pending = rows.filter(processed_at__isnull=True, failed_at__isnull=True)
    (pending.filter(attempts__gt=0) | pending.exclude(last_error="")).update(status="retrying")


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='inboundevent',
            name='inbound_pending_by_key',
        ),
        migrations.AddField(
            model_name='inboundevent',
            name='status',
            field=models.CharField(choices=[('accepted', 'Accepted'), ('retrying', 'Retrying'), ('processed', 'Processed'), ('failed', 'Failed')], default='accepted', max_length=10),
        ),
        migrations.RunPython(statuses_from_fields, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='inboundevent',
            index=models.Index(condition=models.Q(('status__in', ('accepted', 'retrying'))), fields=['integration', 'dedup_key', 'id'], name='inbound_pending_by_key'),
        ),
    ]
