"""Integration keys: issued once and stored as a digest, looked up (cached) by the doors."""

import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from integrations.models import Integration
from oncall.keys import key_digest, key_issue

KEY_KIND = "integration"

# digest → (monotonic expiry, integration or None): the doors' per-process key lookup cache.
_KEY_CACHE: dict[str, tuple[float, Integration | None]] = {}
_KEY_CACHE_MAX = 1000


def integration_by_key(*, key: str, cached: bool = False) -> Integration | None:
    """The integration a secret key opens (matched by digest), or None.

    `cached`: remember the answer in this process for INGEST_KEY_CACHE_SECONDS (the doors
    ask for every event). Saving or deleting an integration empties this process's cache;
    other processes see a rotated key or a changed integration within that many seconds.
    """
    digest = key_digest(key)
    ttl = float(settings.INGEST_KEY_CACHE_SECONDS)
    if cached and ttl > 0:
        hit = _KEY_CACHE.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    integration = (
        Integration.objects.select_related("team", "escalation_policy")
        .filter(key_digest=digest)
        .first()
    )
    if cached and ttl > 0:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE[digest] = (time.monotonic() + ttl, integration)
    return integration


def integration_key_cache_clear(**kwargs: Any) -> None:
    """Forget every cached key lookup (connected to Integration's post_save/post_delete)."""
    _KEY_CACHE.clear()


post_save.connect(integration_key_cache_clear, sender=Integration, dispatch_uid="ingest_key_cache")
post_delete.connect(
    integration_key_cache_clear, sender=Integration, dispatch_uid="ingest_key_cache_del"
)


def integration_cache_clear_on_commit() -> None:
    """Empty the cache again once the change is committed.

    post_save empties it before the commit, so a lookup in between (another thread of this
    process) could cache the old row again; this second clear makes the change hold at once.
    """
    transaction.on_commit(integration_key_cache_clear)


def integration_issue_key(*, integration: Integration) -> str:
    """Give an (unsaved or saved) integration a new key; returns the secret, shown once."""
    issued = key_issue(kind=KEY_KIND)
    integration.key_prefix, integration.key_digest = issued.prefix, issued.digest
    return issued.secret


def integration_rotate_key(*, integration: Integration) -> str:
    """Replace a saved integration's key; the old one stops working at once in this process
    (other processes within INGEST_KEY_CACHE_SECONDS). Returns the new secret, shown once."""
    with transaction.atomic():
        secret = integration_issue_key(integration=integration)
        integration.save(update_fields=["key_prefix", "key_digest"])
        integration_cache_clear_on_commit()
    return secret
