"""The audit trail's one table: django-auditlog's log entry plus through what the change came.

`AUDITLOG_LOGENTRY_MODEL` points auditlog at this model (its own table is then never made), so
every entry the library writes carries `via` and the indexes the `/audit/` page filters by.
"""

from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models


class Via(models.TextChoices):
    ADMIN = "admin", "Admin"
    PORTAL = "portal", "Portal"
    API = "api", "API"
    # Celery tasks, management commands, migrations: no request, so no middleware said otherwise.
    SYSTEM = "system", "System"


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance: Any, force_log: bool = False, **kwargs: Any) -> Any:
        from audit.registry import safe_repr

        kwargs.setdefault("object_repr", safe_repr(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)


class AuditEntry(AbstractLogEntry):
    via = models.CharField(max_length=8, choices=Via.choices, default=Via.SYSTEM)

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            # The page's and the API's filters, newest first.
            models.Index(fields=["content_type", "-id"], name="audit_type_newest"),
            models.Index(fields=["actor", "-id"], name="audit_actor_newest"),
            models.Index(fields=["content_type", "object_id", "-id"], name="audit_object_newest"),
        ]
