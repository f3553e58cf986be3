"""Each channel against a real local peer: SMTP (aiosmtpd), Twilio, Slack, a webhook receiver."""

import base64
import hashlib
import hmac
import html
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.test import Client, override_settings
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.channels.twilio import twilio_signature_valid
from notifications.channels.webhook import webhook_signature
from notifications.models import Channel, Notification, Status
from tests.factories import UserFactory
from tests.notifications.conftest import (
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    AckCall,
    SentTasks,
    SmtpServer,
)

pytestmark = pytest.mark.django_db


def page(channel: str, address: str, key: str = "p1", **extra: object) -> Notification:
    return services.notification_enqueue(
        idempotency_key=key,
        channel=channel,
        address=address,
        recipient=UserFactory.create(),
        subject="Checkout down",
        body="Checkout returns 500 for every order.",
        subject_type="incident",
        subject_id=42,
        data={"severity": "SEV1", "number": 42},
        **extra,  # type: ignore[arg-type]
    )


def test_email_goes_through_smtp_with_text_html_and_an_ack_link_that_works(
    real_channels: HTTPServer,
    smtp_mailer: SmtpServer,
    sent_tasks: SentTasks,
    ack_calls: list[AckCall],
    client: Client,
) -> None:
    notification = page(Channel.EMAIL, "oncall@example.com")
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    [mail] = smtp_mailer.messages
    assert mail["X-Rcpt-To"] == "oncall@example.com"
    assert mail["Subject"] == "[SEV1 #42] Checkout down"
    parts = {part.get_content_type(): part for part in mail.walk()}
    text = str(parts["text/plain"].get_payload(decode=True), "utf-8")  # type: ignore[arg-type]
    html = str(parts["text/html"].get_payload(decode=True), "utf-8")  # type: ignore[arg-type]
    assert "Checkout returns 500" in text
    assert "Checkout returns 500" in html
    link = re.search(r"Acknowledge: (\S+)", text)
    assert link, text
    assert link.group(1) in html
    path = urlsplit(link.group(1)).path
    # A mail scanner following the link acknowledges nothing.
    response = client.get(path)
    assert response.status_code == 200
    assert b"Acknowledge this page?" in response.content
    assert ack_calls == []
    response = client.post(path)
    assert response.status_code == 200
    [call] = ack_calls
    assert call.subject_id == 42
    assert call.user == notification.recipient
    assert call.channel == "link"


def test_sms_posts_to_twilio_with_auth_and_keeps_the_message_sid(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json", method="POST"
    ).respond_with_json({"sid": "SM123", "status": "queued"}, status=201)
    notification = page(Channel.SMS, "+12025550150")
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    request, _ = real_channels.log[0]
    expected_auth = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
    assert form["To"] == "+12025550150"
    assert form["From"] == TWILIO_FROM
    assert "Checkout down" in form["Body"]
    assert "/notifications/ack/" in form["Body"]
    assert form["StatusCallback"].endswith(f"/notifications/twilio/status/{notification.pk}/")
    notification.refresh_from_db()
    assert notification.provider_message_id == "SM123"


def test_twilio_refusing_the_number_fails_the_sms_at_once(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    ).respond_with_json(
        {"code": 21211, "message": "The 'To' number is not a valid phone number."}, status=400
    )
    notification = page(Channel.SMS, "+12025550151")
    assert services.notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.status == Status.FAILED
    assert "21211" in notification.last_error
    assert len(real_channels.log) == 1


def test_voice_calls_with_twiml_that_speaks_and_gathers_a_keypress(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Calls.json", method="POST"
    ).respond_with_json({"sid": "CA123"}, status=201)
    notification = page(Channel.VOICE, "+12025550152")
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    request, _ = real_channels.log[0]
    form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
    twiml = form["Twiml"]
    assert '<Gather numDigits="1"' in twiml
    assert "/notifications/twilio/voice/" in twiml
    assert "<Say>Checkout down Checkout returns 500" in twiml
    assert "Press 1 to acknowledge." in twiml
    notification.refresh_from_db()
    assert notification.provider_message_id == "CA123"


