"""The outbox: idempotent enqueue, the one transition, cancel, throttling, defaults."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from pytest_django import Settings

from notifications import services
from notifications.models import Channel, ContactMethod, Notification, NotificationRule, Status
from notifications.selectors import page_plan
from oncall.models import User
from tests.factories import UserFactory
from tests.notifications.conftest import SentTasks

pytestmark = pytest.mark.django_db


def enqueue(key: str = "k1", **overrides: object) -> Notification:
    fields: dict[str, object] = {
        "idempotency_key": key,
        "channel": Channel.WEBHOOK,
        "address": "https://hooks.example.com/page",
        "subject": "SEV1 #42 Checkout down",
        "body": "Checkout is failing",
        "reason": "escalation step 1",
        "subject_type": "incident",
        "subject_id": 42,
    }
    fields.update(overrides)
    return services.notification_enqueue(**fields)  # type: ignore[arg-type]


def test_enqueue_writes_a_pending_row_and_queues_delivery_on_its_channel_queue_on_commit(
    sent_tasks: SentTasks, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        notification = enqueue()
        assert sent_tasks.calls == [], "the task must wait for the commit"
    assert notification.status == Status.PENDING
    assert notification.deadline is not None
    assert notification.deadline > timezone.now()
    [call] = sent_tasks.calls
    assert call["name"] == "notifications.deliver.webhook"
    assert call["args"] == [notification.pk]
    assert call["queue"] == "notify-webhook"


def test_enqueue_many_writes_new_keys_together_and_queues_each_once_on_commit(
    sent_tasks: SentTasks, django_capture_on_commit_callbacks: object
) -> None:
    old = enqueue("kept")

    def row(key: str) -> Notification:
        return Notification(
            idempotency_key=key,
            channel=Channel.WEBHOOK,
            address="https://hooks.example.com/a",
            body=f"body {key}",
        )

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        saved = services.notifications_enqueue_many([row("kept"), row("new-1"), row("new-2")])
        assert sent_tasks.calls == [], "the tasks must wait for the commit"
    assert [n.idempotency_key for n in saved] == ["kept", "new-1", "new-2"]
    assert saved[0].pk == old.pk
    assert saved[0].body == old.body  # an existing key is not rewritten
    assert all(n.status == Status.PENDING and n.deadline is not None for n in saved)
    assert sorted(c["args"][0] for c in sent_tasks.calls) == [saved[1].pk, saved[2].pk]
    assert services.notifications_enqueue_many([]) == []


def test_enqueue_with_an_existing_key_returns_the_existing_row(sent_tasks: SentTasks) -> None:
    first = enqueue("same")
    second = enqueue("same", body="something else")
    assert second.pk == first.pk
    assert Notification.objects.count() == 1
    assert second.body == "Checkout is failing"


def test_enqueue_losing_a_race_on_the_key_returns_the_winners_row(
    sent_tasks: SentTasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = enqueue("race")
    # The loser's existence check ran before the winner committed: it sees nothing.
    real_first = QuerySet.first
    seen = {"skipped": False}

    def first_once_empty(self: QuerySet[Notification]) -> object:
        if self.model is Notification and not seen["skipped"]:
            seen["skipped"] = True
            return None
        return real_first(self)

    monkeypatch.setattr(QuerySet, "first", first_once_empty)
    loser = enqueue("race", body="late")
    assert seen["skipped"]
    assert loser.pk == winner.pk
    assert Notification.objects.count() == 1


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        (Channel.SMS, "555-1234"),
        (Channel.EMAIL, "not-an-email"),
        (Channel.WEBHOOK, "ftp://example.com/x"),
        (Channel.SLACK, "http://hooks.slack.com/x"),
    ],
)
def test_enqueue_refuses_a_bad_address(sent_tasks: SentTasks, channel: str, address: str) -> None:
    with pytest.raises(ValidationError) as caught:
        enqueue(channel=channel, address=address)
    assert "address" in caught.value.message_dict
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (Status.SENT, Status.PENDING),
        (Status.CANCELLED, Status.SENDING),
        (Status.FAILED, Status.SENT),
        (Status.PENDING, Status.SENT),
    ],
)
def test_transition_refuses_illegal_moves(sent_tasks: SentTasks, start: str, to: Status) -> None:
    notification = enqueue()
    Notification.objects.filter(pk=notification.pk).update(status=start)
    notification.refresh_from_db()
    with pytest.raises(services.IllegalTransition):
        services.notification_transition(notification=notification, to=to)
    notification.refresh_from_db()
    assert notification.status == start


def test_transition_to_a_final_state_stamps_it_and_tells_listeners_after_commit(
    sent_tasks: SentTasks,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: object,
) -> None:
    notification = enqueue()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.notification_transition(notification=notification, to=Status.SENDING)
        services.notification_transition(notification=notification, to=Status.SENT)
        assert delivered == []
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.deadline is None
    assert delivered == [(notification.pk, Status.SENT)]


def test_cancel_pending_cancels_only_the_subjects_pending_rows(
    sent_tasks: SentTasks,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: object,
) -> None:
    pending = enqueue("a")
    sending = enqueue("b")
    Notification.objects.filter(pk=sending.pk).update(status=Status.SENDING)
    other_subject = enqueue("c", subject_id=43)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        count = services.notifications_cancel_pending(subject_type="incident", subject_id=42)
    assert count == 1
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses == {
        pending.pk: Status.CANCELLED,
        sending.pk: Status.SENDING,
        other_subject.pk: Status.PENDING,
    }
    assert Notification.objects.get(pk=pending.pk).cancelled_at is not None
    assert delivered == [(pending.pk, Status.CANCELLED)]


def test_an_sms_to_a_number_texted_within_the_limit_waits_for_its_next_free_slot(
    sent_tasks: SentTasks, settings: Settings, django_capture_on_commit_callbacks: object
) -> None:
    """Storm control: the slot counts messages that went out, not pages still waiting, so
    pages pending for one number share one slot instead of queueing one interval apart."""
    settings.NOTIFY_MIN_INTERVAL = {**settings.NOTIFY_MIN_INTERVAL, "sms": 30}
    texted = timezone.now() - timedelta(seconds=10)
    Notification.objects.create(
        idempotency_key="earlier",
        channel=Channel.SMS,
        address="+12025550110",
        status=Status.SENT,
        attempted_at=texted,
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        first = enqueue("s1", channel=Channel.SMS, address="+12025550110")
        second = enqueue("s2", channel=Channel.SMS, address="+12025550110")
        other = enqueue("s3", channel=Channel.SMS, address="+12025550120")
    for held in (first, second):
        assert held.throttled
        assert held.not_before == texted + timedelta(seconds=30)
        assert held.deadline == held.not_before + settings.NOTIFY_PENDING_GRACE
    assert not other.throttled
    assert other.not_before is None
    countdowns = {c["args"][0]: c["countdown"] for c in sent_tasks.calls}
    assert countdowns[first.pk] == pytest.approx(20, abs=1)
    assert countdowns[second.pk] == pytest.approx(20, abs=1)
    assert countdowns[other.pk] is None


def test_defaults_give_sms_at_once_a_call_after_two_minutes_and_email_for_low() -> None:
    user = UserFactory.create(email="ada@example.com", phone="+12025550130")
    services.notification_defaults_ensure(user=user)
    services.notification_defaults_ensure(user=user)  # a second call changes nothing
    methods = {m.channel: m for m in ContactMethod.objects.filter(user=user)}
    assert set(methods) == {Channel.EMAIL, Channel.SMS, Channel.VOICE}
    assert not any(m.verified for m in methods.values())
    rules = {
        (r.urgency, r.contact_method.channel, r.delay)
        for r in NotificationRule.objects.filter(user=user).select_related("contact_method")
    }
    assert rules == {("high", "sms", 0), ("high", "voice", 120), ("low", "email", 0)}
    # Unverified methods are never paged.
    assert page_plan(user=user, urgency="high") == []


def test_a_contact_method_is_verified_by_the_code_sent_to_it(
    sent_tasks: SentTasks, django_capture_on_commit_callbacks: object
) -> None:
    user = UserFactory.create()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        method = services.contact_method_create(
            user=user, channel=Channel.SMS, address="+1 202 555 0140"
        )
    assert method.address == "+12025550140"
    verification = Notification.objects.get(contact_method=method)
    assert verification.address == "+12025550140"
    code = verification.body.split("code is ")[1].rstrip(".")
    with pytest.raises(ValidationError):
        services.contact_method_verify(
            contact_method=method, code="000000" if code != "000000" else "111111"
        )
    method.refresh_from_db()
    assert not method.verified
    services.contact_method_verify(contact_method=method, code=code)
    method.refresh_from_db()
    assert method.verified


def verified_method(user: User, channel: str, address: str) -> ContactMethod:
    return ContactMethod.objects.create(
        user=user, channel=channel, address=address, verified_at=timezone.now()
    )


def test_a_person_without_rules_is_paged_by_the_defaults_over_their_verified_methods() -> None:
    user = UserFactory.create()
    assert page_plan(user=user, urgency="high") == []
    email = verified_method(user, Channel.EMAIL, "ada@example.com")
    # Only email verified: email at once for both urgencies.
    assert [(r.contact_method, r.delay) for r in page_plan(user=user, urgency="high")] == [
        (email, 0)
    ]
    sms = verified_method(user, Channel.SMS, "+12025550131")
    voice = verified_method(user, Channel.VOICE, "+12025550131")
    ContactMethod.objects.create(user=user, channel=Channel.WEBHOOK, address="https://x.example/h")
    high = page_plan(user=user, urgency="high")
    assert [(r.contact_method, r.delay) for r in high] == [(sms, 0), (voice, 120)]
    low = page_plan(user=user, urgency="low")
    assert [(r.contact_method, r.delay) for r in low] == [(email, 0)]
    assert not NotificationRule.objects.exists(), "reading the plan writes nothing"
    # One rule of their own and the defaults no longer apply.
    services.notification_rule_create(user=user, urgency="low", contact_method=sms, delay=30)
    assert page_plan(user=user, urgency="high") == []
    assert [(r.contact_method, r.delay) for r in page_plan(user=user, urgency="low")] == [(sms, 30)]


def test_resetting_rules_replaces_a_persons_own_rules_with_the_defaults() -> None:
    user = UserFactory.create(email="ada@example.com", phone="+12025550132")
    webhook = ContactMethod.objects.create(
        user=user, channel=Channel.WEBHOOK, address="https://x.example/h"
    )
    services.notification_rule_create(user=user, urgency="high", contact_method=webhook)
    assert services.notification_rules_reset(user=user) == []
    # The person had a method already, so none came from the account; a webhook has no default.
    sms = verified_method(user, Channel.SMS, "+12025550132")
    email = ContactMethod.objects.create(user=user, channel=Channel.EMAIL, address=user.email)
    rules = services.notification_rules_reset(user=user)
    assert {(r.urgency, r.contact_method, r.delay) for r in rules} == {
        ("high", sms, 0),
        ("low", email, 0),
    }
    assert NotificationRule.objects.filter(user=user).count() == 2
