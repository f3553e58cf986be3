"""What the audit trail records: the configuration models, their secrets masked.

django-auditlog writes an entry for each create, update and delete of a registered model from
its model signals, inside the transaction of the save (a change that rolls back leaves none).
Many-to-many changes (roles, team members, step targets) are recorded here, as
field → [before, after] like every other change: auditlog's own m2m entries list only the rows
added or removed, and a `clear()` would list every row of the related table.
"""

from typing import Any

from auditlog.context import auditlog_disabled
from auditlog.registry import auditlog
from django.apps import apps
from django.db.models import Model
from django.db.models.signals import m2m_changed

MASK = "••••••"
MASK_CALLABLE = "audit.registry.mask"

# label → auditlog options. Secrets are masked (a change shows, never its value); counters a
# machine bumps on every event or sign-in are left out (they are not configuration).
AUDITED: dict[str, dict[str, Any]] = {
    "rotations.team": {},
    "rotations.directnumber": {},
    "rotations.rotation": {"mask_fields": ["ical_token"]},
    "rotations.rotationmember": {},
    "rotations.override": {},
    "rotations.escalationpolicy": {},
    "rotations.escalationstep": {},
    "incidents.severitypolicy": {},
    "integrations.integration": {
        "mask_fields": ["key_digest"],
        "exclude_fields": ["refused_events"],
    },
    # A monitor's interval, grace, severity and switch; its pings are the machine's.
    "integrations.heartbeatmonitor": {
        "exclude_fields": ["state", "last_ping_at", "next_due_at", "late_since"],
    },
    "integrations.webhooksubscription": {"mask_fields": ["url", "secret"]},
    "oncall.user": {"mask_fields": ["password"], "exclude_fields": ["last_login"]},
    "oncall.apikey": {"mask_fields": ["digest"], "exclude_fields": ["last_used_at"]},
    "auth.group": {},
}
# Many-to-many fields recorded as [before, after] lists of names.
AUDITED_M2M: dict[str, tuple[str, ...]] = {
    "rotations.team": ("members",),
    "rotations.escalationstep": ("users",),
    "oncall.user": ("groups",),
    "auth.group": ("permissions",),
}
# Models whose str() is a secret (a webhook's URL): their entries name them by id.
SECRET_REPR = {"integrations.webhooksubscription"}


def mask(value: str) -> str | None:
    """The whole value hidden (auditlog's default keeps half of it). auditlog passes None as
    "None": it stays null, and an empty value empty, so "set" and "cleared" still show."""
    if value == "None":
        return None
    return value if value == "" else MASK


def safe_repr(instance: Model) -> str:
    if instance._meta.label_lower in SECRET_REPR:
        return f"{instance._meta.verbose_name} #{instance.pk}"
    return str(instance)


def object_type(model: type[Model]) -> str:
    """A model's name in the trail and the API (`rotation`, `escalationstep`, `user`)."""
    return model._meta.model_name or ""


def audited_models() -> list[type[Model]]:
    return [apps.get_model(label) for label in AUDITED]


def register_audited_models() -> None:
    for label, options in AUDITED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            # Other tables' rows pointing here (an integration's events, its monitor) are not
            # this object's values: auditlog would write "None"-like junk for each.
            reverse = [
                f.name for f in model._meta.get_fields() if f.auto_created and not f.concrete
            ]
            options = {**options, "exclude_fields": [*options.get("exclude_fields", []), *reverse]}
            auditlog.register(model, mask_callable=MASK_CALLABLE, **options)
    for label, fields in AUDITED_M2M.items():
        model = apps.get_model(label)
        for field in fields:
            through = getattr(model, field).through
            m2m_changed.connect(
                record_m2m_change, sender=through, dispatch_uid=f"audit.m2m.{label}.{field}"
            )


def _names(objects: Any) -> list[str]:
    return sorted(str(o) for o in objects)


def record_m2m_change(
    sender: Any, instance: Model, action: str, reverse: bool, model: Any, pk_set: Any, **_: Any
) -> None:
    """One update entry per add, remove or clear: the field's names before and after."""
    if auditlog_disabled.get() or reverse:
        # Reverse sides (a group's user_set…) are left out: the forward field names the change.
        return
    field = _m2m_field(instance, sender)
    if field is None:
        return
    if action == "pre_clear":
        instance.__dict__[f"_audit_before_{field}"] = _names(getattr(instance, field).all())
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    after = _names(getattr(instance, field).all())
    if action == "post_clear":
        before = instance.__dict__.pop(f"_audit_before_{field}", [])
    else:
        changed = _names(model._default_manager.filter(pk__in=pk_set or ()))
        if not changed:
            return
        if action == "post_add":
            before = sorted(set(after) - set(changed))
        else:
            before = sorted([*after, *changed])
    if before == after:
        return
    from audit.models import AuditEntry

    AuditEntry.objects.log_create(
        instance, action=AuditEntry.Action.UPDATE, changes={field: [before, after]}
    )


def _m2m_field(instance: Model, through: Any) -> str | None:
    for field in AUDITED_M2M.get(instance._meta.label_lower, ()):
        if getattr(type(instance), field).through is through:
            return field
    return None
