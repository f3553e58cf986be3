"""Writes to rotations: overrides (cover and swap), feed tokens, configuration through the API."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from oncall.models import User
from oncall.roles import is_manager
from rotations import callbacks
from rotations.models import (
    OVERRIDE_REQUEST_TRANSITIONS,
    POLICY_FIELDS,
    EscalationPolicy,
    EscalationStep,
    Override,
    OverrideRequest,
    OverrideRequestKind,
    OverrideRequestStatus,
    PersonalFeed,
    Rotation,
    RotationMember,
    Team,
    Tier,
    new_feed_token,
)
from rotations.selectors import DoubleBooking, team_bookings_of, user_holds_window

DOUBLE_BOOKING = "double_booking"
NEW_TIER_ON_VETERAN = "new_tier_on_veteran"
OVERRIDE_NOT_PERMITTED = "override_not_permitted"
OVERRIDE_TOO_LONG = "override_too_long"
NOT_YOUR_SHIFT = "not_your_shift"
NOT_THEIR_SHIFT = "not_their_shift"
SWAP_NEEDS_ACCEPTANCE = "swap_needs_acceptance"
REQUEST_EXPIRED = "request_expired"
REQUEST_STALE = "request_stale"
REQUEST_NOT_PENDING = "request_not_pending"
NOT_A_PARTY = "not_a_party"


class OverrideNotPermitted(PermissionDenied):
    """A refusal of an override or a request, with the code the API shows."""

    def __init__(self, message: str, code: str = OVERRIDE_NOT_PERMITTED) -> None:
        super().__init__(message)
        self.code = code


def _on_team(person: User, rotation: Rotation) -> bool:
    return rotation.team.members.filter(pk=person.pk).exists()


def override_permitted(
    *, actor: User, rotation: Rotation, user: User, replaces: User | None
) -> bool:
    """Managers change anyone's shifts; others only hand over (or take back) their own: the
    override must name them as the one replaced (its window is checked by
    `override_permission_check`)."""
    if is_manager(actor):
        return True
    return replaces is not None and replaces.pk == actor.pk and _on_team(actor, rotation)


def override_max_length() -> timedelta:
    return timedelta(days=settings.OVERRIDE_MAX_DAYS)


def override_length_check(
    *, actor: User, start: datetime, end: datetime, field: str = "end"
) -> None:
    """Overrides longer than OVERRIDE_MAX_DAYS are for Managers only."""
    longest = override_max_length()
    if is_manager(actor) or end - start <= longest:
        return
    raise ValidationError(
        {
            field: ValidationError(
                f"An override may last at most {longest.days} days; this one lasts "
                f"{(end - start).days} days. Ask a manager for a longer one.",
                code=OVERRIDE_TOO_LONG,
            )
        }
    )


def override_permission_check(
    *,
    actor: User,
    rotation: Rotation,
    user: User,
    replaces: User | None,
    start: datetime,
    end: datetime,
    ignore_override_ids: tuple[int, ...] = (),
) -> None:
    """The one rule of who may make an override directly (admin, portal, API).

    A Manager may make any. Anyone else only hands over their own shift: they are the one
    replaced, the window lies within their own shifts on the rotation (overrides applied)
    and lasts at most OVERRIDE_MAX_DAYS. Covering a teammate's shift or a swap is a request
    the other person accepts (`override_request_create`).
    """
    if is_manager(actor):
        return
    if not _on_team(actor, rotation):
        raise OverrideNotPermitted(
            f"Only the people of {rotation.team.name} (or a manager) change its shifts."
        )
    if replaces is None or replaces.pk != actor.pk:
        raise OverrideNotPermitted(
            "You may only hand over your own shifts (you are the one replaced). To cover a "
            "teammate's shift, ask them with a cover request; a manager may change anyone's.",
            code=NOT_YOUR_SHIFT,
        )
    override_length_check(actor=actor, start=start, end=end)
    if end <= start:
        return  # the model's clean words a reversed window
    if not user_holds_window(
        user_id=actor.pk,
        rotation=rotation,
        start=start,
        end=end,
        ignore_override_ids=ignore_override_ids,
    ):
        raise OverrideNotPermitted(
            f"You are not on call on {rotation.label} for all of {_when(start, rotation)} to "
            f"{_when(end, rotation)}: you may only hand over your own shifts.",
            code=NOT_YOUR_SHIFT,
        )


def _when(at: datetime, rotation: Rotation) -> str:
    local = at.astimezone(rotation.tzinfo)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def role_label(rotation: Rotation) -> str:
    """'Veteran secondary', or the rotation's own name."""
    if rotation.name:
        return rotation.name
    tier = f"{rotation.get_tier_display()} " if rotation.tier != Tier.NONE else ""
    return f"{tier}{rotation.get_position_display().lower()}".capitalize()


