"""No input reaches a 500: generated bodies at every API write and every ingestion door.

The API's writes are read from its OpenAPI schema and the doors from the URL resolver, so a
new endpoint is fuzzed without touching this file. Bodies are shaped like the schema's
request (so they get past "this field is required" to the fields themselves) with hostile
values in any place: NUL characters, lone surrogates, `NaN`, `1e999`, integers of 30
digits, years 1 and 9999 in far zones, durations that overflow, nesting 100 000 deep, bytes
that are not UTF-8, and wrong types. Every answer must be below 500, and an ingested event
the door accepted must fold without an error.
"""

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.models import InboundEvent, Integration, WebhookSubscription
from integrations.services import integration_create
from notifications.models import ContactMethod
from oncall.models import User
from playbooks.models import PlaybookEntry
from postmortems.services import action_item_create, postmortem_start
from reports.models import OnCallReport
from rotations.models import OverrideRequest
from tests.api.conftest import Core, bearer_client
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    IncidentFactory,
    IntegrationFactory,
    OverrideFactory,
)
from tests.integrations.support import fold_accepted

MAX_EXAMPLES = 12
DEEP = "__deep__"  # replaced by 100 000 nested arrays when the body is written

NASTY_TEXT = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "",
    " ",
    "x" * 5000,
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59Z",
    "0001-01-01",
    "9999-12-31",
    "2199-12-31T23:59:59-14:00",
    "P999999999D",
    "PT99999999999999H",
    "P1Y",
    "99999999999999999999",
    "-1",
    "NaN",
    "24:00",
    "Nowhere/Atlantis",
    "http://[::1",
]
NASTY_NUMBERS: list[Any] = [10**30, -(10**30), 2**31, 2**63, -1, 0, float("nan"), float("inf")]


def _leaf() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(NASTY_TEXT),
        st.sampled_from(NASTY_NUMBERS),
        st.text(st.characters(codec=None, categories=None), max_size=20),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
        st.just(DEEP),
    )


def _any_json() -> st.SearchStrategy[Any]:
    return st.recursive(
        _leaf(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=8) | st.sampled_from(["\x00", "\ud800"]), inner)
        ),
        max_leaves=8,
    )


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            return _resolve(schema[combined][0], components)
    return schema


def _shaped(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped like `schema`: its keys and nesting, any leaf hostile (or random)."""
    schema = _resolve(schema, components)
    if schema.get("type") == "object" and "properties" in schema:
        optional = {name: _shaped(prop, components) for name, prop in schema["properties"].items()}
        return st.fixed_dictionaries({}, optional=optional) | _any_json()
    if schema.get("type") == "array" and "items" in schema:
        return st.lists(_shaped(schema["items"], components), max_size=3) | _leaf()
    valid: list[Any] = [schema["enum"][0]] if schema.get("enum") else []
    return st.sampled_from(valid) | _leaf() if valid else _leaf()


def _write(body: Any) -> bytes:
    """The body as sent: JSON allowing NaN/Infinity, surrogates escaped, DEEP expanded."""
    if isinstance(body, bytes):
        return body
    text = json.dumps(body, allow_nan=True)
    return text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000).encode()


def _bodies(schema: dict[str, Any] | None, components: dict[str, Any]) -> st.SearchStrategy[Any]:
    shaped = _shaped(schema, components) if schema else _any_json()
    raw = st.sampled_from(
        [b"\xff\xfe", b'{"a": NaN}', b'{"a": 1e999}', b"{" * 50_000, b'"\\u0000"', b"[]"]
    )
    return shaped | raw


@functools.cache
def _schema() -> dict[str, Any]:
    generated = SchemaGenerator(patterns=None).get_schema(request=None, public=True)
    assert generated is not None
    return dict(generated)


def _api_writes() -> list[tuple[str, str, dict[str, Any] | None]]:
    writes = []
    for path, operations in _schema()["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch"):
                content = operation.get("requestBody", {}).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                writes.append((method, path, schema))
    return writes


def _ingest_doors() -> list[str]:
    """Every route of the `integrations` page URLs (the doors), by name."""
    resolver = get_resolver()
    names = []

    def walk(patterns: list[URLPattern | URLResolver], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif (
                namespace == "integrations"
                and pattern.name
                # The doors events come in by, not the portal's pages about integrations.
                and pattern.callback.__module__ == "integrations.views"
            ):
                names.append(pattern.name)

    walk(resolver.url_patterns, "")
    return sorted(names)


@pytest.fixture
def world(people: dict[str, User], core: Core) -> dict[str, Any]:
    """Real rows for every path parameter, and a manager's client."""
    policy = EscalationPolicyFactory.create(team=core.team)
    EscalationStepFactory.create(policy=policy, rotation=core.veteran)
    integration = IntegrationFactory.create(team=core.team)
    am = IntegrationFactory.create(team=core.team, alertmanager=True)
    heartbeat, heartbeat_key = integration_create(
        team=core.team,
        name="Nightly backup",
        type="heartbeat",
        actor=None,
        interval=timedelta(minutes=5),
        grace=timedelta(minutes=1),
    )
    heartbeat.key = heartbeat_key  # type: ignore[attr-defined]
    subscription = WebhookSubscription.objects.create(url="https://hooks.example.com/in")
    postmortem = postmortem_start(incident=IncidentFactory.create(team=core.team), actor=core.alice)
    item = action_item_create(
        postmortem=postmortem, actor=core.alice, title="Alert", owner=core.bob, kind="detect"
    )
    return {
        "client": bearer_client(people["manager"]),
        "ids": {
            "incident_id": IncidentFactory.create(team=core.team).pk,
            "policy_id": policy.pk,
            "integration_id": integration.pk,
            "override_id": OverrideFactory.create(rotation=core.veteran, user=core.alice).pk,
            "request_id": OverrideRequest.objects.create(
                rotation=core.veteran,
                kind="cover",
                requester=core.alice,
                recipient=core.bob,
                start=datetime(2099, 1, 5, tzinfo=UTC),
                end=datetime(2099, 1, 6, tzinfo=UTC),
            ).pk,
            "answer": "accept",
            "rotation_id": core.veteran.pk,
            "method_id": ContactMethod.objects.create(
                user=people["manager"],
                channel="email",
                address="manager@example.com",
                verified_at=datetime.now(UTC),
            ).pk,
            "slug": core.team.slug,
            "subscription_id": subscription.pk,
            "postmortem_id": postmortem.pk,
            "item_id": item.pk,
            "report_id": OnCallReport.objects.create(
                rotation=core.veteran,
                user=core.alice,
                shift_start=datetime(2026, 1, 5, 14, tzinfo=UTC),
                shift_end=datetime(2026, 1, 12, 14, tzinfo=UTC),
            ).pk,
            "week": "2026-W11",
            "entry_id": PlaybookEntry.objects.create(
                team=core.team, title="T", applies_when="W", steps="1. S"
            ).pk,
            "level": "SEV2",
        },
        "integrations": {
            "events-v2": integration,
            "alertmanager": am,
            "alertmanager-key": am,
            "heartbeat": heartbeat,  # any body is a ping (Alertmanager's Watchdog, say)
        },
    }


def _path(template: str, ids: dict[str, Any], far: bool) -> str:
    return re.sub(
        r"\{(\w+)\}",
        lambda m: "99999999999999999999" if far else str(ids[m.group(1)]),
        template,
    )


WRITES = _api_writes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "schema"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES]
)
def test_api_writes_never_answer_5xx(
    world: dict[str, Any], method: str, path: str, schema: dict[str, Any] | None
) -> None:
    components = _schema()["components"]["schemas"]
    client: Client = world["client"]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(body=_bodies(schema, components), far=st.booleans())
    def run(body: Any, far: bool) -> None:
        url = _path(path, world["ids"], far and "{" in path)
        response = getattr(client, method)(url, data=_write(body), content_type="application/json")
        assert response.status_code < 500, (url, body, response.content[:500])

    run()


