import pytest
from django.contrib.auth.models import Group

from oncall.roles import ENGINEER, MANAGER, ROLES, SUPPORT, SUPPORT_MANAGER, is_manager, user_roles
from tests.factories import UserFactory


@pytest.mark.django_db
def test_migrations_create_the_four_role_groups() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


@pytest.mark.django_db
def test_managers_may_change_users_others_only_view() -> None:
    manager = UserFactory.create(roles=[MANAGER])
    engineer = UserFactory.create(roles=[ENGINEER])
    support = UserFactory.create(roles=[SUPPORT])
    assert manager.has_perm("oncall.change_user")
    for user in (engineer, support):
        assert user.has_perm("oncall.view_user")
        assert not user.has_perm("oncall.change_user")
        assert not user.has_perm("oncall.delete_user")


@pytest.mark.django_db
def test_user_roles_and_is_manager() -> None:
    lead = UserFactory.create(roles=[SUPPORT, SUPPORT_MANAGER])
    manager = UserFactory.create(roles=[MANAGER])
    assert user_roles(lead) == {SUPPORT, SUPPORT_MANAGER}
    assert not is_manager(lead)
    assert is_manager(manager)
    assert is_manager(UserFactory.create(is_superuser=True))
