"""`__in` over integer columns and relations ignores numbers no row can hold (no 500)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from oncall.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HUGE = 10**20  # beyond any 64-bit id: SQLite raised OverflowError while binding it


def test_in_over_ids_and_relations_ignores_numbers_beyond_64_bits() -> None:
    person = UserFactory.create()
    group = Group.objects.create(name="night shift")
    person.groups.add(group)
    assert list(User.objects.filter(pk__in=[HUGE, person.pk])) == [person]
    assert list(User.objects.filter(pk__in=[HUGE, -HUGE])) == []
    assert list(Group.objects.filter(user__in=[HUGE, person.pk])) == [group]
    assert list(Group.objects.filter(user__in=[str(HUGE)])) == []


def test_a_huge_id_in_an_admin_multiple_choice_is_a_form_error(client: Client) -> None:
    """A group's permissions picker, posted with a 20-digit id: refused, never a 500."""
    root = User.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(root)
    response = client.post("/admin/auth/group/add/", {"name": "g", "permissions": [str(HUGE)]})
    assert response.status_code == 200
    assert f"{HUGE} is not one of the available choices" in response.content.decode()
    assert not Group.objects.filter(name="g").exists()
