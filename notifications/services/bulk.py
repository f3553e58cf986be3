"""Page many people at once: the outbox rows of a whole batch of pages in a few queries.

`notifications_page_many` is what `notifications_page` does for one page, for any number:
every person's page plan is read in two queries, the rows are written with one INSERT, and
their delivery tasks are queued on commit. The rules are the same as for one page:

- the same idempotency key twice pages nobody twice (a key that exists returns its row);
- storm control (`notifications.services.storm`): a row to an address messaged less than
  `NOTIFY_MIN_INTERVAL` ago waits for its next free slot (`not_before`, `throttled`); rows
  pending for one address share that slot and go out in one message;
- `deadline` is the row's start (now, `not_before` or the slot) plus `NOTIFY_PENDING_GRACE`;
- nobody is paged into silence: without a verified method, the account email; without
  that, a row born failed whose error says why.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from notifications.callbacks import delivery_finished, pages_written
from notifications.models import Channel, Notification, Status
from notifications.selectors import page_plans
from notifications.services.outbox import enqueue_delivery
from notifications.services.storm import schedule_rows
from oncall.models import User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One person to page about one subject; `key` is the page's idempotency key prefix."""

    user: User
    urgency: str
    subject_type: str
    subject_id: int
    key: str
    subject: str
    body: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def _unreachable_error(user: User) -> str:
    return (
        f"{user} has no verified contact method and no email address: "
        "nobody was paged. Add a contact method on their profile."
    )


def _fit(text: str, field_name: str) -> str:
    """`text` cut to the outbox column it goes in, with an ellipsis when cut: a page is never
    lost to a long reason or title (the whole text stays in the body and the timeline)."""
    column = Notification._meta.get_field(field_name)
    assert isinstance(column, models.CharField)
    assert column.max_length is not None
    limit = column.max_length
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows_for(page: Page, plan: list[Any], now: datetime) -> list[Notification]:
    """The unsaved outbox rows of one page, as `notifications_page` would write them."""
    common: dict[str, Any] = {
        "recipient": page.user,
        "subject": _fit(page.subject, "subject"),
        "body": page.body,
        "urgency": page.urgency,
        "subject_type": page.subject_type,
        "subject_id": page.subject_id,
        "data": page.data or {},
    }
    if plan:
        return [
            Notification(
                idempotency_key=f"{page.key}:{rule.contact_method.channel}:{rule.pk}",
                channel=rule.contact_method.channel,
                address=rule.contact_method.address,
                contact_method=rule.contact_method,
                reason=_fit(page.reason, "reason"),
                not_before=now + timedelta(seconds=rule.delay) if rule.delay else None,
                **common,
            )
            for rule in plan
        ]
    if page.user.email:
        return [
            Notification(
                idempotency_key=f"{page.key}:email:account",
                channel=Channel.EMAIL,
                address=page.user.email,
                reason=_fit(f"{page.reason} (no verified contact method: account email)", "reason"),
                **common,
            )
        ]
    return [
        Notification(
            idempotency_key=f"{page.key}:none",
            channel=Channel.EMAIL,
            address="",
            reason=_fit(page.reason, "reason"),
            status=Status.FAILED,
            failed_at=now,
            last_error=_unreachable_error(page.user),
            **common,
        )
    ]


def _born_failed_if_invalid(row: Notification, now: datetime) -> None:
    """A row that does not validate (an address saved before a stricter rule, say) is written
    failed with the reason, so the step's other pages still go out and the incident shows the
    failure; raising here would fail the whole escalation step again and again, paging nobody.
    """
    try:
        # The recipient and method were just read: no query per row to prove they exist.
        row.full_clean(
            exclude=["recipient", "contact_method"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as error:
        reasons = "; ".join(
            message for messages in error.message_dict.values() for message in messages
        )
        row.status, row.failed_at = Status.FAILED, now
        row.last_error = f"Not sent: {reasons}"[:1000]


def _insert(rows: list[Notification]) -> list[Notification]:
    """INSERT the rows; a key another transaction wrote meanwhile keeps that row.

    Returns the rows this call wrote (with their ids)."""
    if not rows:
        return []
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(rows)
        if all(row.pk is not None for row in rows):
            return rows
    except IntegrityError:
        # Lost a race on a key: write the others and read back which rows are ours (the
        # created_at each row was given on this INSERT tells them apart).
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
    stored = Notification.objects.in_bulk(
        [row.idempotency_key for row in rows], field_name="idempotency_key"
    )
    mine = []
    for row in rows:
        found = stored[row.idempotency_key]
        if found.created_at == row.created_at and found.status == row.status:
            row.pk = found.pk
            mine.append(row)
    return mine


def _announce(written: list[Notification]) -> None:
    """On commit: queue each pending row's delivery; tell listeners of rows born failed."""
    for row in written:
        if row.status == Status.FAILED:
            delivery_finished(row)
    for row in written:
        if row.status != Status.PENDING:
            continue
        try:
            enqueue_delivery(notification_id=row.pk, channel=row.channel, eta=row.not_before)
        except Exception:
            # The broker is down: the notifications sweeper re-queues pending rows past
            # their deadline, so log once and stop hammering it.
            logger.exception("could not queue the delivery of notification %s and later", row.pk)
            return


def notifications_page_many(pages: Sequence[Page]) -> list[list[Notification]]:
    """Outbox rows paging each person by their rules, one list per page, in order.

    Call it inside the transaction that decided the pages; deliveries are queued on commit.
    """
    if not pages:
        return []
    now = timezone.now()
    users = list({page.user.pk: page.user for page in pages}.values())
    plans = page_plans(users=users, urgencies={page.urgency for page in pages})
    wanted = [_rows_for(page, plans[(page.user.pk, page.urgency)], now) for page in pages]
    keys = {row.idempotency_key for rows in wanted for row in rows}
    by_key: dict[str, Notification] = Notification.objects.in_bulk(
        list(keys), field_name="idempotency_key"
    )
    new: list[Notification] = []
    for rows in wanted:
        for row in rows:
            if row.idempotency_key in by_key:
                continue  # written before (or twice in this batch): that row stands
            if row.status == Status.PENDING:
                _born_failed_if_invalid(row, now)
            by_key[row.idempotency_key] = row
            new.append(row)
    schedule_rows([row for row in new if row.status == Status.PENDING], now)
    written = _insert(new)
    if len(written) != len(new):
        stored = Notification.objects.in_bulk(
            [row.idempotency_key for row in new], field_name="idempotency_key"
        )
        for row in new:
            if row.pk is None:
                by_key[row.idempotency_key] = stored[row.idempotency_key]
    if written:
        pages_written(written)
        transaction.on_commit(lambda: _announce(written))
    return [[by_key[row.idempotency_key] for row in rows] for rows in wanted]
