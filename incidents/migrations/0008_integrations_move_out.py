"""The integration models move to the `integrations` app: gone from this app's state only.

Their tables (`incidents_integration`, …) stay as they are, with every row; the
`integrations` app's first migration takes them over (SeparateDatabaseAndState).
"""

from django.db import migrations

MOVED = (
    "Alert",
    "AlertGroup",
    "InboundEvent",
    "IngestWindow",
    "WebhookSubscription",
    "Integration",
)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_timeline_reminder_ack"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name=name) for name in MOVED],
            database_operations=[],
        ),
    ]
