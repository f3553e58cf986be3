"""Shift reminders (issue 15 point 5): each person is told, at low urgency through their own
contact methods and rules, a chosen time before their shifts start and end ("You go on call
for Core · Veteran primary at Mon 09:00 EST", in their own zone).

The settings are `ShiftReminderSetting` (no row: an hour before the start, nothing before the
end); the beat task `reports.shift_reminders` calls `shift_reminders_send`, which sends each
reminder once per shift and kind (the outbox key names the rotation, the person, the instant
and the kind) in a fixed number of queries however many rotations and people.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from notifications.callbacks import AckSubject
from notifications.models import Notification, Urgency
from notifications.services import Page, notifications_page_many
from oncall.models import User
from reports.models import (
    DEFAULT_BEFORE_END,
    DEFAULT_BEFORE_START,
    REMINDER_LEADS,
    ShiftReminderSetting,
)
from rotations import resolver
from rotations.models import Override, Rotation
from rotations.selectors import (
    override_specs,
    overrides_between,
    rotation_spec,
    rotations_with_members,
    users_of,
)

SUBJECT_TYPE = "shift_reminder"
START = "start"
END = "end"
# The longest lead anyone may choose: shifts are looked at this far ahead (and a day more,
# so a stretch cut by the window's edge is never taken for a real end).
MAX_LEAD = timedelta(minutes=max(minutes for minutes, _ in REMINDER_LEADS))


def shift_reminder_set(
    *,
    user: User,
    before_start: int | None,
    before_end: int | None,
    slack_user_id: str | None = None,
) -> ShiftReminderSetting:
    """Save a person's leads (minutes; None: off) and, when given, their Slack member id
    (the on-call Slack group names them by it; "" clears it)."""
    with transaction.atomic():
        if slack_user_id is not None and slack_user_id != user.slack_user_id:
            field = User._meta.get_field("slack_user_id")
            try:
                field.run_validators(slack_user_id)
            except ValidationError as error:
                raise ValidationError({"slack_user_id": error.messages}) from error
            user.slack_user_id = slack_user_id
            user.save(update_fields=["slack_user_id"])
        setting, _ = ShiftReminderSetting.objects.select_for_update().get_or_create(user=user)
        setting.before_start = before_start
        setting.before_end = before_end
        setting.full_clean(exclude=["user"])
        setting.save()
    return setting


def shift_reminder_get(*, user: User) -> ShiftReminderSetting:
    """The person's settings (the defaults, unsaved, when they never chose)."""
    found = ShiftReminderSetting.objects.filter(user=user).first()
    return found or ShiftReminderSetting(user=user)


@dataclass(frozen=True)
class Stretch:
    """One person on call for one rotation without a break: adjacent segments (working
    windows, override pieces) of the same person merged."""

    rotation: Rotation
    user: User
    start: datetime
    end: datetime


def _stretches(
    rotation: Rotation, overrides: list[Override], lo: datetime, hi: datetime
) -> list[Stretch]:
    spec = rotation_spec(rotation)
    people = users_of(rotation, overrides)
    merged: list[list[Any]] = []
    for seg in resolver.shifts_between(spec, override_specs(overrides), lo, hi):
        if merged and merged[-1][0] == seg.user and merged[-1][2] == seg.start:
            merged[-1][2] = seg.end
        else:
            merged.append([seg.user, seg.start, seg.end])
    return [
        Stretch(rotation, people[user_id], start, end)
        for user_id, start, end in merged
        if user_id in people
    ]


def _when(at: datetime, person: User) -> str:
    return f"{at.astimezone(person.tzinfo):%a %H:%M %Z}"


def reminder_words(stretch: Stretch, kind: str, horizon: datetime) -> tuple[str, str]:
    """Subject and body of a reminder, in the person's own zone (a stretch reaching the
    horizon looked at has no known end)."""
    label, person = stretch.rotation.label, stretch.user
    if kind == START:
        line = f"You go on call for {label} at {_when(stretch.start, person)}"
        more = f"until {_when(stretch.end, person)}." if stretch.end < horizon else "."
    else:
        line = f"Your on-call shift for {label} ends at {_when(stretch.end, person)}"
        more = "Write your handoff notes and submit your on-call report."
    return line, f"{line}{', ' if more != '.' else ''}{more}"


def reminder_key(stretch: Stretch, kind: str) -> str:
    at = stretch.start if kind == START else stretch.end
    return (
        f"shift-reminder:{stretch.rotation.pk}:user{stretch.user.pk}:"
        f"{at.strftime('%Y%m%dT%H%M%SZ')}:{kind}"
    )


def shift_reminders_send(*, now: datetime) -> int:
    """How many reminders are due now; the outbox writes each once (its key): a stretch starting within its
    person's lead before the start (and not started yet), or ending within the lead before the
    end. Queries: rotations and members, overrides, settings, then the outbox's own."""
    hi = now + MAX_LEAD + timedelta(days=1)
    rotations = list(rotations_with_members(Rotation.objects.all()))
    overrides = overrides_between([r.pk for r in rotations], now, hi)
    stretches = [
        stretch
        for rotation in rotations
        for stretch in _stretches(rotation, overrides[rotation.pk], now, hi)
    ]
    chosen = {
        s.user_id: s
        for s in ShiftReminderSetting.objects.filter(
            user_id__in={stretch.user.pk for stretch in stretches}
        )
    }
    pages: list[Page] = []
    for stretch in stretches:
        if not stretch.user.is_active:
            continue
        setting = chosen.get(stretch.user.pk)
        leads = {
            START: setting.before_start if setting else DEFAULT_BEFORE_START,
            END: setting.before_end if setting else DEFAULT_BEFORE_END,
        }
        for kind, at in ((START, stretch.start), (END, stretch.end)):
            minutes = leads[kind]
            if minutes is None or not (at - timedelta(minutes=minutes) <= now < at):
                continue
            if kind == START and stretch.start <= now:
                continue
            subject, body = reminder_words(stretch, kind, hi)
            pages.append(
                Page(
                    user=stretch.user,
                    urgency=Urgency.LOW,
                    subject_type=SUBJECT_TYPE,
                    subject_id=stretch.rotation.pk,
                    key=reminder_key(stretch, kind),
                    subject=subject,
                    body=body,
                    reason=f"shift reminder for {stretch.rotation.label}",
                )
            )
    if pages:
        with transaction.atomic():
            notifications_page_many(pages)
    return len(pages)


def reminder_acknowledge_by_page(
    *, subject_id: int, user: User | None, channel: str, notification: Notification
) -> None:
    """The ack link of a reminder: nothing to record (the outbox stops its other copies)."""


def reminder_describe(*, subject_id: int, notification: Notification) -> AckSubject:
    return AckSubject(
        kind="Shift reminder",
        title=notification.subject,
        url=settings.SITE_URL + reverse("rotations:my-shifts"),
        state="Acknowledging stops the other copies of this reminder.",
    )