def double_booking_message(user: User, rotation: Rotation, bookings: list[DoubleBooking]) -> str:
    first = bookings[0]
    more = f" (and {len(bookings) - 1} more stretch(es))" if len(bookings) > 1 else ""
    return (
        f"{user} would be on call twice in {rotation.team.name} at once: as {role_label(rotation)} "
        f"and as {role_label(first.rotation)} from {_when(first.start, rotation)} to "
        f"{_when(first.end, rotation)}{more}. Choose someone else, or a manager confirms "
        "the double booking."
    )


def override_rules_check(
    *,
    rotation: Rotation,
    user: User,
    start: datetime,
    end: datetime,
    actor: User | None,
    confirm_double_booking: bool = False,
    ignore_override_ids: tuple[int, ...] = (),
) -> None:
    """The team-wide rules an override must keep (every door: admin, portal, API).

    - A new-tier engineer covers a veteran shift only if they are on that veteran list.
    - Nobody holds two positions of one team at once (veteran primary and secondary, or
      veteran and new tier) unless a Manager confirms it explicitly.
    `actor` None means the caller has already checked that a manager acts (the admin).
    """
    on_list = rotation.pk is not None and rotation.members.filter(user=user).exists()
    if rotation.tier == Tier.VETERAN and rotation.team_id is not None and not on_list:
        new_tier = RotationMember.objects.filter(
            rotation__team_id=rotation.team_id, rotation__tier=Tier.NEW, user=user
        ).exists()
        if new_tier:
            raise ValidationError(
                {
                    "user": ValidationError(
                        f"{user} is on the new tier and not on the list of {rotation.label}: "
                        "a new-tier engineer covers a veteran shift only as a member of "
                        "that rotation.",
                        code=NEW_TIER_ON_VETERAN,
                    )
                }
            )
    bookings = team_bookings_of(
        user_id=user.pk,
        rotation=rotation,
        start=start,
        end=end,
        ignore_override_ids=ignore_override_ids,
    )
    if not bookings:
        return
    manager = actor is None or is_manager(actor)
    if confirm_double_booking and manager:
        return
    message = double_booking_message(user, rotation, bookings)
    if confirm_double_booking:
        message += " Only a manager may confirm a double booking."
    raise ValidationError({"user": ValidationError(message, code=DOUBLE_BOOKING)})


def _override_check(
    *,
    rotation: Rotation,
    user: User,
    replaces: User | None,
    actor: User,
    start: datetime,
    end: datetime,
    confirm_double_booking: bool,
    ignore_override_ids: tuple[int, ...] = (),
    team_rules: bool = True,
    check_permission: bool = True,
) -> None:
    """What an override must satisfy beyond the model's own checks (overlaps, end > start).

    `check_permission` False: the caller has established it (an accepted request)."""
    if check_permission:
        override_permission_check(
            actor=actor,
            rotation=rotation,
            user=user,
            replaces=replaces,
            start=start,
            end=end,
            ignore_override_ids=ignore_override_ids,
        )
    if not _on_team(user, rotation):
        raise ValidationError({"user": f"{user} is not a member of the team {rotation.team.name}."})
    if team_rules and end > start:  # the model's clean words a reversed window
        override_rules_check(
            rotation=rotation,
            user=user,
            start=start,
            end=end,
            actor=actor,
            confirm_double_booking=confirm_double_booking,
            ignore_override_ids=ignore_override_ids,
        )


def _override_build(
    *,
    rotation: Rotation,
    user: User,
    start: datetime,
    end: datetime,
    replaces: User | None,
    reason: str,
    actor: User,
    confirm_double_booking: bool,
    check_permission: bool = True,
) -> Override:
    override = Override(
        rotation=rotation,
        user=user,
        start=start,
        end=end,
        replaces=replaces,
        reason=reason,
        created_by=actor,
    )
    _override_check(
        rotation=rotation,
        user=user,
        replaces=replaces,
        actor=actor,
        start=start,
        end=end,
        confirm_double_booking=False,
        team_rules=False,
        check_permission=check_permission,
    )
    override.full_clean()  # overlaps and a reversed window are told before the team rules
    override_rules_check(
        rotation=rotation,
        user=user,
        start=start,
        end=end,
        actor=actor,
        confirm_double_booking=confirm_double_booking,
    )
    override.save()
    return override


