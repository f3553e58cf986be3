"""The integration models, taken over from the incidents app without touching the data.

State only: the tables were made by incidents' migrations 0003 and 0005 and keep their
names (`db_table`). The content types (and with them permissions and admin history) are
renamed to this app, so the role groups keep what they were granted.
"""

from typing import Any

import django.db.models.deletion
import django.utils.timezone
import integrations.models
from django.conf import settings
from django.db import migrations, models


MOVED = (
    "integration",
    "ingestwindow",
    "inboundevent",
    "alertgroup",
    "alert",
    "webhooksubscription",
)


def _relabel(apps: Any, schema_editor: Any, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(
        content_type.objects.using(db)
        .filter(app_label=new, model__in=MOVED)
        .values_list("model", flat=True)
    )
    # A content type made for the new label already (a post_migrate of a partial run) has
    # no history yet: the old one, with its permissions and log entries, wins.
    content_type.objects.using(db).filter(app_label=new, model__in=taken).delete()
    content_type.objects.using(db).filter(app_label=old, model__in=MOVED).update(app_label=new)


def content_types_move(apps: Any, schema_editor: Any) -> None:
    _relabel(apps, schema_editor, "incidents", "integrations")


def content_types_move_back(apps: Any, schema_editor: Any) -> None:
    _relabel(apps, schema_editor, "integrations", "incidents")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("incidents", "0008_integrations_move_out"),
        ("rotations", "0003_drop_coverage_notice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Integration",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        (
                            "type",
                            models.CharField(
                                choices=[
                                    ("events_v2", "PagerDuty Events API v2"),
                                    ("alertmanager", "Prometheus Alertmanager"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("key_prefix", models.CharField(editable=False, max_length=40)),
                        (
                            "key_digest",
                            models.CharField(editable=False, max_length=64, unique=True),
                        ),
                        (
                            "severity_map",
                            models.JSONField(
                                default=integrations.models.default_severity_map,
                                help_text='Source severity → level, e.g. {"critical": "SEV1", "warning": "SEV3"}.',
                            ),
                        ),
                        (
                            "rate_limit_per_minute",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="Events accepted per minute; empty: INGEST_RATE_LIMIT_PER_MINUTE.",
                                null=True,
                            ),
                        ),
                        (
                            "refused_events",
                            models.PositiveBigIntegerField(
                                default=0,
                                editable=False,
                                help_text="Events answered 429 (rate limited).",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "escalation_policy",
                            models.ForeignKey(
                                blank=True,
                                help_text="Page with this policy instead of the team's default.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="integrations",
                                to="rotations.escalationpolicy",
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="integrations",
                                to="rotations.team",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_integration",
                        "ordering": ("team__name", "name"),
                    },
                ),
                migrations.CreateModel(
                    name="IngestWindow",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("window", models.DateTimeField()),
                        ("count", models.PositiveIntegerField(default=0)),
                        (
                            "integration",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="integrations.integration",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_ingestwindow",
                    },
                ),
                migrations.CreateModel(
                    name="InboundEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("events_v2", "PagerDuty Events API v2"),
                                    ("alertmanager", "Prometheus Alertmanager"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "payload",
                            models.JSONField(
                                help_text="The validated, normalised event (no routing key)."
                            ),
                        ),
                        ("dedup_key", models.CharField(max_length=255)),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "action",
                            models.CharField(
                                blank=True,
                                help_text="What processing did (created, folded, …).",
                                max_length=16,
                            ),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        (
                            "next_attempt_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="After a failure: not retried before this.",
                                null=True,
                            ),
                        ),
                        (
                            "failed_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="Given up after INGEST_MAX_ATTEMPTS failures.",
                                null=True,
                            ),
                        ),
                        (
                            "integration",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="inbound_events",
                                to="integrations.integration",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_inboundevent",
                        "ordering": ("-id",),
                    },
                ),
                migrations.CreateModel(
                    name="AlertGroup",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("dedup_key", models.CharField(max_length=255)),
                        ("is_open", models.BooleanField(default=True)),
                        (
                            "alert_count",
                            models.PositiveIntegerField(
                                default=1,
                                help_text="Trigger events received (Events v2) or alerts in the group.",
                            ),
                        ),
                        (
                            "truncated_alerts",
                            models.PositiveIntegerField(
                                default=0,
                                help_text="Alerts Alertmanager left out of its last message.",
                            ),
                        ),
                        ("last_event_at", models.DateTimeField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "incident",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alert_group",
                                to="incidents.incident",
                            ),
                        ),
                        (
                            "integration",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alert_groups",
                                to="integrations.integration",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_alertgroup",
                        "ordering": ("-last_event_at", "-id"),
                    },
                ),
                migrations.CreateModel(
                    name="WebhookSubscription",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("url", models.URLField(max_length=500)),
                        (
                            "secret",
                            models.CharField(
                                default=integrations.models.new_subscription_secret,
                                editable=False,
                                max_length=64,
                            ),
                        ),
                        (
                            "event_types",
                            models.JSONField(default=integrations.models.all_webhook_events),
                        ),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                blank=True,
                                help_text="Empty: incidents of every team.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="webhook_subscriptions",
                                to="rotations.team",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_webhooksubscription",
                        "ordering": ("id",),
                    },
                ),
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("fingerprint", models.CharField(blank=True, max_length=255)),
                        (
                            "status",
                            models.CharField(
                                choices=[("firing", "Firing"), ("resolved", "Resolved")],
                                default="firing",
                                max_length=8,
                            ),
                        ),
                        ("summary", models.CharField(blank=True, max_length=1024)),
                        ("source", models.CharField(blank=True, max_length=255)),
                        (
                            "severity",
                            models.CharField(
                                blank=True, help_text="As the source sent it.", max_length=50
                            ),
                        ),
                        ("component", models.CharField(blank=True, max_length=255)),
                        ("group", models.CharField(blank=True, max_length=255)),
                        ("event_class", models.CharField(blank=True, max_length=255)),
                        ("custom_details", models.JSONField(blank=True, default=dict)),
                        ("links", models.JSONField(blank=True, default=list)),
                        ("images", models.JSONField(blank=True, default=list)),
                        ("client", models.CharField(blank=True, max_length=255)),
                        ("client_url", models.URLField(blank=True, max_length=1000)),
                        ("labels", models.JSONField(blank=True, default=dict)),
                        ("annotations", models.JSONField(blank=True, default=dict)),
                        ("generator_url", models.URLField(blank=True, max_length=1000)),
                        ("starts_at", models.DateTimeField(blank=True, null=True)),
                        ("ends_at", models.DateTimeField(blank=True, null=True)),
                        ("received_at", models.DateTimeField()),
                        ("updated_at", models.DateTimeField()),
                        (
                            "incident",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alerts",
                                to="incidents.incident",
                            ),
                        ),
                        (
                            "alert_group",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alerts",
                                to="integrations.alertgroup",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_alert",
                        "ordering": ("incident", "id"),
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("fingerprint", ""), _negated=True),
                                fields=("alert_group", "fingerprint"),
                                name="one_alert_per_fingerprint",
                            )
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="integration",
                    constraint=models.UniqueConstraint(
                        fields=("team", "name"), name="integration_name_per_team"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="ingestwindow",
                    constraint=models.UniqueConstraint(
                        fields=("integration", "window"), name="one_ingest_window"
                    ),
                ),
                migrations.AddIndex(
                    model_name="inboundevent",
                    index=models.Index(
                        condition=models.Q(
                            ("failed_at__isnull", True), ("processed_at__isnull", True)
                        ),
                        fields=["integration", "dedup_key", "id"],
                        name="inbound_pending_by_key",
                    ),
                ),
                migrations.AddIndex(
                    model_name="inboundevent",
                    index=models.Index(
                        condition=models.Q(("processed_at__isnull", False)),
                        fields=["processed_at"],
                        name="inbound_processed",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="alertgroup",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("is_open", True)),
                        fields=("integration", "dedup_key"),
                        name="one_open_group_per_dedup_key",
                    ),
                ),
            ],
        ),
        migrations.RunPython(content_types_move, content_types_move_back, elidable=True),
    ]
