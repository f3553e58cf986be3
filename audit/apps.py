from django.apps import AppConfig

from oncall.roles import MANAGER, VIEW


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"
    # Managers read the trail (page, API, admin); nobody writes it but the signals.
    role_permissions = {MANAGER: {"auditentry": VIEW}}

    def ready(self) -> None:
        from audit.registry import register_audited_models

        register_audited_models()