def override_create(
    *,
    rotation: Rotation,
    user: User,
    start: datetime,
    end: datetime,
    actor: User,
    replaces: User | None = None,
    reason: str = "",
    confirm_double_booking: bool = False,
) -> Override:
    """`user` covers `rotation` from `start` to `end` (replacing `replaces`, if given).

    The colleague it concerns (whoever of `user` and `replaces` is not the actor) is told
    after commit through the override listeners (the notifications app sends the email).
    """
    with transaction.atomic():
        # Serialise overrides per rotation so two overlapping ones cannot both pass the check.
        Rotation.objects.select_for_update().filter(pk=rotation.pk).first()
        override = _override_build(
            rotation=rotation,
            user=user,
            start=start,
            end=end,
            replaces=replaces,
            reason=reason,
            actor=actor,
            confirm_double_booking=confirm_double_booking,
        )
        transaction.on_commit(lambda: callbacks.overrides_made([override], actor))
        return override


def override_update(
    *,
    override: Override,
    actor: User,
    rotation: Rotation,
    user: User,
    start: datetime,
    end: datetime,
    replaces: User | None,
    reason: str,
    confirm_double_booking: bool = False,
) -> Override:
    """Change an override to these values, checked as `override_create` checks a new one.

    Only someone who may remove the override may change it (its creator stays recorded).
    """
    if not override_permitted(
        actor=actor, rotation=override.rotation, user=override.user, replaces=override.replaces
    ):
        raise OverrideNotPermitted("You may only change overrides of your own shifts.")
    with transaction.atomic():
        # create's lock, on each rotation involved (in id order, so two updates cannot deadlock).
        rotation_ids = {override.rotation_id, rotation.pk}
        list(Rotation.objects.select_for_update().filter(pk__in=rotation_ids).order_by("pk"))
        _override_check(
            rotation=rotation,
            user=user,
            replaces=replaces,
            actor=actor,
            start=start,
            end=end,
            confirm_double_booking=confirm_double_booking,
            ignore_override_ids=(override.pk,),
        )
        override.rotation, override.user, override.replaces = rotation, user, replaces
        override.start, override.end, override.reason = start, end, reason
        override.full_clean()
        override.save(update_fields=["rotation", "user", "replaces", "start", "end", "reason"])
    return override


def override_swap(
    *,
    rotation: Rotation,
    actor: User,
    first: User,
    first_window: tuple[datetime, datetime],
    second: User,
    second_window: tuple[datetime, datetime],
    reason: str = "",
    confirm_double_booking: bool = False,
) -> tuple[Override, Override]:
    """Two people trade shifts: `second` covers `first_window`, `first` covers `second_window`.

    Managers only: anyone else asks the other person (`override_request_create`)."""
    if not is_manager(actor):
        raise OverrideNotPermitted(
            "A swap needs the other person's acceptance: send them a swap request.",
            code=SWAP_NEEDS_ACCEPTANCE,
        )
    reason = reason or f"Swap between {first} and {second}"
    with transaction.atomic():
        Rotation.objects.select_for_update().filter(pk=rotation.pk).first()
        one = _override_build(
            rotation=rotation,
            user=second,
            start=first_window[0],
            end=first_window[1],
            replaces=first,
            reason=reason,
            actor=actor,
            confirm_double_booking=confirm_double_booking,
        )
        two = _override_build(
            rotation=rotation,
            user=first,
            start=second_window[0],
            end=second_window[1],
            replaces=second,
            reason=reason,
            actor=actor,
            confirm_double_booking=confirm_double_booking,
        )
        transaction.on_commit(lambda: callbacks.overrides_made([one, two], actor))
        return one, two


def override_delete(*, override: Override, actor: User) -> None:
    """Managers remove any override; anyone else only one that replaced them (they take
    their own shift back)."""
    if not override_permitted(
        actor=actor, rotation=override.rotation, user=override.user, replaces=override.replaces
    ):
        raise OverrideNotPermitted("You may only remove overrides of your own shifts.")
    override.delete()


# --- Requests: a cover of a teammate's shift, or a swap, waits for their answer -----------


