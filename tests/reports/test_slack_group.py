"""The on-call Slack group: at each handoff the team's group is set to the people on call,
through the outbox, against a local peer standing in for Slack (a 429 retried after its
Retry-After), once per handoff and people, failing visibly for a person without an id."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from notifications.forms import ContactMethodForm
from notifications.models import Channel, Notification, Status
from notifications.services import notification_deliver
from reports import tasks
from reports.slack_group import slack_groups_update
from rotations.models import Override, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory
from tests.incidents.conftest import Core
from tests.notifications.conftest import REAL_BACKENDS, SentTasks

# Monday 2026-01-12 09:00 New York: bob takes the veteran list, erin the new one.
WEEK2 = datetime(2026, 1, 12, 14, tzinfo=UTC)
PATH = "/api/usergroups.users.update"


@pytest.fixture
def slack(settings: Settings, real_channels: HTTPServer, core: Core) -> HTTPServer:
    settings.NOTIFY_BACKENDS = {
        **REAL_BACKENDS,
        "slack_group": "notifications.channels.slack.SlackUserGroupBackend",
    }
    settings.SLACK_API_URL = real_channels.url_for("/api")
    settings.SLACK_BOT_TOKEN = "xoxb-test-token"
    core.team.slack_usergroup_id = "S0ONCALL1"
    core.team.save()
    for name, slack_id in (("alice", "U0ALICE"), ("bob", "U0BOB"), ("erin", "U0ERIN")):
        core.people[name].slack_user_id = slack_id
        core.people[name].save()
    return real_channels


def group_rows() -> list[Notification]:
    return list(Notification.objects.filter(channel=Channel.SLACK_GROUP).order_by("id"))


def test_the_group_is_set_at_the_handoff_with_a_retry_after_a_429(
    slack: HTTPServer, sent_tasks: SentTasks
) -> None:
    assert slack_groups_update(now=WEEK2 + timedelta(minutes=1)) == 1
    [row] = group_rows()
    assert row.address == "S0ONCALL1"
    slack.expect_oneshot_request(PATH, method="POST").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"}
    )
    slack.expect_oneshot_request(
        PATH, method="POST", headers={"Authorization": "Bearer xoxb-test-token"}
    ).respond_with_json({"ok": True})
    assert notification_deliver(notification_id=row.pk) == "retry"
    row.refresh_from_db()
    assert row.not_before is not None
    assert (row.not_before - timezone.now()).total_seconds() == pytest.approx(30, abs=2)
    with time_machine.travel(row.not_before + timedelta(seconds=1)):
        assert notification_deliver(notification_id=row.pk) == "sent"
    slack.check_assertions()
    sent = json.loads(slack.log[-1][0].get_data())
    assert sent["usergroup"] == "S0ONCALL1"
    assert sorted(sent["users"].split(",")) == ["U0BOB", "U0ERIN"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)


def test_once_per_handoff_and_again_when_an_override_changes_who(
    slack: HTTPServer, core: Core
) -> None:
    slack_groups_update(now=WEEK2 + timedelta(minutes=1))
    assert slack_groups_update(now=WEEK2 + timedelta(minutes=2)) == 0
    assert slack_groups_update(now=WEEK2 + timedelta(days=3)) == 0
    Override.objects.create(
        rotation=core.veteran,
        user=core.people["alice"],
        start=WEEK2 + timedelta(days=3),
        end=WEEK2 + timedelta(days=4),
    )
    assert slack_groups_update(now=WEEK2 + timedelta(days=3, minutes=1)) == 1
    assert slack_groups_update(now=WEEK2 + timedelta(days=7, minutes=1)) == 1  # week 3
    assert len(group_rows()) == 3
    assert (
        "Alice" in group_rows()[1].subject or core.people["alice"].name in group_rows()[1].subject
    )


def test_a_person_without_a_slack_id_fails_visibly_and_nothing_is_sent(
    slack: HTTPServer, core: Core, sent_tasks: SentTasks
) -> None:
    # Week 3: carol and dave (no Slack ids) take the veteran and new lists.
    slack_groups_update(now=WEEK2 + timedelta(days=7, minutes=1))
    [row] = group_rows()
    assert notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == Status.FAILED
    carol, dave = core.people["carol"], core.people["dave"]
    assert row.last_error == (
        f"no Slack user id for {carol.name} (carol), {dave.name} (dave): the group was not changed"
    )
    assert slack.log == []


def test_slacks_own_refusal_is_a_failure_naming_its_error(
    slack: HTTPServer, sent_tasks: SentTasks
) -> None:
    slack.expect_request(PATH).respond_with_json({"ok": False, "error": "no_such_subteam"})
    slack_groups_update(now=WEEK2 + timedelta(minutes=1))
    [row] = group_rows()
    assert notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "Slack: no_such_subteam"


def test_the_shift_start_task_hands_over_the_group(slack: HTTPServer) -> None:
    with time_machine.travel(WEEK2 + timedelta(minutes=1), tick=False):
        tasks.shift_start()
        tasks.shift_start()
    assert len(group_rows()) == 1


def test_a_team_without_a_group_sends_nothing(core: Core) -> None:
    assert slack_groups_update(now=WEEK2 + timedelta(minutes=1)) == 0
    assert group_rows() == []


def test_ids_are_checked_and_people_cannot_pick_the_bot_channel(core: Core) -> None:
    core.team.slack_usergroup_id = "not-an-id"
    with pytest.raises(ValidationError) as team_error:
        core.team.full_clean()
    assert "slack_usergroup_id" in team_error.value.message_dict
    bob = core.people["bob"]
    bob.slack_user_id = "bob"
    with pytest.raises(ValidationError) as user_error:
        bob.full_clean()
    assert "slack_user_id" in user_error.value.message_dict
    form = ContactMethodForm({"channel": "slack_group", "address": "S0ONCALL1"})
    assert not form.is_valid()
    assert "channel" in form.errors


def test_the_team_page_shows_a_failed_update_naming_who_has_no_id(
    slack: HTTPServer, core: Core, sent_tasks: SentTasks
) -> None:
    client = Client()
    client.force_login(core.people["alice"])
    assert "not set by the portal yet" in client.get("/teams/core/").content.decode()
    slack_groups_update(now=WEEK2 + timedelta(days=7, minutes=1))
    [row] = group_rows()
    notification_deliver(notification_id=row.pk)
    page = client.get("/teams/core/").content.decode()
    assert "failed: no Slack user id for" in page
    assert "(carol)" in page


def _teams_with_groups(count: int, start: int) -> None:
    for n in range(start, start + count):
        person = UserFactory.create(username=f"slack-{n}", slack_user_id=f"U0P{n}")
        team = TeamFactory.create(slug=f"slack-{n}", slack_usergroup_id=f"S0G{n}")
        RotationFactory.create(
            team=team, tier=Tier.VETERAN, members=[person], start_date=date(2026, 1, 5)
        )


@pytest.mark.parametrize("teams", [1, 6])
def test_the_groups_of_many_teams_cost_the_same_queries_as_one(
    teams: int, slack: HTTPServer
) -> None:
    """Every team hands off on Monday morning: their updates are written together."""
    _teams_with_groups(teams, start=0)
    with CaptureQueriesContext(connection) as first:
        assert slack_groups_update(now=WEEK2 + timedelta(minutes=1)) == teams + 1
    _teams_with_groups(teams, start=100)
    with CaptureQueriesContext(connection) as again:
        assert slack_groups_update(now=WEEK2 + timedelta(days=7, minutes=1)) == 2 * teams + 1
    assert len(again) == len(first)
    assert len({row.idempotency_key for row in group_rows()}) == 3 * teams + 2