def _event_skeleton(key: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "routing_key": {"enum": [key]},
            "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
            "dedup_key": {"type": "string"},
            "client": {"type": "string"},
            "links": {"type": "array", "items": {"type": "object", "properties": {"href": {}}}},
            "payload": {
                "type": "object",
                "properties": {
                    "summary": {"enum": ["Disk full"]},
                    "source": {"enum": ["db-1"]},
                    "severity": {"enum": ["critical"]},
                    "timestamp": {"enum": ["2026-03-09T13:00:00Z"]},
                    "component": {},
                    "custom_details": {},
                },
            },
        },
    }


def _am_skeleton() -> dict[str, Any]:
    alert = {
        "type": "object",
        "properties": {
            "status": {"enum": ["firing", "resolved"]},
            "labels": {"type": "object", "properties": {"severity": {"enum": ["critical"]}}},
            "annotations": {"type": "object", "properties": {"summary": {}}},
            "startsAt": {"enum": ["2026-03-09T13:00:00Z"]},
            "endsAt": {"enum": ["0001-01-01T00:00:00Z"]},
            "fingerprint": {"enum": ["f1"]},
        },
    }
    return {
        "type": "object",
        "properties": {
            "version": {"enum": ["4"]},
            "groupKey": {"enum": ['{}:{alertname="x"}']},
            "status": {"enum": ["firing", "resolved"]},
            "receiver": {},
            "truncatedAlerts": {"enum": [0]},
            "commonLabels": {"type": "object", "properties": {"alertname": {}}},
            "alerts": {"type": "array", "items": alert},
        },
    }


DOORS = _ingest_doors()


@pytest.mark.django_db
@pytest.mark.parametrize("door", DOORS)
def test_ingestion_doors_never_answer_5xx_and_accepted_events_fold(
    world: dict[str, Any], door: str
) -> None:
    from django.urls import reverse

    integration: Integration = world["integrations"][door]
    key: str = integration.key  # type: ignore[attr-defined]
    in_path = door.endswith("-key") or door == "heartbeat"
    url = reverse(f"integrations:{door}", kwargs={"key": key} if in_path else {})
    headers = {} if door != "alertmanager" else {"Authorization": f"Bearer {key}"}
    skeleton = _event_skeleton(key) if door == "events-v2" else _am_skeleton()
    client = Client()
    post: Callable[[bytes], Any] = lambda raw: client.post(  # noqa: E731
        url, data=raw, content_type="application/json", headers=headers
    )

    @settings(
        max_examples=MAX_EXAMPLES * 3,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(body=_bodies(skeleton, {}))
    def run(body: Any) -> None:
        response = post(_write(body))
        assert response.status_code < 500, (body, response.content[:500])
        if response.status_code < 300:
            fold_accepted()
            failed = InboundEvent.objects.exclude(last_error="")
            assert not failed.exists(), (body, list(failed.values_list("last_error", flat=True)))

    run()