def _request_overrides(request: OverrideRequest, actor: User) -> list[Override]:
    """The override(s) accepting `request` makes, unsaved."""
    reason = request.reason or (
        f"Swap between {request.requester} and {request.recipient}"
        if request.is_swap
        else f"Cover asked by {request.requester}"
    )
    if not request.is_swap:
        pairs = [(request.requester, request.recipient, request.start, request.end)]
    else:
        assert request.swap_start is not None
        assert request.swap_end is not None
        pairs = [
            (request.recipient, request.requester, request.start, request.end),
            (request.requester, request.recipient, request.swap_start, request.swap_end),
        ]
    return [
        Override(
            rotation=request.rotation,
            user=user,
            replaces=replaces,
            start=start,
            end=end,
            reason=reason,
            created_by=actor,
        )
        for user, replaces, start, end in pairs
    ]


def _request_shifts_check(request: OverrideRequest) -> None:
    """Each shift the request hands over still belongs to the one who hands it over."""
    rotation = request.rotation
    for override in _request_overrides(request, request.requester):
        owner = override.replaces
        assert owner is not None
        if user_holds_window(
            user_id=owner.pk, rotation=rotation, start=override.start, end=override.end
        ):
            continue
        mine = owner.pk == request.requester_id
        field = "start" if override.start == request.start else "swap_start"
        who = "You are" if mine else f"{owner} is"
        raise ValidationError(
            {
                field: ValidationError(
                    f"{who} not on call on {rotation.label} for all of "
                    f"{_when(override.start, rotation)} to {_when(override.end, rotation)}.",
                    code=NOT_YOUR_SHIFT if mine else NOT_THEIR_SHIFT,
                )
            }
        )


def override_request_create(
    *,
    rotation: Rotation,
    requester: User,
    recipient: User,
    kind: str,
    start: datetime,
    end: datetime,
    swap_start: datetime | None = None,
    swap_end: datetime | None = None,
    reason: str = "",
) -> OverrideRequest:
    """Ask `recipient` to let `requester` cover their shift (cover) or to trade shifts
    (swap); they are told through the outbox and accept or decline."""
    if not _on_team(requester, rotation):
        raise OverrideNotPermitted(f"Only the people of {rotation.team.name} ask for its shifts.")
    if not _on_team(recipient, rotation):
        raise ValidationError(
            {"recipient": f"{recipient} is not a member of the team {rotation.team.name}."}
        )
    request = OverrideRequest(
        rotation=rotation,
        kind=kind,
        requester=requester,
        recipient=recipient,
        start=start,
        end=end,
        swap_start=swap_start,
        swap_end=swap_end,
        reason=reason,
    )
    request.full_clean()
    if request.first_start <= timezone.now():
        raise ValidationError(
            {"start": ValidationError("That shift has already begun.", code=REQUEST_EXPIRED)}
        )
    override_length_check(actor=requester, start=start, end=end)
    if swap_start is not None and swap_end is not None:
        override_length_check(actor=requester, start=swap_start, end=swap_end, field="swap_end")
    with transaction.atomic():
        Rotation.objects.select_for_update().filter(pk=rotation.pk).first()
        _request_shifts_check(request)
        for override in _request_overrides(request, requester):
            override.full_clean()  # an overlap with another override is told now
            override_rules_check(
                rotation=rotation,
                user=override.user,
                start=override.start,
                end=override.end,
                actor=requester,
            )
        request.save()
        transaction.on_commit(lambda: callbacks.override_request_changed(request, requester))
    return request


def override_request_transition(
    *, request: OverrideRequest, to: str, actor: User | None
) -> OverrideRequest:
    """The one place a request's status changes (OVERRIDE_REQUEST_TRANSITIONS)."""
    if to not in OVERRIDE_REQUEST_TRANSITIONS.get(request.status, frozenset()):
        raise ValidationError(
            f"This request is {request.get_status_display().lower()}; it can no longer be "
            f"{OverrideRequestStatus(to).label.lower()}.",
            code=REQUEST_NOT_PENDING,
        )
    request.status = to
    request.decided_at = timezone.now()
    request.decided_by = actor
    request.save(update_fields=["status", "decided_at", "decided_by"])
    return request


def _request_locked(request: OverrideRequest) -> OverrideRequest:
    """The request re-read under the rotation's lock (another answer may have come first)."""
    Rotation.objects.select_for_update().filter(pk=request.rotation_id).first()
    return (
        OverrideRequest.objects.select_for_update()
        .select_related("rotation__team", "requester", "recipient")
        .get(pk=request.pk)
    )


