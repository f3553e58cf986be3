from django.apps import AppConfig

from oncall.roles import EDIT, ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, VIEW

RECORDS = ("incident", "timelineevent", "escalationstate", "statusupdate", "customercontact")


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"
    demo_seed = "incidents.demo.seed"
    # Managers edit severity policies in the admin; incidents change only through the
    # portal's services, so the admin shows them read-only to everyone.
    role_permissions = {
        MANAGER: {
            "severitypolicy": EDIT,
            **{model: VIEW for model in RECORDS},
        },
        SUPPORT_MANAGER: {"severitypolicy": VIEW, **{model: VIEW for model in RECORDS}},
        ENGINEER: {"severitypolicy": VIEW, **{model: VIEW for model in RECORDS}},
        SUPPORT: {"severitypolicy": VIEW, **{model: VIEW for model in RECORDS}},
    }

    def ready(self) -> None:
        from incidents.services.callbacks import register
        from incidents.support.dashboard import sees_support_dashboard
        from incidents.support.views import support_dashboard_page
        from oncall.views import register_home

        register()
        register_home(sees_support_dashboard, support_dashboard_page)
