"""Webhook subscriptions as configuration: create, change, delete, rotate the secret.

The signing secret is generated with the subscription (the model's default) and replaced
only by `webhook_subscription_rotate_secret`; callers show it once, when it is made.
"""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from integrations.models import WebhookSubscription, new_subscription_secret
from oncall.models import User
from rotations.models import Team

# What `webhook_subscription_update` may change.
SUBSCRIPTION_CHANGEABLE = ("url", "event_types", "team", "is_active")


def webhook_subscription_create(
    *, url: str, event_types: list[str], actor: User | None, team: Team | None = None
) -> WebhookSubscription:
    """A new subscription; its `secret` signs every delivery (show it to the caller once)."""
    subscription = WebhookSubscription(
        url=url, event_types=event_types, team=team, created_by=actor
    )
    subscription.full_clean()
    subscription.save()
    return subscription


def webhook_subscription_update(
    *, subscription: WebhookSubscription, changes: Mapping[str, Any]
) -> WebhookSubscription:
    """Change any of SUBSCRIPTION_CHANGEABLE (`team` None: every team's incidents), checked
    as a new subscription is. Changes written after this send to the new URL and events."""
    unknown = sorted(set(changes) - set(SUBSCRIPTION_CHANGEABLE))
    if unknown:
        raise TypeError(f"webhook_subscription_update cannot change {', '.join(unknown)}")
    for name, value in changes.items():
        setattr(subscription, name, value)
    with transaction.atomic():
        subscription.full_clean()
        subscription.save(update_fields=list(changes))
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    """No further changes are sent; deliveries already in the outbox still go out."""
    with transaction.atomic():
        subscription.delete()


def webhook_subscription_rotate_secret(*, subscription: WebhookSubscription) -> str:
    """Give the subscription a new signing secret; returns it, to be shown once.

    Changes written after the commit are signed with the new secret. Deliveries already in
    the outbox keep the secret their row was written with (`Notification.signing_secret`),
    so the subscriber may see both for a while and should accept either until they drain.
    """
    with transaction.atomic():
        subscription.secret = new_subscription_secret()
        subscription.save(update_fields=["secret"])
    return subscription.secret
