"""The demo seed: every demo person is reachable by verified methods and default rules."""

import io

import pytest
from django.core.management import call_command

from notifications import demo
from notifications.models import Channel, ContactMethod, NotificationRule
from notifications.selectors import page_plan
from oncall.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_seed_gives_verified_methods_and_default_rules_and_is_idempotent() -> None:
    alice = UserFactory.create(username="alice", phone="+12025550111")
    santhosh = UserFactory.create(username="santhosh")
    users = {"alice": alice, "santhosh": santhosh}
    demo.seed(users=users)
    demo.seed(users=users)
    methods = {
        (m.user.username, m.channel): m for m in ContactMethod.objects.select_related("user")
    }
    assert set(methods) == {
        ("alice", Channel.EMAIL),
        ("alice", Channel.SMS),
        ("alice", Channel.VOICE),
        ("santhosh", Channel.EMAIL),
    }
    assert all(m.verified for m in methods.values())
    assert methods[("alice", Channel.EMAIL)].address == "alice@example.com"
    assert methods[("alice", Channel.SMS)].address == "+12025550111"
    assert NotificationRule.objects.filter(user=alice).count() == 3
    assert [(r.contact_method.channel, r.delay) for r in page_plan(user=alice, urgency="high")] == [
        ("sms", 0),
        ("voice", 120),
    ]
    assert [r.contact_method.channel for r in page_plan(user=santhosh, urgency="high")] == ["email"]


def test_the_seed_demo_command_makes_every_demo_person_pageable() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    morgan = User.objects.get(username="morgan")
    assert ContactMethod.objects.filter(user=morgan, verified_at__isnull=False).count() == 3
    assert [r.contact_method.channel for r in page_plan(user=morgan, urgency="high")] == [
        "sms",
        "voice",
    ]
