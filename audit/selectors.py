"""Reads of the audit trail: the page and the API filter through one function."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from audit.models import AuditEntry
from audit.registry import audited_models, object_type

ACTIONS = {
    AuditEntry.Action.CREATE: "create",
    AuditEntry.Action.UPDATE: "update",
    AuditEntry.Action.DELETE: "delete",
}


def object_types() -> dict[str, ContentType]:
    """`rotation` → its content type, for every audited model."""
    models = audited_models()
    types = ContentType.objects.get_for_models(*models)
    return {object_type(model): types[model] for model in models}


def type_label(content_type: ContentType) -> str:
    """What people call the type ("escalation step", "heartbeat monitor"), for the page."""
    model = content_type.model_class()
    return str(model._meta.verbose_name) if model else content_type.model


@dataclass(frozen=True)
class AuditFilters:
    object_type: str = ""
    object_id: int | None = None
    actor: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # keyset paging: entries older than this one


def audit_entries(filters: AuditFilters) -> QuerySet[AuditEntry]:
    """Entries newest first, with their person and type joined (one query per page)."""
    entries = AuditEntry.objects.select_related("actor", "content_type").order_by("-id")
    if filters.object_type:
        entries = entries.filter(content_type=object_types()[filters.object_type])
    if filters.object_id is not None:
        entries = entries.filter(object_id=filters.object_id)
    if filters.actor is not None:
        entries = entries.filter(actor_id=filters.actor)
    if filters.since is not None:
        entries = entries.filter(timestamp__gte=filters.since)
    if filters.until is not None:
        entries = entries.filter(timestamp__lt=filters.until)
    if filters.before_id is not None:
        entries = entries.filter(id__lt=filters.before_id)
    return entries


def action_name(entry: AuditEntry) -> str:
    return ACTIONS.get(entry.action, "update")


def changes_of(entry: AuditEntry) -> dict[str, list[object]]:
    """field → [before, after] (entries written before JSON changes hold text; read both)."""
    changes = entry.changes if isinstance(entry.changes, dict) else entry.changes_dict
    return {str(field): list(pair) for field, pair in (changes or {}).items()}
