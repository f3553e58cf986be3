"""Bad input at every API door: a 4xx in the one error shape, nothing stored, never a 500."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from incidents.models import Incident
from rotations.models import Team
from tests.api.conftest import Core, assert_error

pytestmark = pytest.mark.django_db
INCIDENTS = reverse("api:incident-list")
GOOD = {"title": "Checkout down", "severity": "SEV1", "team": "core"}


def post_raw(api: Client, path: str, raw: str, content_type: str = "application/json") -> Any:
    return api.generic("POST", path, raw.encode(), content_type=content_type)


DOORS = [
    reverse("api:incident-list"),
    reverse("api:engage"),
    reverse("api:key-list"),
    reverse("api:team-list"),
    reverse("api:rotation-list"),
    reverse("api:override-list"),
    reverse("api:escalation-policy-list"),
]


@pytest.mark.parametrize("path", DOORS)
@pytest.mark.parametrize("raw", ['{"title": ', "not json", '{"a": NaN}', "\x00"])
def test_malformed_json_is_400_parse_error(
    manager_api: Client, core: Core, path: str, raw: str
) -> None:
    assert_error(post_raw(manager_api, path, raw), 400, "parse_error")


@pytest.mark.parametrize("path", DOORS)
@pytest.mark.parametrize("raw", ["[]", "42", '"text"', "null"])
def test_a_body_that_is_not_an_object_is_400(
    manager_api: Client, core: Core, path: str, raw: str
) -> None:
    before = (Incident.objects.count(), Team.objects.count())

    assert_error(post_raw(manager_api, path, raw), 400)
    assert (Incident.objects.count(), Team.objects.count()) == before


@pytest.mark.parametrize("path", DOORS)
def test_a_form_body_is_415(manager_api: Client, path: str) -> None:
    response = post_raw(manager_api, path, "title=x", "application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", DOORS)
def test_an_oversized_body_is_413_and_stores_nothing(
    manager_api: Client, core: Core, settings: Settings, path: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_raw(manager_api, path, '{"title": "' + "x" * 2000 + '"}')

    assert_error(response, 413, "too_large")
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severity": "SEV9"}, "severity"),
        ({"severity": "critical"}, "severity"),
        ({"severity": 1}, "severity"),
        ({"severity": ["SEV1"]}, "severity"),
        ({"team": "nope"}, "team"),
        ({"team": 7}, "team"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"title": {"a": 1}}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "nul\x00byte"}, "title"),
        ({"commander": "me"}, "commander"),
        ({"commander": 10**30}, "commander"),
        ({"commander": 999999}, "commander"),
        ({"dedup_key": "k" * 256}, "dedup_key"),
    ],
)
def test_bad_incident_fields_are_400_naming_the_field(
    manager_api: Client, core: Core, change: dict[str, Any], field: str
) -> None:
    response = manager_api.post(INCIDENTS, {**GOOD, **change}, content_type="application/json")

    error = assert_error(response, 400, field=field)
    assert field in error["message"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("missing", ["title", "severity", "team"])
def test_missing_fields_are_400_required(manager_api: Client, core: Core, missing: str) -> None:
    body = {k: v for k, v in GOOD.items() if k != missing}

    response = manager_api.post(INCIDENTS, body, content_type="application/json")

    assert_error(response, 400, "required", field=missing)
    assert not Incident.objects.exists()


def test_all_missing_fields_are_named_at_once(manager_api: Client) -> None:
    error = assert_error(manager_api.post(INCIDENTS, {}, content_type="application/json"), 400)

    assert set(error["fields"]) == {"title", "severity", "team"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "has space", "name": "X"}, "slug"),
        ({"slug": "x", "name": "X", "contact_mode": "fax"}, "contact_mode"),
        ({"slug": "x", "name": "X", "escalation_contact": 999999}, "escalation_contact"),
        ({"slug": "x", "name": "X", "escalation_contact": "bob"}, "escalation_contact"),
        ({"slug": "x"}, "name"),
    ],
)
def test_bad_team_fields(manager_api: Client, body: dict[str, Any], field: str) -> None:
    response = manager_api.post(reverse("api:team-list"), body, content_type="application/json")

    assert_error(response, 400, field=field)
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    "duration", ["P99999999999999999999D", "PT99999999999999999999H", "P1Y", "x" * 100, 7]
)
def test_absurd_durations_are_400(manager_api: Client, core: Core, duration: Any) -> None:
    response = manager_api.post(
        reverse("api:rotation-list"),
        {"team": "core", "tier": "none", "shift_length": duration},
        content_type="application/json",
    )

    assert_error(response, 400, field="shift_length")


def test_absurd_datetimes_are_400(manager_api: Client, core: Core) -> None:
    response = manager_api.post(
        reverse("api:override-list"),
        {
            "rotation": core.veteran.pk,
            "user": core.alice.pk,
            "start": "9999-12-31T23:59:59-23:00",
            "end": "0001-01-01T00:00:00+23:00",
        },
        content_type="application/json",
    )

    assert_error(response, 400)


def test_unknown_ids_in_paths_are_404_even_when_huge(manager_api: Client) -> None:
    for name in ("incident-detail", "rotation-detail", "override-detail", "user-detail"):
        response = manager_api.get(reverse(f"api:{name}", args=[10**25]))
        assert_error(response, 404, "not_found")


# Found by schemathesis against PostgreSQL, which refuses these with errors, not empty answers.
@pytest.mark.parametrize(
    "since", ["0113-09-10T08:33:02.01-22:55", "0001-01-01T00:00:00+05:00", "2026-01-01"]
)
def test_far_offsets_and_dates_in_filters_are_400_or_read_as_utc(
    manager_api: Client, since: str
) -> None:
    response = manager_api.get(INCIDENTS, {"since": since})

    if not since.startswith("2026"):  # outside the years 2000–2199 the portal accepts
        assert_error(response, 400, field="since")
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("path", [INCIDENTS, reverse("api:escalation-policy-list")])
def test_a_nul_byte_in_a_team_slug_is_400(manager_api: Client, path: str) -> None:
    body = {**GOOD, "name": "x", "steps": [{"action": "team"}], "team": "co\x00re"}

    response = manager_api.post(path, body, content_type="application/json")

    assert_error(response, 400, field="team")