def test_slack_gets_blocks_with_an_acknowledge_button_link(
    real_channels: HTTPServer, sent_tasks: SentTasks, settings: object
) -> None:
    real_channels.expect_request("/slack/hook", method="POST").respond_with_data("ok")
    # Slack webhooks must be https; the local peer is http, so bypass the address check.
    notification = page(Channel.WEBHOOK, real_channels.url_for("/slack/hook"))
    Notification.objects.filter(pk=notification.pk).update(channel=Channel.SLACK)
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    request, _ = real_channels.log[0]
    payload = request.get_json()
    section, actions = payload["blocks"]
    assert "*Checkout down*" in section["text"]["text"]
    [button] = actions["elements"]
    assert button["text"]["text"] == "Acknowledge"
    assert "/notifications/ack/" in button["url"]


def test_webhook_is_signed_over_timestamp_and_body_with_an_idempotency_key(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request("/hook", method="POST").respond_with_data("ok")
    user = UserFactory.create()
    method = services.contact_method_create(
        user=user, channel=Channel.WEBHOOK, address=real_channels.url_for("/hook"), send_code=False
    )
    notification = services.notification_enqueue(
        idempotency_key="incident:42:step:1:user:9:webhook",
        channel=Channel.WEBHOOK,
        address=method.address,
        contact_method=method,
        recipient=user,
        subject="Checkout down",
        subject_type="incident",
        subject_id=42,
    )
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    request, _ = real_channels.log[0]
    body = request.get_data()
    timestamp = request.headers["X-Signature-Timestamp"]
    expected = hmac.new(method.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert request.headers["X-Signature"] == f"sha256={expected.hexdigest()}"
    assert request.headers["Idempotency-Key"] == "incident:42:step:1:user:9:webhook"
    assert json.loads(body)["subject"] == "Checkout down"
    # The portal's signer binds the body, the timestamp and the secret: change any one and
    # the signature it makes is not the one sent (a signer that ignored one would make it).
    sent = request.headers["X-Signature"]
    assert webhook_signature(secret=method.secret, timestamp=timestamp, body=body) == sent
    assert webhook_signature(secret=method.secret, timestamp=timestamp, body=body + b" ") != sent
    later = str(int(timestamp) + 1)
    assert webhook_signature(secret=method.secret, timestamp=later, body=body) != sent
    assert webhook_signature(secret=method.secret + "x", timestamp=timestamp, body=body) != sent


def twilio_sign(url: str, params: dict[str, str]) -> str:
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    digest = hmac.new(TWILIO_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_twilio_signatures_are_checked_by_the_library_validator(
    real_channels: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://portal.example.com/notifications/twilio/status/7/"
    params = {"MessageStatus": "undelivered", "MessageSid": "SM1", "ErrorCode": "30003"}
    good = twilio_sign(url, params)

    assert twilio_signature_valid(url=url, params=params, signature=good)
    # Twilio may sign the URL with the default port spelled out; the library knows.
    ported = twilio_sign(url.replace(".com/", ".com:443/"), params)
    assert twilio_signature_valid(url=url, params=params, signature=ported)
    assert not twilio_signature_valid(
        url=url, params={**params, "MessageStatus": "delivered"}, signature=good
    )
    assert not twilio_signature_valid(url=url + "?x=1", params=params, signature=good)
    assert not twilio_signature_valid(url=url, params=params, signature="")
    monkeypatch.setattr(settings, "TWILIO_AUTH_TOKEN", "another-token")
    assert not twilio_signature_valid(url=url, params=params, signature=good)


def test_twilio_status_callback_with_a_valid_signature_fails_an_undelivered_sms(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    client: Client,
    delivered: list[tuple[int, str]],
) -> None:
    notification = page(Channel.SMS, "+12025550153")
    Notification.objects.filter(pk=notification.pk).update(status=Status.SENT)
    path = f"/notifications/twilio/status/{notification.pk}/"
    params = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    forged = client.post(path, params, HTTP_X_TWILIO_SIGNATURE="bm90IGl0")
    assert forged.status_code == 403
    notification.refresh_from_db()
    assert notification.status == Status.SENT
    signature = twilio_sign(settings.SITE_URL + path, params)
    response = client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 204
    notification.refresh_from_db()
    assert notification.status == Status.FAILED
    assert notification.provider_status == "undelivered"
    assert "30003" in notification.last_error


def test_pressing_1_on_a_voice_page_acknowledges(
    real_channels: HTTPServer, sent_tasks: SentTasks, client: Client, ack_calls: list[AckCall]
) -> None:
    from notifications.signing import ack_token_make

    notification = page(Channel.VOICE, "+12025550154")
    path = f"/notifications/twilio/voice/{ack_token_make(notification_id=notification.pk)}/"
    params = {"CallSid": "CA1", "Digits": "1"}
    response = client.post(
        path, params, HTTP_X_TWILIO_SIGNATURE=twilio_sign(settings.SITE_URL + path, params)
    )
    assert response.status_code == 200
    assert b"Acknowledged" in response.content
    [call] = ack_calls
    assert call.channel == "voice"
    assert call.subject_id == 42


def test_the_ack_link_of_a_bundled_sms_acknowledges_every_page_it_listed(
    real_channels: HTTPServer, sent_tasks: SentTasks, client: Client, ack_calls: list[AckCall]
) -> None:
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    ).respond_with_json({"sid": "SM7"}, status=201)
    user = UserFactory.create(username="bundled")
    rows = [
        services.notification_enqueue(
            idempotency_key=f"bundle-{n}",
            channel=Channel.SMS,
            address="+12025550155",
            recipient=user,
            subject=f"Incident {subject}",
            subject_type="incident",
            subject_id=subject,
        )
        # Two escalation steps about incident 8 are one acknowledgement.
        for n, subject in enumerate((7, 8, 8))
    ]
    assert services.notification_deliver(notification_id=rows[0].pk) == "sent (carrying 2 more)"
    request, _ = real_channels.log[0]
    body = parse_qs(request.get_data(as_text=True))["Body"][0]
    link = re.search(r"Ack all 2: (\S+)", body)
    assert link, body
    response = client.post(urlsplit(link.group(1)).path)
    assert response.status_code == 200
    assert [(c.subject_id, c.user, c.channel) for c in ack_calls] == [
        (7, user, "link"),
        (8, user, "link"),
    ]
    assert ack_calls[1].notification.pk == rows[1].pk


def test_a_voice_page_is_acknowledged_by_pressing_1_on_the_gather_twilio_was_given(
    real_channels: HTTPServer, sent_tasks: SentTasks, client: Client, ack_calls: list[AckCall]
) -> None:
    """End to end: the TwiML sent to Twilio, then Twilio posting the keypress to its action."""
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"
    ).respond_with_json({"sid": "CA77"}, status=201)
    notification = page(Channel.VOICE, "+12025550156")
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    request, _ = real_channels.log[0]
    twiml = parse_qs(request.get_data(as_text=True))["Twiml"][0]
    action = re.search(r'<Gather numDigits="1" action="([^"]+)" method="POST">', twiml)
    assert action, twiml
    url = html.unescape(action.group(1))
    path = urlsplit(url).path
    pressed_2 = {"CallSid": "CA77", "Digits": "2"}
    response = client.post(path, pressed_2, HTTP_X_TWILIO_SIGNATURE=twilio_sign(url, pressed_2))
    assert b"Not acknowledged" in response.content
    assert ack_calls == []
    pressed_1 = {"CallSid": "CA77", "Digits": "1"}
    unsigned = client.post(path, pressed_1)
    assert unsigned.status_code == 403
    assert ack_calls == []
    response = client.post(path, pressed_1, HTTP_X_TWILIO_SIGNATURE=twilio_sign(url, pressed_1))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert b"<Say>Acknowledged." in response.content
    [call] = ack_calls
    assert (call.subject_id, call.user, call.channel) == (42, notification.recipient, "voice")


def test_a_voice_status_callback_records_the_call_outcome(
    real_channels: HTTPServer, sent_tasks: SentTasks, client: Client
) -> None:
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"
    ).respond_with_json({"sid": "CA78"}, status=201)
    notification = page(Channel.VOICE, "+12025550157")
    services.notification_deliver(notification_id=notification.pk)
    request, _ = real_channels.log[0]
    callback = parse_qs(request.get_data(as_text=True))["StatusCallback"][0]
    path = urlsplit(callback).path
    answered = {"CallSid": "CA78", "CallStatus": "completed"}
    response = client.post(path, answered, HTTP_X_TWILIO_SIGNATURE=twilio_sign(callback, answered))
    assert response.status_code == 204
    notification.refresh_from_db()
    assert (notification.status, notification.provider_status) == (Status.SENT, "completed")
    missed = {"CallSid": "CA78", "CallStatus": "no-answer"}
    forged = client.post(path, missed, HTTP_X_TWILIO_SIGNATURE=twilio_sign(callback, answered))
    assert forged.status_code == 403
    notification.refresh_from_db()
    assert notification.provider_status == "completed"
    client.post(path, missed, HTTP_X_TWILIO_SIGNATURE=twilio_sign(callback, missed))
    notification.refresh_from_db()
    assert notification.status == Status.FAILED
    assert notification.last_error == "provider reported no-answer"


# --------------------------------------------------------------------------- escaping

HOSTILE_TITLE = (
    '<!channel> <https://evil.example|click> & </Say><Gather action="https://evil.example"><Say>'
)


def hostile_page(channel: str, address: str) -> Notification:
    return services.notification_enqueue(
        idempotency_key=f"hostile-{channel}",
        channel=channel,
        address=address,
        recipient=UserFactory.create(),
        subject=HOSTILE_TITLE + "\x01\x07\x1b[31m\x85\u2028 end",  # no NUL: PostgreSQL refuses it
        body="line one\r\nline\x0btwo\x08",
        subject_type="incident",
        subject_id=42,
    )


def test_slack_text_escapes_ampersand_and_angle_brackets_so_a_title_pings_nobody(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request("/slack/hook", method="POST").respond_with_data("ok")
    notification = hostile_page(Channel.WEBHOOK, real_channels.url_for("/slack/hook"))
    Notification.objects.filter(pk=notification.pk).update(channel=Channel.SLACK)
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    payload = real_channels.log[0][0].get_json()
    section, actions = payload["blocks"]
    for text in (payload["text"], section["text"]["text"]):
        assert not re.search("[<>]", text), text
        assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;/Say&gt;" in text
    # Our own link is untouched: the button's url.
    assert "/notifications/ack/" in actions["elements"][0]["url"]


def hostile_twilio_form(twilio: HTTPServer, channel: str, resource: str) -> dict[str, str]:
    """The form Twilio received for a hostile page on `channel` (SMS or voice)."""
    twilio.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/{resource}.json"
    ).respond_with_json({"sid": "X1"}, status=201)
    notification = hostile_page(channel, "+12025550150")
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    return {k: v[0] for k, v in parse_qs(twilio.log[0][0].get_data(as_text=True)).items()}


def test_sms_text_has_no_control_characters_but_keeps_its_lines(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    body = hostile_twilio_form(real_channels, Channel.SMS, "Messages")["Body"]
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", body), repr(body)
    assert "line one\nline two" in body
    assert "\nAck: " in body


def test_twiml_speaks_a_hostile_title_as_text_and_gathers_only_our_keypress(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    twiml = hostile_twilio_form(real_channels, Channel.VOICE, "Calls")["Twiml"]
    root = ElementTree.fromstring(twiml)  # well-formed XML: no control character broke it
    [gather] = root.iter("Gather")
    assert "/notifications/twilio/voice/" in gather.attrib["action"]
    says = [say.text or "" for say in root.iter("Say")]
    assert len(says) == 3  # twice in the gather, then goodbye
    assert says[0].startswith(HOSTILE_TITLE + " [31m end line one line two")


def test_an_email_subject_is_one_printable_line_whatever_the_title(
    real_channels: HTTPServer, smtp_mailer: SmtpServer, sent_tasks: SentTasks
) -> None:
    notification = services.notification_enqueue(
        idempotency_key="hostile-email",
        channel=Channel.EMAIL,
        address="oncall@example.com",
        subject="Checkout down\r\nBcc: attacker@example.com\x01\u2028more",
    )
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    [mail] = smtp_mailer.messages
    assert mail["Subject"] == "Checkout down Bcc: attacker@example.com more"
    assert mail["Bcc"] is None
    assert mail["X-Rcpt-To"] == "oncall@example.com"


# A Slack incoming webhook URL is its own secret: whoever has it can post to the channel.
SLACK_SECRET_PATH = "/services/T0SECRET1/B0SECRET2/xoxSecretToken3"


@pytest.mark.parametrize("status", [200, 500])
def test_a_slack_delivery_logs_the_host_but_never_the_secret_path(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    real_channels.expect_request(SLACK_SECRET_PATH, method="POST").respond_with_data(
        "no_service", status=status
    )
    url = real_channels.url_for(SLACK_SECRET_PATH) + "?token=queryToken4"
    notification = page(Channel.WEBHOOK, url)  # saved as a webhook: the local peer is http
    Notification.objects.filter(pk=notification.pk).update(channel=Channel.SLACK)

    with caplog.at_level(logging.DEBUG):  # httpx logs each request's URL at INFO by default
        outcome = services.notification_deliver(notification_id=notification.pk)

    assert outcome == ("sent" if status == 200 else "retry")
    assert len(real_channels.log) == 1, "the message was really posted"
    ours = [record for record in caplog.records if record.name != "werkzeug"]  # not the peer's
    logged = "\n".join(record.getMessage() for record in ours)
    for secret in ("T0SECRET1", "B0SECRET2", "xoxSecretToken3", "queryToken4"):
        assert secret not in logged
    if status != 200:  # the failure is logged with the host, at DEBUG
        assert f"HTTP 500 from http://{real_channels.host}:{real_channels.port}/…" in logged
    notification.refresh_from_db()
    assert "xoxSecretToken3" not in notification.last_error


def test_a_refused_hook_is_named_by_its_host_only(
    real_channels: HTTPServer, sent_tasks: SentTasks, settings: object
) -> None:
    notification = page(Channel.WEBHOOK, real_channels.url_for(SLACK_SECRET_PATH))
    settings.OUTBOUND_ALLOW_HTTP = False  # type: ignore[attr-defined]
    assert services.notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    # The error is shown on the outbox, the admin and an incident's timeline.
    assert notification.last_error == (
        f"refused: http://{real_channels.host}:{real_channels.port}/… is not allowed: "
        "only https:// URLs are allowed"
    )


def test_the_console_prints_a_hook_by_its_host_only(
    sent_tasks: SentTasks, capsys: pytest.CaptureFixture[str]
) -> None:
    notification = page(Channel.WEBHOOK, "https://hooks.example.com" + SLACK_SECRET_PATH)
    Notification.objects.filter(pk=notification.pk).update(channel=Channel.SLACK)
    settings_backends = {
        **settings.NOTIFY_BACKENDS,
        "slack": "notifications.channels.console.ConsoleBackend",
    }
    with override_settings(NOTIFY_BACKENDS=settings_backends):
        assert services.notification_deliver(notification_id=notification.pk) == "sent"
    printed = capsys.readouterr().out
    assert "--- slack to https://hooks.example.com/… (high) ---" in printed
    assert "xoxSecretToken3" not in printed
