from django.apps import AppConfig

from oncall.roles import EDIT, ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, VIEW

TEMPLATES = ("postmortemtemplate", "postmortemtemplatesection")
RECORDS = (
    "postmortem",
    "postmortemsection",
    "postmortemtimelineentry",
    "postmortemrevision",
    "actionitem",
    "reviewmeeting",
)
EVERYONE = {model: VIEW for model in (*TEMPLATES, *RECORDS)}


class PostmortemsConfig(AppConfig):
    """Postmortems and their action items, above `incidents`: it hears of resolves through
    `incidents.timeline.register_timeline_listener` (incidents never imports it)."""

    name = "postmortems"
    demo_seed = "postmortems.demo.seed"
    verbose_name = "Postmortems"
    # Managers edit templates; in the admin they change postmortems and action items, whose
    # writes go through the services (the revision, the timeline, the rules). Everyone
    # signed in reads them.
    role_permissions = {
        MANAGER: {
            **{model: EDIT for model in TEMPLATES},
            **{model: VIEW for model in RECORDS},
            "postmortem": ("view", "change"),
            "actionitem": ("view", "change"),
        },
        SUPPORT_MANAGER: EVERYONE,
        ENGINEER: EVERYONE,
        SUPPORT: EVERYONE,
    }

    def ready(self) -> None:
        from incidents.timeline import register_timeline_listener
        from postmortems import (
            figures,  # noqa: F401 (registers SQLite's median aggregate)
            stamp,
        )
        from postmortems.services import postmortem_draft_on_resolve

        register_timeline_listener(postmortem_draft_on_resolve)
        stamp.connect()
