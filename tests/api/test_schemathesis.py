"""Property-based run of every documented operation against the app (schemathesis).

Inputs are generated from the OpenAPI schema and sent, with a manager's API key, straight
to the WSGI application; no answer may be a 5xx and every answer must match the schema.
Runs in `make test`; CI also runs the schemathesis CLI against a live server.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from oncall.models import User
from postmortems.services import action_item_create, postmortem_start
from reports.models import OnCallReport
from tests.api.conftest import Core
from tests.factories import ApiKeyFactory, IncidentFactory, OverrideFactory

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db]
MAX_EXAMPLES = 8


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Like Django's test client: a request must not close the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def manager_key(people: dict[str, User], core: Core) -> str:
    # Something to find, so ids in paths sometimes hit real rows.
    IncidentFactory.create(team=core.team)
    OverrideFactory.create(rotation=core.veteran, user=core.alice)
    postmortem = postmortem_start(incident=IncidentFactory.create(team=core.team), actor=core.alice)
    action_item_create(
        postmortem=postmortem, actor=core.alice, title="Alert", owner=core.bob, kind="detect"
    )
    OnCallReport.objects.create(
        rotation=core.veteran,
        user=core.alice,
        shift_start=datetime(2026, 1, 5, 14, tzinfo=UTC),
        shift_end=datetime(2026, 1, 12, 14, tzinfo=UTC),
    )
    key: Any = ApiKeyFactory.create(user=people["manager"])
    secret: str = key.secret
    return secret


# Ingestion (integrations, webhooks) is another part's and is fuzzed there.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application()).exclude(
    path_regex=r"^/api/v1/(integrations|webhooks)/"
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.usefixtures("keep_test_connection")
def test_api_never_errors_and_matches_its_schema(case: Any, manager_key: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {manager_key}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
