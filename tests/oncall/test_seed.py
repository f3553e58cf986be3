import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from oncall.demo import DEMO_PASSWORD, PEOPLE
from oncall.models import User
from oncall.roles import MANAGER, SUPPORT_MANAGER


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_gives_every_role() -> None:
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = {u.username: (u.pk, sorted(g.name for g in u.groups.all())) for u in User.objects.all()}
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    second = {
        u.username: (u.pk, sorted(g.name for g in u.groups.all())) for u in User.objects.all()
    }
    assert first == second
    assert len(second) == len(PEOPLE)
    assert User.objects.get(username="dinesh").groups.filter(name=SUPPORT_MANAGER).exists()
    assert User.objects.get(username="morgan").check_password(DEMO_PASSWORD)
    for role in Group.objects.filter(name__in=[MANAGER, SUPPORT_MANAGER]):
        assert role.user_set.exists()
