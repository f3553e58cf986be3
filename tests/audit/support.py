"""Helpers of the audit tests: the entries about one object, newest first."""

from django.db.models import Model

from audit.models import AuditEntry


def entries_for(obj: Model) -> list[AuditEntry]:
    return list(AuditEntry.objects.get_for_object(obj).order_by("-id"))
