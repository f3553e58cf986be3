"""The Engineering council group (handbook 004): a membership, not a permission role."""

from django.db import migrations

NAME = "Engineering council"


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).get_or_create(name=NAME)


def delete_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("oncall", "0005_user_slack_user_id")]

    operations = [migrations.RunPython(create_group, delete_group)]
