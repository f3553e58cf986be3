"""Page a person: expand their notification rules into outbox rows (one per rule).

Nobody is ever paged into silence: without a verified method the page goes to the
account's email address, and without that a row is written that has already failed, with
an error that says why, so the failure shows wherever the subject's pages are shown.

One page is a batch of one: `notifications.services.bulk` holds the one implementation.
"""

from typing import Any

from notifications.models import Notification
from notifications.services.bulk import Page, notifications_page_many
from oncall.models import User


def notifications_page(
    *,
    user: User,
    urgency: str,
    subject_type: str,
    subject_id: int,
    key: str,
    subject: str,
    body: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> list[Notification]:
    """Outbox rows paging `user` by their rules; the same `key` twice pages nobody twice."""
    page = Page(
        user=user,
        urgency=urgency,
        subject_type=subject_type,
        subject_id=subject_id,
        key=key,
        subject=subject,
        body=body,
        reason=reason,
        data=data or {},
    )
    return notifications_page_many([page])[0]