def _request_expiry(request: OverrideRequest) -> ValidationError | None:
    if request.status == OverrideRequestStatus.PENDING and request.first_start <= timezone.now():
        return ValidationError(
            f"This request has expired: its shift began {_when(request.first_start, request.rotation)}.",
            code=REQUEST_EXPIRED,
        )
    return None


def _answer(
    request: OverrideRequest, *, actor: User, to: str, party_id: int, party: str
) -> OverrideRequest:
    """Decline or cancel (by `party_id` or a manager); a started request expires instead."""
    if actor.pk != party_id and not is_manager(actor):
        raise OverrideNotPermitted(
            f"Only the request's {party} (or a manager) may do that.", code=NOT_A_PARTY
        )
    with transaction.atomic():
        request = _request_locked(request)
        expired = _request_expiry(request)
        override_request_transition(
            request=request, to=OverrideRequestStatus.EXPIRED if expired else to, actor=actor
        )
        if not expired:
            transaction.on_commit(lambda: callbacks.override_request_changed(request, actor))
    if expired is not None:
        raise expired
    return request


def override_request_decline(*, request: OverrideRequest, actor: User) -> OverrideRequest:
    return _answer(
        request,
        actor=actor,
        to=OverrideRequestStatus.DECLINED,
        party_id=request.recipient_id,
        party="recipient",
    )


def override_request_cancel(*, request: OverrideRequest, actor: User) -> OverrideRequest:
    return _answer(
        request,
        actor=actor,
        to=OverrideRequestStatus.CANCELLED,
        party_id=request.requester_id,
        party="requester",
    )


def override_request_accept(*, request: OverrideRequest, actor: User) -> list[Override]:
    """The recipient (or a manager) accepts: everything is checked again under the rotation's
    lock and the override(s) are made. A request whose shift has begun, or whose shifts
    changed hands since, expires and is refused; a rule it now breaks (double booking,
    overlap) is refused and the request stays pending."""
    if actor.pk != request.recipient_id and not is_manager(actor):
        raise OverrideNotPermitted(
            "Only the request's recipient (or a manager) may accept it.", code=NOT_A_PARTY
        )
    refusal: ValidationError | None = None
    with transaction.atomic():
        request = _request_locked(request)
        if request.status != OverrideRequestStatus.PENDING:
            override_request_transition(
                request=request, to=OverrideRequestStatus.ACCEPTED, actor=actor
            )  # raises: it was answered already
        refusal = _request_expiry(request)
        if refusal is None:
            try:
                _request_shifts_check(request)
            except ValidationError as error:
                refusal = ValidationError(
                    "The shifts of this request changed hands since it was sent: "
                    + " ".join(error.messages),
                    code=REQUEST_STALE,
                )
        if refusal is not None:
            override_request_transition(
                request=request, to=OverrideRequestStatus.EXPIRED, actor=actor
            )
        else:
            overrides = [
                _override_build(
                    rotation=request.rotation,
                    user=override.user,
                    start=override.start,
                    end=override.end,
                    replaces=override.replaces,
                    reason=override.reason,
                    actor=actor,
                    confirm_double_booking=False,
                    check_permission=False,  # the request, re-checked above, permits it
                )
                for override in _request_overrides(request, actor)
            ]
            override_request_transition(
                request=request, to=OverrideRequestStatus.ACCEPTED, actor=actor
            )
            transaction.on_commit(lambda: callbacks.override_request_changed(request, actor))
    if refusal is not None:
        raise refusal
    return overrides


