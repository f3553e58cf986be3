"""Writes to rotations: overrides (cover and swap), feed tokens. One function per use case."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from oncall.models import User
from oncall.roles import is_manager
from rotations.models import Override, PersonalFeed, Rotation, new_feed_token


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


def _override_build(
    *,
    rotation: Rotation,
    user: User,
    start: datetime,
    end: datetime,
    replaces: User | None,
    reason: str,
    actor: User,
) -> Override:
    if not override_permitted(actor=actor, rotation=rotation, user=user, replaces=replaces):
        raise PermissionDenied(
            "You may only cover or hand over your own shifts; a manager may change anyone's."
        )
    if not rotation.team.members.filter(pk=user.pk).exists():
        raise ValidationError({"user": f"{user} is not a member of the team {rotation.team.name}."})
    override = Override(
        rotation=rotation,
        user=user,
        start=start,
        end=end,
        replaces=replaces,
        reason=reason,
        created_by=actor,
    )
    override.full_clean()
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
) -> Override:
    """`user` covers `rotation` from `start` to `end` (replacing `replaces`, if given)."""
    with transaction.atomic():
        # Serialise overrides per rotation so two overlapping ones cannot both pass the check.
        Rotation.objects.select_for_update().filter(pk=rotation.pk).first()
        return _override_build(
            rotation=rotation,
            user=user,
            start=start,
            end=end,
            replaces=replaces,
            reason=reason,
            actor=actor,
        )


def override_swap(
    *,
    rotation: Rotation,
    actor: User,
    first: User,
    first_window: tuple[datetime, datetime],
    second: User,
    second_window: tuple[datetime, datetime],
    reason: str = "",
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
        )
        two = _override_build(
            rotation=rotation,
            user=first,
            start=second_window[0],
            end=second_window[1],
            replaces=second,
            reason=reason,
            actor=actor,
        )
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
