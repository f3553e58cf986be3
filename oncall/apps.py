from django.apps import AppConfig
from django.db.models.signals import post_migrate

from oncall.roles import CORE_ROLE_PERMISSIONS


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call portal"
    role_permissions = CORE_ROLE_PERMISSIONS

    def ready(self) -> None:
        import oncall.lookups  # registers the integer `__in` that ignores overflow
        import oncall.sso.checks  # noqa: F401 - registers the single sign-on settings checks
        from oncall.roles import grant_role_permissions

        # Permissions exist only after migrate creates them, so roles are granted then;
        # the groups themselves come from a data migration.
        post_migrate.connect(grant_role_permissions, dispatch_uid="oncall.grant_role_permissions")
