"""Demo teams modelled on the handbooks (called by `manage.py seed_demo`).

- Core: veteran and new tiers, primary and secondary, weekly Monday 09:00 New York handoffs;
  its policy walks the veteran list every 10 minutes, then pages the CPE manager.
- Platform: called directly (the handbooks' Platform tab), numbers to dial.
- VRO: one sprint-long (14 day) rotation covering working hours only (Mon–Fri 9–17 ET).
- Support (handbook 004): first tier on duty (Santhosh, Dinesh), second tier (Noah); its
  policy pages the first tier on duty, then the support manager (Dinesh).
"""

from datetime import date, time, timedelta
from typing import Any

from django.db import transaction

from oncall.models import User
from rotations.models import (
    ContactMode,
    DirectNumber,
    EscalationPolicy,
    EscalationStep,
    Position,
    Rotation,
    RotationMember,
    StepAction,
    Team,
    TeamKind,
    Tier,
)

START = date(2026, 1, 5)  # a Monday


def _rotation(team: Team, members: list[User], **fields: Any) -> Rotation:
    key = {k: fields.pop(k) for k in ("tier", "position")}
    rotation, _ = Rotation.objects.update_or_create(team=team, **key, defaults=fields)
    RotationMember.objects.filter(rotation=rotation).exclude(user__in=members).delete()
    for position, user in enumerate(members):
        RotationMember.objects.update_or_create(
            rotation=rotation, user=user, defaults={"position": position}
        )
    return rotation


@transaction.atomic
def seed(*, users: dict[str, User]) -> None:
    u = users
    weekly = {
        "shift_length": timedelta(days=7),
        "handoff_time": time(9),
        "timezone": "America/New_York",
    }

    core, _ = Team.objects.update_or_create(
        slug="core",
        defaults={
            "name": "Core",
            "description": "Core services. Veteran and new tabs; call the name at the top of the list.",
            "escalation_contact": u["morgan"],
            "contact_mode": ContactMode.PAGE,
            "announcement_email": "company@example.com",
        },
    )
    core.members.set([u[n] for n in ("alice", "bob", "carol", "dave", "erin")])
    veteran = _rotation(
        core,
        [u["alice"], u["bob"], u["carol"]],
        tier=Tier.VETERAN,
        position=Position.PRIMARY,
        start_date=START,
        **weekly,
    )
    _rotation(
        core,
        [u["bob"], u["carol"], u["alice"]],
        tier=Tier.VETERAN,
        position=Position.SECONDARY,
        start_date=START,
        **weekly,
    )
    new = _rotation(
        core,
        [u["dave"], u["erin"]],
        tier=Tier.NEW,
        position=Position.PRIMARY,
        start_date=START,
        **weekly,
    )
    _rotation(
        core,
        [u["erin"], u["dave"]],
        tier=Tier.NEW,
        position=Position.SECONDARY,
        start_date=START,
        **weekly,
    )

    policy, _ = EscalationPolicy.objects.update_or_create(
        team=core,
        name="Engage development",
        defaults={
            "description": "Handbook: no answer within 10 minutes, call the next person.",
            "repeat": 0,
        },
    )
    policy.steps.all().delete()
    EscalationStep.objects.create(
        policy=policy,
        position=0,
        action=StepAction.WALK_ROTATION,
        rotation=veteran,
        wait=timedelta(minutes=10),
    )
    EscalationStep.objects.create(
        policy=policy, position=1, action=StepAction.ESCALATION_CONTACT, wait=timedelta(minutes=10)
    )
    new_policy, _ = EscalationPolicy.objects.update_or_create(
        team=core, name="New tier (paged once)", defaults={"repeat": 0}
    )
    new_policy.steps.all().delete()
    EscalationStep.objects.create(
        policy=new_policy,
        position=0,
        action=StepAction.ROTATION_ONCALL,
        rotation=new,
        wait=timedelta(minutes=10),
    )
    # Declared incidents and the veteran side of engage both walk the list (handbook 000).
    core.default_policy, core.engage_policy, core.new_tier_policy = policy, policy, new_policy
    core.save(update_fields=["default_policy", "engage_policy", "new_tier_policy"])

    platform, _ = Team.objects.update_or_create(
        slug="platform",
        defaults={
            "name": "Platform",
            "description": "Call directly using these numbers; do not page.",
            "escalation_contact": u["morgan"],
            "contact_mode": ContactMode.CALL,
        },
    )
    platform.members.set([u["frank"], u["grace"]])
    for position, (label, user) in enumerate(
        (("Frank (platform lead)", u["frank"]), ("Grace", u["grace"]))
    ):
        DirectNumber.objects.update_or_create(
            team=platform, position=position, defaults={"label": label, "phone": user.phone}
        )
    _rotation(
        platform,
        [u["frank"], u["grace"]],
        tier=Tier.NONE,
        position=Position.PRIMARY,
        start_date=START,
        **weekly,
    )

    vro, _ = Team.objects.update_or_create(
        slug="vro",
        defaults={
            "name": "VRO",
            "description": "Sprint-aligned, business hours 9–17 ET.",
            "escalation_contact": u["raja"],
        },
    )
    vro.members.set([u["carol"], u["erin"], u["grace"]])
    _rotation(
        vro,
        [u["carol"], u["erin"], u["grace"]],
        tier=Tier.NONE,
        position=Position.PRIMARY,
        start_date=START,
        shift_length=timedelta(days=14),
        handoff_time=time(9),
        timezone="America/New_York",
        working_days=[0, 1, 2, 3, 4],
        working_hours_start=time(9),
        working_hours_end=time(17),
        working_hours_timezone="America/New_York",
    )

    support, _ = Team.objects.update_or_create(
        slug="support",
        defaults={
            "name": "Support",
            "description": "Cloud support desk (handbook 004): the first tier triages, the "
            "second tier keeps the customer informed.",
            "escalation_contact": u["dinesh"],
            "kind": TeamKind.SUPPORT,
        },
    )
    support.members.set([u["santhosh"], u["dinesh"], u["noah"]])
    daily_india = {
        "shift_length": timedelta(days=1),
        "handoff_time": time(9),
        "timezone": "Asia/Kolkata",
    }
    first_tier = _rotation(
        support,
        [u["santhosh"], u["dinesh"]],
        tier=Tier.FIRST,
        position=Position.PRIMARY,
        start_date=START,
        **daily_india,
    )
    _rotation(
        support,
        [u["noah"]],
        tier=Tier.SECOND,
        position=Position.PRIMARY,
        start_date=START,
        **weekly,
    )
    support_policy, _ = EscalationPolicy.objects.update_or_create(
        team=support,
        name="First tier on duty",
        defaults={
            "description": "Handbook 004: the first tier on duty, then the support manager.",
            "repeat": 0,
        },
    )
    support_policy.steps.all().delete()
    EscalationStep.objects.create(
        policy=support_policy,
        position=0,
        action=StepAction.ROTATION_ONCALL,
        rotation=first_tier,
        wait=timedelta(minutes=10),
    )
    EscalationStep.objects.create(
        policy=support_policy,
        position=1,
        action=StepAction.ESCALATION_CONTACT,
        wait=timedelta(minutes=10),
    )
    support.default_policy = support_policy
    support.save(update_fields=["default_policy"])
