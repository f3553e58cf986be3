"""Writes behind the core API: issuing, revoking and touching personal API keys."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from oncall.keys import key_issue
from oncall.models import ApiKey, User

KEY_KIND = "api"
# Record use at most this often, so a busy script does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def api_key_create(*, user: User, name: str) -> CreatedKey:
    """A new key for `user`; the secret is returned here and nowhere else."""
    issued = key_issue(kind=KEY_KIND)
    key = ApiKey(user=user, name=name.strip(), prefix=issued.prefix, digest=issued.digest)
    with transaction.atomic():
        key.full_clean()
        key.save()
    return CreatedKey(key=key, secret=issued.secret)


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """The key stops working at once; revoking twice keeps the first time."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Note that the key was used, unless that was noted less than a minute ago."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # A conditional UPDATE: concurrent requests write once, and no transaction is needed.
    ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(
        last_used_at=now
    )
    key.last_used_at = now
