from django.apps import AppConfig

from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, VIEW


class ReportsConfig(AppConfig):
    """End-of-shift on-call reports and the handoff, above `incidents` (nothing below imports
    it)."""

    name = "reports"
    verbose_name = "On-call reports"
    demo_seed = "reports.demo.seed"
    # Everyone signed in reads reports; writes go through the services (the owner or a
    # Manager), so the admin only shows them.
    role_permissions = {
        MANAGER: {"oncallreport": VIEW},
        SUPPORT_MANAGER: {"oncallreport": VIEW},
        ENGINEER: {"oncallreport": VIEW},
        SUPPORT: {"oncallreport": VIEW},
    }

    def ready(self) -> None:
        from notifications.callbacks import register_ack_describer, register_ack_handler
        from reports import shift_reminders
        from reports.services import SUBJECT_TYPE, handoff_acknowledge_by_page, handoff_describe

        register_ack_handler(SUBJECT_TYPE, handoff_acknowledge_by_page)
        register_ack_describer(SUBJECT_TYPE, handoff_describe)
        register_ack_handler(
            shift_reminders.SUBJECT_TYPE, shift_reminders.reminder_acknowledge_by_page
        )
        register_ack_describer(shift_reminders.SUBJECT_TYPE, shift_reminders.reminder_describe)
