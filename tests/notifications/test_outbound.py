"""User-given URLs (webhook contact methods, Slack hooks, webhook subscriptions) never reach
our own network: refused when saved, and again when sending, on the address connected to."""

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_httpserver import HTTPServer

from integrations.models import WebhookSubscription
from notifications import outbound, services
from notifications.models import Channel, ContactMethod, Notification, Status
from oncall.roles import MANAGER
from tests.factories import UserFactory
from tests.notifications.conftest import REAL_BACKENDS, TWILIO_SID

pytestmark = pytest.mark.django_db

REFUSED_URLS = [
    "https://127.0.0.1/hook",
    "https://10.0.0.5/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00:ec2::254]/latest/",
    "https://localhost/hook",
]


@pytest.fixture
def production_rule(settings: Settings) -> Settings:
    """The production default: https only, no network allowed beyond the public internet."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.OUTBOUND_ALLOW_HTTP = False
    return settings


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("169.254.10.10", "a link-local address"),
        ("0.0.0.0", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "not a public address"),
        ("240.0.0.1", "a private address"),
        ("::1", "a loopback address"),
        ("::", "the unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fd00:ec2::254", "the cloud metadata address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:169.254.169.254", "the cloud metadata address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_the_address_rule(production_rule: Settings, address: str, refused: str | None) -> None:
    assert outbound.address_refusal(address) == refused


def test_allowed_networks_open_a_private_range_but_never_the_metadata_address(
    settings: Settings,
) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8", "169.254.0.0/16"]
    assert outbound.address_refusal("10.1.2.3") is None
    assert outbound.address_refusal("169.254.169.254") == "the cloud metadata address"
    assert outbound.address_refusal("192.168.1.1") == "a private address"


# --------------------------------------------------------------------------- when saved


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_webhook_contact_method_to_our_network_is_refused_when_saved(
    production_rule: Settings, url: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.contact_method_create(
            user=UserFactory.create(), channel=Channel.WEBHOOK, address=url, send_code=False
        )
    assert refused.value.error_dict["address"][0].code == "url_not_allowed"
    assert "not allowed" in refused.value.messages[0]
    assert not ContactMethod.objects.exists()


def test_the_profile_page_names_the_refused_address(
    production_rule: Settings, client: Client
) -> None:
    client.force_login(UserFactory.create())
    response = client.post(
        "/notifications/profile/methods/",
        {"channel": Channel.SLACK, "address": "https://169.254.169.254/hook"},
    )
    assert response.status_code == 400
    assert "the cloud metadata address" in response.content.decode()
    assert not ContactMethod.objects.exists()


@pytest.mark.parametrize("url", [*REFUSED_URLS, "http://hooks.example.com/plain"])
def test_a_webhook_subscription_to_our_network_is_refused_with_url_not_allowed(
    production_rule: Settings, client: Client, url: str
) -> None:
    client.force_login(UserFactory.create(roles=[MANAGER]))
    response = client.post("/api/v1/webhooks/", {"url": url}, "application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "url_not_allowed"
    assert list(error["fields"]) == ["url"]
    assert not WebhookSubscription.objects.exists()


def test_a_public_https_url_is_accepted_when_saved(production_rule: Settings) -> None:
    method = services.contact_method_create(
        user=UserFactory.create(),
        channel=Channel.WEBHOOK,
        address="https://93.184.215.14/hook",
        send_code=False,
    )
    assert method.pk is not None


# --------------------------------------------------------------------------- when sending


def webhook_row(url: str, key: str = "w1") -> Notification:
    """An outbox row to `url`, as one saved before the rule existed (the row is not checked)."""
    return services.notification_enqueue(
        idempotency_key=key,
        channel=Channel.WEBHOOK,
        address=url,
        recipient=UserFactory.create(),
        subject="Checkout down",
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_webhook_to_our_network_fails_at_send_and_reaches_nobody(
    real_channels: HTTPServer, sent_tasks: Any, settings: Settings, host: str
) -> None:
    real_channels.expect_request("/hook").respond_with_data("ok")
    row = webhook_row(f"http://{host}:{real_channels.port}/hook")
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # saved while allowed; now the rule says no

    assert services.notification_deliver(notification_id=row.pk) == "failed"

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.attempts == 1  # permanent: no retry
    assert row.last_error.startswith("refused: ")
    assert "a loopback address" in row.last_error
    assert real_channels.log == []


@pytest.mark.parametrize(
    "url", ["https://10.0.0.5/hook", "https://169.254.169.254/latest/", "https://[fe80::1]/h"]
)
def test_private_and_metadata_addresses_are_refused_before_any_connection(
    real_channels: HTTPServer, sent_tasks: Any, url: str
) -> None:
    row = webhook_row(url)
    # A connection attempt would time out (transient, retried); a refusal fails at once.
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "refused: " in row.last_error


def test_plain_http_is_refused_at_send_unless_allowed(
    real_channels: HTTPServer, sent_tasks: Any, settings: Settings
) -> None:
    real_channels.expect_request("/hook").respond_with_data("ok")
    row = webhook_row(real_channels.url_for("/hook"))
    settings.OUTBOUND_ALLOW_HTTP = False
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "only https:// URLs are allowed" in row.last_error
    assert real_channels.log == []


class FakeDns:
    """Names the system cannot resolve, answered by the test; literal IPs go through."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.asked.append(host)
        # Each lookup gets the next answer: a rebinding name changes between lookups.
        addresses = self.answers[host][min(len(self.asked) - 1, len(self.answers[host]) - 1)]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]


