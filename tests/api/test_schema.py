"""The OpenAPI schema and its docs UI (served from local sidecar assets)."""

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from oncall.models import User
from tests.api.conftest import assert_error, bearer_client

pytestmark = pytest.mark.django_db


# Ingestion (integrations, webhooks) documents its own operations.
OTHERS = ("/api/v1/integrations/", "/api/v1/webhooks/")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return generated


def ours(schema: dict[str, Any]) -> dict[str, Any]:
    return {p: item for p, item in schema["paths"].items() if not p.startswith(OTHERS)}


def test_schema_validates_without_warnings(tmp_path: Any) -> None:
    out = StringIO()
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "s.yaml"),
        stdout=out,
        stderr=out,
    )
    # --fail-on-warn exits on a warning; what it wrote must also be the whole schema.
    written = (tmp_path / "s.yaml").read_text()
    assert written.startswith("openapi: 3.")
    assert "/api/v1/incidents/{incident_id}/acknowledge/:" in written
    assert not re.search(r"warning|error", out.getvalue(), re.IGNORECASE), out.getvalue()


def test_every_operation_documents_its_bodies_and_errors(schema: dict[str, Any]) -> None:
    operations = [
        (path, method, op)
        for path, item in ours(schema).items()
        for method, op in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    ]
    assert len(operations) >= 35
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert "403" in op["responses"], where
        success = [s for s in op["responses"] if s.startswith("2")]
        assert success, where
        if method != "delete":
            assert "content" in op["responses"][success[0]], where
        if method in {"post", "patch"} and not path.endswith(
            (
                "/acknowledge/",
                "/acknowledge-handoff/",
                "/oncall-reports/{report_id}/submit/",
                "/escalate/",
                "/{answer}/",
                "/contact-methods/{method_id}/test/",
            )
        ):
            assert "requestBody" in op, where
        for status in set(op["responses"]) - {"200", "201", "204"}:
            body = op["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, where


def test_schema_names_the_bearer_scheme_on_every_operation(schema: dict[str, Any]) -> None:
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for item in ours(schema).values():
        for op in item.values():
            assert {"bearerAuth": []} in op["security"]


def test_the_contract_field_names(schema: dict[str, Any]) -> None:
    props = {
        name: set(c.get("properties", {})) for name, c in schema["components"]["schemas"].items()
    }
    assert {"slug", "name", "escalation_contact", "contact_mode"} <= props["Team"]
    assert props["User"] == {"id", "username", "name", "email", "phone", "timezone"}
    assert {
        "id",
        "team",
        "name",
        "tier",
        "position",
        "shift_length",
        "handoff_time",
        "timezone",
        "start_date",
        "members",
        "ical_url",
    } <= props["Rotation"]
    assert {"id", "team", "name", "repeat", "steps"} <= props["EscalationPolicy"]
    assert {"action", "rotation", "users", "wait"} <= props["EscalationStep"]
    assert {
        "id",
        "number",
        "title",
        "description",
        "severity",
        "status",
        "team",
        "dedup_key",
        "created_at",
        "acknowledged_at",
        "resolved_at",
    } <= props["Incident"]
    severities = schema["components"]["schemas"]["SeverityEnum"]["enum"]
    assert severities == ["SEV0", "SEV1", "SEV2", "SEV3"]


def test_schema_is_served(client: Client) -> None:
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_docs_page_uses_only_local_assets_that_are_served(client: Client) -> None:
    page = client.get(reverse("api:docs"))

    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"']+", html)
    assert "//cdn" not in html
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", html)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset


def test_the_schema_and_docs_need_sign_in_by_default(
    client: Client, settings: Any, people: dict[str, User]
) -> None:
    from oncall.settings import base

    assert base.API_SCHEMA_PUBLIC is False  # unless API_SCHEMA_PUBLIC=1 in the environment
    settings.API_SCHEMA_PUBLIC = base.API_SCHEMA_PUBLIC
    schema, docs = reverse("api:schema"), reverse("api:docs")

    anonymous = [client.get(schema, HTTP_ACCEPT="application/json"), client.get(docs)]
    api = bearer_client(people["support"])
    signed_in = [api.get(schema, HTTP_ACCEPT="application/json"), api.get(docs)]

    assert [r.status_code for r in anonymous] == [403, 403]
    assert_error(anonymous[0], 403, "not_authenticated")
    assert [r.status_code for r in signed_in] == [200, 200]
    assert signed_in[0].json()["openapi"].startswith("3.")
