from django.apps import AppConfig

from oncall.roles import EDIT, ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, VIEW


class PlaybooksConfig(AppConfig):
    """Playbook entries per team and service (handbook 004: "take appropriate remediation
    steps from Playbook") and the attempts recorded on incidents. Above incidents and
    postmortems: neither imports it; their pages load its template tags."""

    name = "playbooks"
    verbose_name = "Playbooks"
    demo_seed = "playbooks.demo.seed"
    # Managers and support managers edit entries (admin and portal); everyone reads them.
    # Attempts are written only through the service (the incident's timeline with them).
    role_permissions = {
        MANAGER: {"playbookentry": EDIT, "playbookattempt": VIEW},
        SUPPORT_MANAGER: {"playbookentry": EDIT, "playbookattempt": VIEW},
        ENGINEER: {"playbookentry": VIEW, "playbookattempt": VIEW},
        SUPPORT: {"playbookentry": VIEW, "playbookattempt": VIEW},
    }

    def ready(self) -> None:
        from playbooks.models import PlaybookEntry
        from postmortems import stamp

        # The weekly review counts each postmortem's proposed entries.
        stamp.connect(PlaybookEntry, parts=stamp.Part.POSTMORTEMS)
