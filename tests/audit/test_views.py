"""`/audit/`: Managers only, filtered by type, person and dates, paged, and each audited
object's admin page links its history."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from audit import views
from audit.models import AuditEntry
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import Rotation
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/audit/"


def signed_in(client: Client, *roles: str, **extra: object) -> User:
    user = UserFactory.create(username="viewer", roles=list(roles), timezone="UTC", **extra)
    client.force_login(user)
    return user


def test_anonymous_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/?next=/audit/" in response["Location"]


@pytest.mark.parametrize("role", [SUPPORT, SUPPORT_MANAGER, ENGINEER])
def test_only_managers_may_read_it(client: Client, role: str) -> None:
    signed_in(client, role)
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("extra", [{"roles": [MANAGER]}, {"is_superuser": True}])
def test_a_manager_or_superuser_reads_it(client: Client, extra: dict[str, object]) -> None:
    roles = extra.pop("roles", [])
    user = UserFactory.create(username="viewer", roles=roles, **extra)
    client.force_login(user)
    RotationFactory.create(name="Night watch")
    page = client.get(URL).content.decode()
    assert "Night watch" in page
    assert "created rotation" in page
    # Types by the names people use, not the models' ("escalationstep").
    assert '<option value="escalationstep">Escalation step</option>' in page
    assert '<option value="apikey">API key</option>' in page


def test_filters_by_type_person_and_day(client: Client) -> None:
    signed_in(client, MANAGER)
    alice = UserFactory.create(username="alice")
    with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=UTC)):
        RotationFactory.create(name="Early rotation", team=TeamFactory.create(name="Early team"))
    with time_machine.travel(datetime(2026, 3, 5, 12, tzinfo=UTC)):
        RotationFactory.create(name="Late rotation")
    late = Rotation.objects.get(name="Late rotation")
    AuditEntry.objects.filter(object_id=late.pk, content_type__model="rotation").update(actor=alice)

    by_type = client.get(URL, {"object_type": "team"}).content.decode()
    assert "Early team" in by_type
    assert "Early rotation" not in by_type

    by_person = client.get(URL, {"actor": alice.pk}).content.decode()
    assert "Late rotation" in by_person
    assert "Early rotation" not in by_person

    by_day = client.get(URL, {"from": "2026-03-01", "to": "2026-03-01"}).content.decode()
    assert "Early rotation" in by_day
    assert "Late rotation" not in by_day


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"object_type": "incident"}, "object_type"),
        ({"actor": "x"}, "actor"),
        ({"from": "9999-01-01"}, "from"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"before": "-3"}, "before"),
    ],
)
def test_bad_filters_answer_400_naming_the_field(
    client: Client, query: dict[str, str], field: str
) -> None:
    signed_in(client, MANAGER)
    response = client.get(URL, query)
    assert response.status_code == 400
    assert field in response.context["form"].errors


def test_pages_go_back_in_time_without_counting(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    signed_in(client, MANAGER)
    for n in range(5):
        TeamFactory.create(slug=f"t{n}", name=f"Team number {n}")
    first = client.get(URL, {"object_type": "team"})
    html = first.content.decode()
    assert "Team number 4" in html
    assert "Team number 1" not in html
    older = first.context["older_query"]
    assert older
    second = client.get(f"{URL}?{older}").content.decode()
    assert "Team number 1" in second
    assert "Team number 4" not in second


def test_the_page_costs_a_fixed_number_of_queries(
    client: Client, django_assert_max_num_queries: object
) -> None:
    signed_in(client, MANAGER)
    for n in range(20):
        RotationFactory.create(name=f"Rotation {n}", team=TeamFactory.create(slug=f"q{n}"))
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        assert client.get(URL).status_code == 200


def test_an_audited_objects_admin_page_links_its_history(client: Client) -> None:
    signed_in(client, MANAGER, is_staff=True)
    rotation = RotationFactory.create()
    page = client.get(reverse("admin:rotations_rotation_change", args=[rotation.pk]))
    link = f"/audit/?object_type=rotation&amp;object_id={rotation.pk}"
    assert link in page.content.decode()
    history = client.get(f"/audit/?object_type=rotation&object_id={rotation.pk}")
    assert history.status_code == 200
    assert len(history.context["rows"]) == 1


def test_the_audit_history_link_is_a_managers(client: Client) -> None:
    team = TeamFactory.create()
    signed_in(client, SUPPORT_MANAGER, is_staff=True)
    page = client.get(reverse("admin:rotations_team_change", args=[team.pk]))
    assert page.status_code == 200  # they may view the team…
    assert "Audit history" not in page.content.decode()  # …not its trail