def test_a_rebinding_name_is_connected_to_at_the_address_that_was_checked(
    real_channels: HTTPServer, sent_tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # First answer: the (allowed) test peer; any later lookup: the metadata address.
    dns = FakeDns({"rebind.test": [["127.0.0.1"], ["169.254.169.254"]]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    real_channels.expect_request("/hook").respond_with_data("ok")
    row = webhook_row(f"http://rebind.test:{real_channels.port}/hook")

    assert services.notification_deliver(notification_id=row.pk) == "sent"

    assert dns.asked == ["rebind.test"]  # resolved once, when checked
    [(request, _)] = real_channels.log
    assert request.headers["Host"] == f"rebind.test:{real_channels.port}"


def test_a_name_with_any_refused_address_is_refused(
    real_channels: HTTPServer, sent_tasks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"mixed.test": [["127.0.0.1", "10.9.9.9"]]}))
    row = webhook_row(f"http://mixed.test:{real_channels.port}/hook")
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "mixed.test (10.9.9.9) is a private address" in row.last_error
    assert real_channels.log == []


def test_a_redirect_is_not_followed(real_channels: HTTPServer, sent_tasks: Any) -> None:
    real_channels.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/"}
    )
    row = webhook_row(real_channels.url_for("/hook"))
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "HTTP 302 FOUND"
    assert len(real_channels.log) == 1


# --------------------------------------------------------------------------- peers' answers


def test_a_peers_answer_is_never_shown_only_its_status_and_reason(
    real_channels: HTTPServer, sent_tasks: Any
) -> None:
    real_channels.expect_request("/hook").respond_with_data(
        "db password is hunter2 (internal stack trace)", status=403
    )
    row = webhook_row(real_channels.url_for("/hook"))
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "HTTP 403 FORBIDDEN"


def test_twilio_answering_without_json_is_reported_without_its_body(
    real_channels: HTTPServer, sent_tasks: Any
) -> None:
    real_channels.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    ).respond_with_data("<html>internal proxy page: 10.0.0.7</html>", status=201)
    row = services.notification_enqueue(
        idempotency_key="s1", channel=Channel.SMS, address="+12025550150", subject="Down"
    )
    assert services.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "10.0.0.7" not in row.last_error
    assert "Twilio answered HTTP 201 without JSON" in row.last_error


# --------------------------------------------------------------------------- TLS by name


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    names = ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert), *names],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_peer(tmp_path: Path, settings: Settings) -> Iterator[tuple[HTTPServer, Path]]:
    """An https peer on 127.0.0.1 whose certificate names hook.test; the client trusts it."""
    cert, key = self_signed(tmp_path, "hook.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    settings.OUTBOUND_CA_BUNDLE = str(cert)
    settings.NOTIFY_BACKENDS = REAL_BACKENDS
    outbound.guarded_client.cache_clear()
    yield server, cert
    server.clear()
    server.stop()
    outbound.guarded_client.cache_clear()


@pytest.mark.parametrize(("name", "outcome"), [("hook.test", "sent"), ("other.test", "retry")])
def test_tls_to_the_checked_address_still_verifies_the_certificate_for_the_name(
    tls_peer: tuple[HTTPServer, Path],
    sent_tasks: Any,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    outcome: str,
) -> None:
    server, _ = tls_peer
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({name: [["127.0.0.1"]]}))
    server.expect_request("/hook").respond_with_data("ok")
    row = webhook_row(f"https://{name}:{server.port}/hook")

    assert services.notification_deliver(notification_id=row.pk) == outcome

    if outcome == "sent":  # SNI and verification used hook.test, not 127.0.0.1
        [(request, _)] = server.log
        assert request.headers["Host"] == f"hook.test:{server.port}"
    else:  # the certificate does not name other.test: nothing is sent
        row.refresh_from_db()
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error
        assert server.log == []
