from django.apps import AppConfig

from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, VIEW


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    demo_seed = "notifications.demo.seed"
    # People edit their own methods and rules on the profile page; in the admin, managers
    # may look at everything and nobody edits the outbox.
    role_permissions = {
        MANAGER: {"contactmethod": VIEW, "notificationrule": VIEW, "notification": VIEW},
        SUPPORT_MANAGER: {"notification": VIEW},
        ENGINEER: {},
        SUPPORT: {},
    }

    def ready(self) -> None:
        from notifications.overrides import override_request_tell, overrides_tell_colleagues
        from rotations.callbacks import (
            register_override_listener,
            register_override_request_listener,
        )

        register_override_listener(overrides_tell_colleagues)
        register_override_request_listener(override_request_tell)
