"""Requests to URLs people give us (webhooks, Slack hooks): never to our own network.

One rule, `address_refusal`, says which IP addresses a user-given URL may reach: public
ones, plus the networks in `OUTBOUND_ALLOWED_NETWORKS` (the test suite's 127.0.0.0/8).
It is asked twice:

- when the URL is saved (`outbound_url_check`): the scheme (https, or http when
  `OUTBOUND_ALLOW_HTTP`), a literal IP always, a name resolved with a short timeout (a name
  that does not resolve now is accepted; the send decides);
- when sending (`guarded_client`): the transport resolves the name once, refuses if ANY
  address is refused, and connects to an address it checked. TLS still verifies the
  certificate against the name and sends it as SNI (httpcore starts TLS with the origin's
  host, not the address we connected to), so DNS rebinding between check and connect is
  impossible and nothing else changes for the peer.
"""

import concurrent.futures
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The instance metadata services of the clouds (AWS, GCP, Azure: 169.254.169.254; AWS's
# IPv6 one). Named apart from link-local so the refusal says what was at stake.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class OutboundRefused(Exception):
    """The URL may not be requested; the message says why, for the person who gave it."""


def url_shown(url: str) -> str:
    """The URL with only its scheme and host (and port): for logs and errors, because a
    Slack or webhook URL's path and query are its secret ("https://hooks.slack.com/…")."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a malformed URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}/…" if parts.scheme else "(a malformed URL)"


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it maps."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net) for net in settings.OUTBOUND_ALLOWED_NETWORKS]


def address_refusal(address: str | IPAddress) -> str | None:
    """Why a user-given URL may not reach this address; None when it may."""
    ip = _plain(ipaddress.ip_address(address))
    if ip in METADATA_ADDRESSES:  # whatever the allowed networks say
        return "the cloud metadata address"
    if any(ip in network for network in _allowed_networks()):
        return None
    for refused, words in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    ):
        if refused:
            return words
    return None


def _check_all(host: str, addresses: Iterable[str]) -> list[str]:
    checked = list(dict.fromkeys(addresses))
    for address in checked:
        why = address_refusal(address)
        if why is not None:
            shown = host if host == address else f"{host} ({address})"
            raise OutboundRefused(f"{shown} is {why}; the portal does not send there.")
    return checked


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve_checked(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, all allowed; OutboundRefused if any is not.

    socket.gaierror when the name does not resolve (a transient failure when sending).
    """
    if _literal(host) is not None:
        return _check_all(host, [str(_literal(host))])
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _check_all(host, [str(info[4][0]) for info in infos])


def _scheme_refusal(scheme: str) -> str | None:
    if scheme == "https" or (scheme == "http" and settings.OUTBOUND_ALLOW_HTTP):
        return None
    return "only https:// URLs are allowed" if scheme == "http" else "not an http(s) URL"


_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


def outbound_url_check(url: str) -> None:
    """ValidationError(code="url_not_allowed") when a saved URL could reach what it must not.

    A name is resolved here with `OUTBOUND_RESOLVE_TIMEOUT`; one that does not resolve (or
    not in time) is accepted: the check when sending is the one that decides.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return  # not a URL at all: the field's own validation says so
    why = _scheme_refusal(parts.scheme)
    if why is None and host:
        try:
            future = _resolver.submit(resolve_checked, host, port)
            future.result(timeout=settings.OUTBOUND_RESOLVE_TIMEOUT)
        except OutboundRefused as refused:
            why = str(refused)
        except (OSError, ValueError, concurrent.futures.TimeoutError):
            return
    if why is not None:
        raise ValidationError(
            "%(value)s is not allowed: %(why)s",
            code="url_not_allowed",
            params={"value": url, "why": why},
        )


class _CheckedBackend(httpcore.SyncBackend):
    """Connects only to addresses `resolve_checked` allowed, resolving each name once."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve_checked(host, port)
        except OSError as error:  # the name does not resolve: a network failure, retried
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a pool whose connections go through `_CheckedBackend`.

    httpx 0.28 takes no network backend, so the pool it built is replaced by the same pool
    with ours (no proxy: trust_env is off, a proxy from the environment would bypass the
    check).
    """

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(
                cafile=settings.OUTBOUND_CA_BUNDLE or certifi.where()
            ),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_CheckedBackend(),
        )


@functools.cache
def guarded_client() -> httpx.Client:
    """The pooled client for user-given URLs: checked addresses, no redirects, no proxy."""
    return httpx.Client(
        transport=_CheckedTransport(),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "oncall-portal"},
    )


def guarded_url(url: str) -> str:
    """The URL, or OutboundRefused when its scheme is not allowed (checked before sending)."""
    why = _scheme_refusal(urlsplit(url).scheme)
    if why is not None:
        raise OutboundRefused(f"{url_shown(url)} is not allowed: {why}")
    return url
