from django.apps import AppConfig

from oncall.roles import EDIT, MANAGER, VIEW

# Inbound integrations and outgoing webhooks are managers' configuration; what arrives
# through them (alert groups, alerts, rate-limit windows, inbound events) is read-only.
CONFIG = ("integration", "heartbeatmonitor", "webhooksubscription")
RECORDS = ("alertgroup", "alert", "ingestwindow", "inboundevent")


class IntegrationsConfig(AppConfig):
    """Doors for monitoring tools, the durable ingest pipeline and outgoing webhooks.

    Above `incidents`: it folds events through the incident services and hears of every
    timeline row through `incidents.timeline.register_timeline_listener`.
    """

    name = "integrations"
    verbose_name = "Integrations"
    role_permissions = {
        MANAGER: {
            **{model: VIEW for model in RECORDS},
            **{model: EDIT for model in CONFIG},
        },
    }

    def ready(self) -> None:
        from incidents.timeline import register_timeline_listener
        from integrations.webhooks import webhooks_on_timeline_event

        register_timeline_listener(webhooks_on_timeline_event)
