"""The weekly review's overdue action items, ranked per owner, read from one partial index."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0007_review_write_weight"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="actionitem",
            index=models.Index(
                condition=models.Q(("status__in", ["in_progress", "open"])),
                fields=["owner", "due_date", "id"],
                name="action_item_open_owner_due",
            ),
        ),
    ]
