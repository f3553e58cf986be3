"""Same limits everywhere: the portal's forms refuse what the API refuses, by one constant.

Each form field's limit is the API serializer's (or the model's) for the same value, so
the two cannot drift; a value one character too long is a form error, never a 500 or a
silently shortened value.
"""

import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.db import models
from django.test import Client
from django.urls import reverse
from rest_framework import serializers

from incidents import forms as incident_forms
from incidents.api import serializers as incident_api
from incidents.models import Incident, TimelineEvent
from notifications.forms import ContactMethodForm
from notifications.models import ContactMethod
from oncall.roles import MANAGER
from rotations import forms as rotation_forms
from rotations.api import serializers as rotation_api
from tests.factories import IncidentFactory, RotationFactory, TeamFactory, UserFactory

# (form class, form field, serializer class, serializer field): the same value's two doors.
SAME_VALUE = [
    (incident_forms.DeclareForm, "title", incident_api.IncidentCreateSerializer, "title"),
    (
        incident_forms.DeclareForm,
        "description",
        incident_api.IncidentCreateSerializer,
        "description",
    ),
    (incident_forms.DeclareForm, "ticket", incident_api.IncidentCreateSerializer, "ticket"),
    (incident_forms.EngageForm, "ticket", incident_api.EngageSerializer, "ticket"),
    (incident_forms.EngageForm, "requester_name", incident_api.EngageSerializer, "requester"),
    (incident_forms.EngageForm, "requester_phone", incident_api.EngageSerializer, "phone"),
    (incident_forms.EngageForm, "bridge", incident_api.EngageSerializer, "bridge"),
    (incident_forms.ResolveForm, "note", incident_api.ResolveSerializer, "note"),
    (incident_forms.ReopenForm, "reason", incident_api.ReopenSerializer, "reason"),
    (incident_forms.NoteForm, "text", incident_api.NoteSerializer, "text"),
    (
        incident_forms.StatusUpdateForm,
        "message",
        incident_api.StatusUpdateInputSerializer,
        "message",
    ),
    (rotation_forms.OverrideForm, "reason", rotation_api.OverrideInputSerializer, "reason"),
]


def _form_field(form_class: type[forms.Form], name: str) -> forms.CharField:
    field = form_class.base_fields[name]
    assert isinstance(field, forms.CharField)
    return field


@pytest.mark.parametrize(
    ("form_class", "form_field", "serializer_class", "serializer_field"),
    SAME_VALUE,
    ids=[f"{f.__name__}.{n}" for f, n, _, _ in SAME_VALUE],
)
def test_each_form_field_has_the_api_limit(
    form_class: type[forms.Form],
    form_field: str,
    serializer_class: type[serializers.Serializer],
    serializer_field: str,
) -> None:
    api_field = serializer_class().fields[serializer_field]
    assert isinstance(api_field, serializers.CharField)

    assert api_field.max_length
    assert _form_field(form_class, form_field).max_length == api_field.max_length


def test_the_contact_method_form_has_the_model_limits() -> None:
    for name in ("address", "label"):
        model_field = ContactMethod._meta.get_field(name)
        assert isinstance(model_field, models.CharField)
        assert _form_field(ContactMethodForm, name).max_length == model_field.max_length


def _override_form(data: dict[str, Any]) -> forms.Form:
    rotation = RotationFactory.create()
    return rotation_forms.OverrideForm(data, rotation=rotation, tz=zoneinfo.ZoneInfo("UTC"))


FORMS: list[tuple[Callable[[dict[str, Any]], forms.Form], str]] = [
    *[
        (lambda data, form_class=form_class: form_class(data), name)
        for form_class, name, _, _ in SAME_VALUE
        if form_class is not rotation_forms.OverrideForm
    ],
    (_override_form, "reason"),
    (ContactMethodForm, "address"),
    (ContactMethodForm, "label"),
    *[(incident_forms.TriageForm, name) for name in ("who", "what", "where", "when", "how")],
]


@pytest.mark.django_db
@pytest.mark.parametrize(("make", "name"), FORMS)
def test_one_character_too_long_is_a_form_error(
    make: Callable[[dict[str, Any]], forms.Form], name: str
) -> None:
    limit = make({}).fields[name].max_length  # type: ignore[attr-defined]
    assert limit

    too_long = make({name: "x" * (limit + 1)})
    just_right = make({name: "x" * limit})
    too_long.is_valid()
    just_right.is_valid()

    assert f"at most {limit} characters" in " ".join(map(str, too_long.errors[name]))
    assert not [e for e in just_right.errors.get(name, []) if "at most" in str(e)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "field", "limit"),
    [("incidents:note", "text", 20_000), ("incidents:resolve", "note", 20_000)],
)
def test_the_portal_answers_an_over_long_note_with_the_form_not_a_500(
    client: Client, url_name: str, field: str, limit: int
) -> None:
    manager = UserFactory.create(roles=[MANAGER])
    incident = IncidentFactory.create(team=TeamFactory.create())
    client.force_login(manager)
    before = TimelineEvent.objects.filter(incident=incident).count()

    response = client.post(reverse(url_name, args=[incident.pk]), {field: "x" * (limit + 1)})

    assert response.status_code == 400
    assert f"at most {limit} characters" in response.content.decode()
    assert TimelineEvent.objects.filter(incident=incident).count() == before
    assert Incident.objects.get(pk=incident.pk).status == incident.status