def override_make_or_ask(
    *,
    actor: User,
    rotation: Rotation,
    kind: str,
    user: User,
    replaces: User | None,
    start: datetime,
    end: datetime,
    swap_start: datetime | None = None,
    swap_end: datetime | None = None,
    reason: str = "",
    confirm_double_booking: bool = False,
) -> list[Override] | OverrideRequest:
    """The portal's cover and swap forms. A manager's change, or a hand-over of one's own
    shift, is made at once; anyone else's cover of a teammate's shift, or swap, becomes a
    request to that teammate. `kind` cover: `user` covers `replaces`; swap: `user` takes
    `replaces`' window and `replaces` takes `user`'s swap window."""
    swap = kind == OverrideRequestKind.SWAP
    if is_manager(actor):
        if swap:
            assert replaces is not None
            assert swap_start is not None
            assert swap_end is not None
            return list(
                override_swap(
                    rotation=rotation,
                    actor=actor,
                    first=replaces,
                    first_window=(start, end),
                    second=user,
                    second_window=(swap_start, swap_end),
                    reason=reason,
                    confirm_double_booking=confirm_double_booking,
                )
            )
    elif swap:
        assert swap_start is not None
        assert swap_end is not None
        if replaces is not None and replaces.pk == actor.pk:  # I give start–end
            recipient, mine, theirs = user, (start, end), (swap_start, swap_end)
        elif user.pk == actor.pk and replaces is not None:  # I give the swap window
            recipient, mine, theirs = replaces, (swap_start, swap_end), (start, end)
        else:
            raise OverrideNotPermitted(
                "You may only swap your own shifts; a manager may swap anyone's.",
                code=NOT_YOUR_SHIFT,
            )
        return override_request_create(
            rotation=rotation,
            requester=actor,
            recipient=recipient,
            kind=kind,
            start=mine[0],
            end=mine[1],
            swap_start=theirs[0],
            swap_end=theirs[1],
            reason=reason,
        )
    elif user.pk == actor.pk and replaces is not None and replaces.pk != actor.pk:
        return override_request_create(
            rotation=rotation,
            requester=actor,
            recipient=replaces,
            kind=kind,
            start=start,
            end=end,
            reason=reason,
        )
    return [
        override_create(
            rotation=rotation,
            user=user,
            start=start,
            end=end,
            replaces=replaces,
            reason=reason,
            actor=actor,
            confirm_double_booking=confirm_double_booking,
        )
    ]


def override_requests_expire() -> int:
    """Pending requests whose first shift has begun become expired (lists call it first)."""
    assert (
        OverrideRequestStatus.EXPIRED in OVERRIDE_REQUEST_TRANSITIONS[OverrideRequestStatus.PENDING]
    )
    now = timezone.now()
    return (
        OverrideRequest.objects.filter(status=OverrideRequestStatus.PENDING)
        .filter(Q(start__lte=now) | Q(swap_start__lte=now))
        .update(status=OverrideRequestStatus.EXPIRED, decided_at=now)
    )


def rotation_feed_rotate(*, rotation: Rotation) -> Rotation:
    """A new secret for the rotation's iCal feed; the old URL stops working."""
    rotation.ical_token = new_feed_token()
    rotation.save(update_fields=["ical_token"])
    return rotation


def personal_feed_get(*, user: User) -> PersonalFeed:
    feed, _ = PersonalFeed.objects.get_or_create(user=user)
    return feed


def personal_feed_rotate(*, user: User) -> PersonalFeed:
    """A new secret for the person's iCal feed; the old URL stops working."""
    feed = personal_feed_get(user=user)
    feed.token = new_feed_token()
    feed.save(update_fields=["token"])
    return feed


def active_users(ids: list[int], field: str) -> list[User]:
    """The active users with these ids, in the given order; an error naming `field` otherwise."""
    found = User.objects.filter(pk__in=ids, is_active=True).in_bulk()
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(
            {field: f"No active person has the id {', '.join(map(str, missing))}."}
        )
    return [found[i] for i in ids]


def active_user(user_id: int | None, field: str) -> User | None:
    return None if user_id is None else active_users([user_id], field)[0]


# --- Configuration writes (the API's; the admin uses its own forms) ---------------------
# Each runs full_clean in one transaction, so a refused write stores nothing; errors name
# the field as the API shows it (e.g. "steps.2.rotation").

_UNSET: Any = object()


def _clean(instance: Any, prefix: str | None = None) -> None:
    """full_clean, with the errors under `prefix` (e.g. steps.2) when given."""
    try:
        instance.full_clean()
    except ValidationError as error:
        if prefix is None:
            raise
        detail = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
        raise ValidationError(
            {
                f"{prefix}.{field}" if field else prefix: messages
                for field, messages in detail.items()
            }
        ) from error


