"""The duty board's configuration is kept between polls (`rotations.stamp`): every write to
what it is made of moves the token in the same transaction, so the next poll shows it."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

from oncall.roles import MANAGER
from rotations.models import ConfigVersion, Rotation, RotationMember
from rotations.services import rotation_write
from rotations.stamp import duty_config_token, touch_duty_config
from tests.desk.conftest import T0, Desk
from tests.desk.test_dashboard import HTMX, poll_url, section
from tests.factories import DirectNumberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_each_write_moves_the_token_and_a_login_does_not(desk: Desk) -> None:
    seen = {duty_config_token()}

    def moved() -> bool:
        token = duty_config_token()
        new = token not in seen
        seen.add(token)
        return new

    santhosh = desk.people["santhosh"]
    santhosh.display_name = "Santhosh K."
    santhosh.save()
    assert moved(), "a person's name shows on the board"
    santhosh.save(update_fields=["last_login"])
    assert not moved(), "a login changes nothing on the board"
    DirectNumberFactory.create(team=desk.team)
    assert moved()
    member = RotationMember.objects.filter(rotation__team=desk.team).first()
    assert member is not None
    member.delete()
    assert moved()
    rotation = Rotation.objects.filter(team=desk.team).first()
    assert rotation is not None
    rotation_write(rotation=rotation, data={"members": [desk.people["noah"].pk]})
    assert moved()
    desk.team.name = "Support desk"
    desk.team.save()
    assert moved()


def test_a_rolled_back_write_leaves_the_token_of_what_is_stored(desk: Desk) -> None:
    before = duty_config_token()
    inside: list[str | None] = []

    def write_then_fail() -> None:
        with transaction.atomic():
            touch_duty_config()
            inside.append(duty_config_token())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert inside[0] != before
    assert duty_config_token() == before


def test_without_a_token_row_it_is_made_on_the_next_write(desk: Desk) -> None:
    ConfigVersion.objects.all().delete()  # a flushed database
    assert duty_config_token() is None
    touch_duty_config()
    assert duty_config_token() is not None


def test_the_next_poll_shows_a_change_to_who_is_on_duty(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        url = poll_url(client.get("/").content.decode())
        assert client.get(url, headers=HTMX).status_code == 204  # kept, unchanged
        desk.people["santhosh"].display_name = "Santhosh the Brave"
        desk.people["santhosh"].save()
        html = client.get(url, headers=HTMX).content.decode()
        assert "Santhosh the Brave" in section(html, "duty")
        # Put on the list by a manager in the portal's service: shows on the next poll.
        newcomer = UserFactory.create(username="newcomer", display_name="Nia Newcomer")
        newcomer.groups.add(Group.objects.get(name=MANAGER))
        first = Rotation.objects.get(team=desk.team, tier="first")
        rotation_write(rotation=first, data={"members": [newcomer.pk]})
        html = client.get(poll_url(html), headers=HTMX).content.decode()
        assert "Nia Newcomer" in section(html, "duty")


def test_a_shift_ending_changes_the_board_without_any_write(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False) as traveller:
        html = client.get("/").content.decode()
        before = section(html, "duty")
        traveller.shift(timedelta(days=1))  # daily rotations: the next person is on duty
        after = client.get(poll_url(html), headers=HTMX).content.decode()
    assert 'id="dash-duty"' in after
    assert section(after, "duty") != before
