"""Demo people for `manage.py seed_demo`, modelled on the handbooks' roles.

Idempotent: running it again leaves the same people with the same roles and passwords.
"""

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER

DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class DemoPerson:
    username: str
    name: str
    roles: tuple[str, ...]
    what: str
    timezone: str = "America/New_York"
    phone: str = ""


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "santhosh",
        "Santhosh Kumar",
        (SUPPORT,),
        "first-tier support",
        "Asia/Kolkata",
        "+919812345601",
    ),
    DemoPerson(
        "noah", "Noah Fischer", (SUPPORT,), "second-tier support", "Europe/Berlin", "+4915112345602"
    ),
    DemoPerson(
        "dinesh",
        "Dinesh Rao",
        (SUPPORT, SUPPORT_MANAGER),
        "support manager",
        "Asia/Kolkata",
        "+919812345603",
    ),
    DemoPerson("raja", "Raja Iyer", (MANAGER,), "engineering manager", phone="+12025550104"),
    DemoPerson(
        "morgan", "Morgan Lee", (MANAGER,), "CPE manager (escalation contact)", phone="+12025550105"
    ),
    DemoPerson("alice", "Alice Moreau", (ENGINEER,), "Core veteran", phone="+12025550111"),
    DemoPerson("bob", "Bob Okafor", (ENGINEER,), "Core veteran", phone="+12025550112"),
    DemoPerson("carol", "Carol Jensen", (ENGINEER,), "Core veteran", phone="+12025550113"),
    DemoPerson("dave", "Dave Nguyen", (ENGINEER,), "Core new", phone="+12025550114"),
    DemoPerson("erin", "Erin Walsh", (ENGINEER,), "Core new", phone="+12025550115"),
    DemoPerson(
        "frank", "Frank Silva", (ENGINEER,), "Platform (called directly)", phone="+12025550116"
    ),
    DemoPerson(
        "grace", "Grace Park", (ENGINEER,), "Platform (called directly)", phone="+12025550117"
    ),
)


@transaction.atomic
def seed_people() -> dict[str, User]:
    """Create or update the demo people; return them by username."""
    groups = {g.name: g for g in Group.objects.all()}
    users: dict[str, User] = {}
    for person in PEOPLE:
        first, _, last = person.name.partition(" ")
        user, _ = User.objects.update_or_create(
            username=person.username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{person.username}@example.com",
                "timezone": person.timezone,
                "phone": person.phone,
                "is_staff": True,
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        user.groups.set([groups[r] for r in person.roles])
        users[person.username] = user
    return users
