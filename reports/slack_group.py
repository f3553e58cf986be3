"""The team's on-call Slack group (issue 15 point 6; handbook 001: the on-call "takes over
the on-call Slack group at shift start").

At every handoff the shift-start task sets each team's `Team.slack_usergroup_id` to the
people on call on its tiered rotations now, through the outbox (channel `slack_group`:
`usergroups.users.update` with SLACK_BOT_TOKEN, retried on 429 after Retry-After). One row
per team, handoff and set of people (its key), so a second beat sends nothing and an override
that changes who is on call sends a new one. A person without a Slack user id makes the row
fail visibly (the outbox, the admin), naming them; the group is then left as it was.
"""

import hashlib
from datetime import datetime

from notifications.models import Channel, Notification, Urgency
from notifications.services import notifications_enqueue_many
from oncall.models import User
from rotations import resolver
from rotations.models import Rotation, Team, Tier
from rotations.selectors import oncall_for_rotations, rotation_spec, rotations_with_members


def _handoff(rotation: Rotation, now: datetime) -> datetime | None:
    spec = rotation_spec(rotation)
    k = resolver.shift_index_at(spec, now)
    return resolver.shift_boundary(spec, k) if k is not None else None


def slack_group_key(team: Team, handoff: datetime, user_ids: list[int]) -> str:
    people = hashlib.sha256(",".join(map(str, sorted(user_ids))).encode()).hexdigest()[:16]
    return f"slack-group:{team.pk}:{handoff:%Y%m%dT%H%M%SZ}:{people}"


def slack_group_latest(*, team: Team) -> Notification | None:
    """The team's latest group update (its status and error say whether it worked)."""
    if not team.slack_usergroup_id:
        return None
    return (
        Notification.objects.filter(
            channel=Channel.SLACK_GROUP, idempotency_key__startswith=f"slack-group:{team.pk}:"
        )
        .order_by("-created_at", "-id")
        .first()
    )


def slack_groups_update(*, now: datetime) -> int:
    """Enqueue each team's group update not sent for its latest handoff and people; how many.

    Queries: teams, rotations and members, overrides, the keys already written, then the
    outbox's few for all the updates together (`notifications_enqueue_many`)."""
    teams = {t.pk: t for t in Team.objects.exclude(slack_usergroup_id="")}
    if not teams:
        return 0
    rotations = list(
        rotations_with_members(
            Rotation.objects.filter(team_id__in=list(teams)).exclude(tier=Tier.NONE)
        )
    )
    wanted: dict[int, tuple[datetime, list[User]]] = {}
    for current in oncall_for_rotations(rotations, now):
        handoff = _handoff(current.rotation, now)
        if handoff is None:
            continue
        latest, people = wanted.setdefault(current.rotation.team_id, (handoff, []))
        if current.user is not None and current.user not in people:
            people.append(current.user)
        wanted[current.rotation.team_id] = (max(latest, handoff), people)
    keys = {
        team_id: slack_group_key(teams[team_id], handoff, [u.pk for u in people])
        for team_id, (handoff, people) in wanted.items()
        if people
    }
    done = set(
        Notification.objects.filter(idempotency_key__in=list(keys.values())).values_list(
            "idempotency_key", flat=True
        )
    )
    # The members are read without their Slack ids (rotations' selectors defer them): one
    # query for every team's people, not one per person.
    changing = {
        p.pk for team_id, key in keys.items() if key not in done for p in wanted[team_id][1]
    }
    slack_ids = dict(User.objects.filter(pk__in=changing).values_list("pk", "slack_user_id"))
    rows = []
    for team_id, key in keys.items():
        if key in done:
            continue
        team, people = teams[team_id], wanted[team_id][1]
        names = ", ".join(p.name for p in people)
        rows.append(
            Notification(
                idempotency_key=key,
                channel=Channel.SLACK_GROUP,
                address=team.slack_usergroup_id,
                subject=f"{team.name} on-call Slack group: {names}",
                body=f"The on-call Slack group of {team.name} is now {names}.",
                reason=f"handoff in {team.name}",
                urgency=Urgency.LOW,
                data={
                    "users": [slack_ids[p.pk] for p in people if slack_ids.get(p.pk)],
                    "missing": [
                        f"{p.name} ({p.username})" for p in people if not slack_ids.get(p.pk)
                    ],
                },
            )
        )
    notifications_enqueue_many(rows)
    return len(rows)