def team_policies(data: dict[str, Any]) -> dict[str, EscalationPolicy | None]:
    """The policy references in `data` (ids or None) as policies, in one query; an error
    naming the field for an id that is no policy. Team.clean checks they are the team's."""
    ids = {field: data[field] for field in POLICY_FIELDS if field in data}
    found = EscalationPolicy.objects.in_bulk([i for i in ids.values() if i is not None])
    errors = {
        field: f"There is no escalation policy with the id {policy_id}."
        for field, policy_id in ids.items()
        if policy_id is not None and policy_id not in found
    }
    if errors:
        raise ValidationError(errors)
    return {field: found.get(policy_id) if policy_id else None for field, policy_id in ids.items()}


def team_write(*, team: Team, data: dict[str, Any]) -> Team:
    """Create (`team` unsaved) or change a team; its policy references are policy ids."""
    data = dict(data)
    if "escalation_contact" in data:
        team.escalation_contact = active_user(data.pop("escalation_contact"), "escalation_contact")
    for field, policy in team_policies(data).items():
        data.pop(field)
        setattr(team, field, policy)
    for name, value in data.items():
        setattr(team, name, value)
    with transaction.atomic():
        team.full_clean()
        team.save()
    return team


def rotation_write(*, rotation: Rotation, data: dict[str, Any]) -> Rotation:
    """Create or change a rotation; `members` replaces the ordered list (joining the team)."""
    data = dict(data)
    member_ids = data.pop("members", None)
    members = active_users(member_ids, "members") if member_ids is not None else None
    hours = data.pop("working_hours", _UNSET)
    if hours is None:
        rotation.working_days, rotation.working_hours_timezone = [], ""
        rotation.working_hours_start = rotation.working_hours_end = None
    elif hours is not _UNSET:
        rotation.working_days = sorted(set(hours.get("days") or []))
        rotation.working_hours_start, rotation.working_hours_end = hours["start"], hours["end"]
        rotation.working_hours_timezone = hours.get("timezone") or ""
    for name, value in data.items():
        setattr(rotation, name, value)
    with transaction.atomic():
        rotation.full_clean()
        rotation.save()
        if members is not None:
            RotationMember.objects.filter(rotation=rotation).delete()
            # One save per member (a list is a handful of people): bulk_create sends no
            # signals, so the audit trail would see the old list go and no new one come.
            for index, user in enumerate(members):
                RotationMember.objects.create(rotation=rotation, user=user, position=index)
        else:
            members = [m.user for m in rotation.members.select_related("user")]
        # The list holds only team members; whoever is put on it joins the team.
        rotation.team.members.add(*members)
    return rotation


def _policy_step_targets(
    steps: list[dict[str, Any]],
) -> tuple[dict[int, Rotation], dict[int, User]]:
    rotation_ids = {s["rotation"] for s in steps if s.get("rotation") is not None}
    rotations = Rotation.objects.select_related("team").in_bulk(rotation_ids)
    user_ids = {u for s in steps for u in s.get("users") or []}
    users = User.objects.filter(is_active=True).in_bulk(user_ids)
    errors: dict[str, str] = {}
    for index, step in enumerate(steps):
        if step.get("rotation") is not None and step["rotation"] not in rotations:
            errors[f"steps.{index}.rotation"] = (
                f"There is no rotation with the id {step['rotation']}."
            )
        missing = [u for u in step.get("users") or [] if u not in users]
        if missing:
            errors[f"steps.{index}.users"] = f"No active person has the id {missing[0]}."
    if errors:
        raise ValidationError(errors)
    return rotations, users


def escalation_policy_write(*, policy: EscalationPolicy, data: dict[str, Any]) -> EscalationPolicy:
    """Create or change a policy; `steps` replaces every step, in the order given."""
    data = dict(data)
    steps = data.pop("steps", None)
    rotations, users = _policy_step_targets(steps) if steps is not None else ({}, {})
    team_changed = "team" in data and policy.pk is not None and data["team"] != policy.team
    for name, value in data.items():
        setattr(policy, name, value)
    with transaction.atomic():
        policy.full_clean()
        policy.save()
        if steps is None:
            if team_changed:  # the kept steps must still fit the new team
                for index, kept in enumerate(policy.steps.select_related("rotation__team")):
                    _clean(kept, f"steps.{index}")
            return policy
        policy.steps.all().delete()
        for index, step in enumerate(steps):
            row = EscalationStep(
                policy=policy,
                position=index,
                action=step["action"],
                rotation=rotations.get(step.get("rotation") or 0),
                wait=step.get("wait", timedelta(minutes=10)),
            )
            _clean(row, f"steps.{index}")
            row.save()
            if step.get("users"):
                row.users.set([users[u] for u in step["users"]])
    return policy
