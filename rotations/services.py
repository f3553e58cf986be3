"""Writes to rotations: overrides (cover and swap), feed tokens, configuration through the API."""

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from oncall.models import User
from oncall.roles import is_manager
from rotations import callbacks
from rotations.models import (
    POLICY_FIELDS,
    EscalationPolicy,
    EscalationStep,
    Override,
    PersonalFeed,
    Rotation,
    RotationMember,
    Team,
    Tier,
    new_feed_token,
)
from rotations.selectors import DoubleBooking, team_bookings_of

DOUBLE_BOOKING = "double_booking"
NEW_TIER_ON_VETERAN = "new_tier_on_veteran"


def override_permitted(
    *, actor: User, rotation: Rotation, user: User, replaces: User | None
) -> bool:
    """Managers change anyone's shifts; others only cover or hand over their own."""
    if is_manager(actor):
        return True
    return (
        actor.pk in (user.pk, replaces.pk if replaces else None)
        and rotation.team.members.filter(pk=actor.pk).exists()
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
) -> None:
    """What an override must satisfy beyond the model's own checks (overlaps, end > start)."""
    if not override_permitted(actor=actor, rotation=rotation, user=user, replaces=replaces):
        raise PermissionDenied(
            "You may only cover or hand over your own shifts; a manager may change anyone's."
        )
    if not rotation.team.members.filter(pk=user.pk).exists():
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
        raise PermissionDenied("You may only change overrides of your own shifts.")
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
    """Two people trade shifts: `second` covers `first_window`, `first` covers `second_window`."""
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
    if not override_permitted(
        actor=actor, rotation=override.rotation, user=override.user, replaces=override.replaces
    ):
        raise PermissionDenied("You may only remove overrides of your own shifts.")
    override.delete()


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
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=user, position=index)
                for index, user in enumerate(members)
            )
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
