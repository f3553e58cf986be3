"""Acknowledge links: signed, salted and expiring, so they work without a login."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "notifications.ack"


class AckLinkExpired(Exception):
    pass


class AckLinkInvalid(Exception):
    pass


def ack_token_make(*, notification_id: int) -> str:
    return signing.dumps({"n": notification_id}, salt=SALT, compress=False)


def ack_token_load(*, token: str, max_age: timedelta | None = None) -> int:
    """The notification id the token names; AckLinkExpired / AckLinkInvalid otherwise."""
    age = max_age if max_age is not None else settings.ACK_LINK_MAX_AGE
    try:
        payload = signing.loads(token, salt=SALT, max_age=age)
    except signing.SignatureExpired as error:
        raise AckLinkExpired(str(error)) from error
    except signing.BadSignature as error:
        raise AckLinkInvalid(str(error)) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), int):
        raise AckLinkInvalid("malformed payload")
    return int(payload["n"])


def ack_path(*, notification_id: int) -> str:
    return reverse("notifications:ack", args=[ack_token_make(notification_id=notification_id)])


def ack_url(*, notification_id: int) -> str:
    return settings.SITE_URL + ack_path(notification_id=notification_id)
