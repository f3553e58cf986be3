"""Security incidents (issue 16 point 8): the security owner is told at once (outbox), and
until it is resolved only the people working it, the security owner and Managers see it:
at every door (list, page, live, actions, my incidents, the API), others get 404."""

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

from incidents.engine import escalation_sweep
from incidents.models import Category, Incident, TimelineKind
from incidents.selectors import incidents_visible_to
from incidents.services import incident_declare, incident_resolve
from incidents.services.ladder import incident_add_responder
from incidents.services.security import SECURITY_NOTICE, SECURITY_OWNERS, incident_set_category
from notifications.models import Channel, Notification
from oncall.models import User
from tests.api.conftest import bearer_client
from tests.factories import UserFactory
from tests.incidents.conftest import T0
from tests.incidents.ladder import Desk, rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now(settings: Any) -> Iterator[Any]:
    settings.SECURITY_OWNER_EMAIL = "security@example.com"
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def vijay(db: None) -> User:
    user = UserFactory.create(username="vijay")
    user.groups.set(Group.objects.filter(name=SECURITY_OWNERS))
    return user


def breach(desk: Desk) -> Incident:
    """Declared by the first tier on the support desk: dinesh (its contact) is paged."""
    incident = incident_declare(
        title="Leaked API token",
        actor=desk.santhosh,
        team=desk.team,
        category=Category.SECURITY,
    )
    escalation_sweep()
    return incident


def test_the_security_owner_is_told_at_once_through_the_outbox(desk: Desk, vijay: User) -> None:
    incident = breach(desk)
    told = Notification.objects.filter(subject_type=SECURITY_NOTICE, subject_id=incident.pk)
    email = told.get(channel=Channel.EMAIL, recipient=None)
    assert email.address == "security@example.com"
    assert email.subject == f"Security incident [SEV2] {incident.number}: Leaked API token"
    assert told.filter(recipient=vijay).exists()
    [row] = [r for r in rows(incident, TimelineKind.CATEGORY)]
    assert row.message == "Security owner notified: security@example.com, " + str(vijay)


def test_becoming_a_security_incident_tells_the_owner_and_goes_on_the_timeline(
    desk: Desk, vijay: User
) -> None:
    incident = incident_declare(title="Odd logins", actor=desk.santhosh, team=desk.team)
    assert not Notification.objects.filter(subject_type=SECURITY_NOTICE).exists()
    incident_set_category(incident=incident, category=Category.SECURITY, actor=desk.santhosh)
    messages = [r.message for r in rows(incident, TimelineKind.CATEGORY)]
    assert messages[0] == "Category Other → Security"
    assert messages[1].startswith("Security owner notified: security@example.com")
    assert Notification.objects.filter(subject_type=SECURITY_NOTICE, recipient=vijay).exists()


def test_the_api_sets_the_category_and_refuses_a_bad_one(desk: Desk) -> None:
    incident = incident_declare(title="Odd logins", actor=desk.santhosh, team=desk.team)
    api = bearer_client(desk.santhosh)
    url = f"/api/v1/incidents/{incident.pk}/category/"
    bad = api.post(url, {"category": "spooky"}, content_type="application/json")
    assert bad.status_code == 400
    ok = api.post(url, {"category": "customer"}, content_type="application/json")
    assert ok.status_code == 200
    assert ok.json()["category"] == "customer"


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("santhosh", True),  # declared it
        ("dinesh", True),  # paged (the desk's escalation contact)
        ("morgan", True),  # a Manager
        ("vijay", True),  # the Security owners group
        ("owner_by_email", True),  # SECURITY_OWNER_EMAIL
        ("bob", False),  # an engineer not working it
        ("noah", False),  # another support person
    ],
)
def test_only_those_working_it_see_an_open_security_incident_at_every_door(
    desk: Desk, vijay: User, client: Client, who: str, sees: bool
) -> None:
    incident = breach(desk)
    UserFactory.create(username="owner_by_email", email="Security@example.com")
    UserFactory.create(username="noah")
    viewer = User.objects.get(username=who)
    client.force_login(viewer)
    api = bearer_client(viewer)
    found = 200 if sees else 404
    assert client.get(f"/incidents/{incident.pk}/").status_code == found
    live = client.get(f"/incidents/{incident.pk}/live/", HTTP_HX_REQUEST="true")
    assert live.status_code == found
    assert (incident.title in client.get("/incidents/").content.decode()) is sees
    assert api.get(f"/api/v1/incidents/{incident.pk}/").status_code == found
    listed = [i["id"] for i in api.get("/api/v1/incidents/").json()["results"]]
    assert (incident.pk in listed) is sees
    assert api.get(f"/api/v1/incidents/{incident.pk}/notifications/").status_code == found
    note = client.post(f"/incidents/{incident.pk}/note/", {"text": "peeking"})
    assert note.status_code == (302 if sees else 404)
    assert list(
        incidents_visible_to(viewer).filter(pk=incident.pk).values_list("pk", flat=True)
    ) == ([incident.pk] if sees else [])


def test_my_incidents_hides_it_from_others_and_counts_it_for_the_declarer(
    desk: Desk, client: Client
) -> None:
    breach(desk)
    client.force_login(desk.bob)
    assert "Leaked API token" not in client.get("/incidents/mine/").content.decode()
    client.force_login(desk.santhosh)
    assert "Leaked API token" in client.get("/incidents/mine/").content.decode()


def test_a_responder_sees_it_and_everyone_does_once_resolved(desk: Desk) -> None:
    incident = breach(desk)
    carol = desk.carol
    assert not incidents_visible_to(carol).filter(pk=incident.pk).exists()
    incident_add_responder(incident=incident, user=carol, actor=desk.morgan)
    assert incidents_visible_to(carol).filter(pk=incident.pk).exists()
    assert not incidents_visible_to(desk.bob).filter(pk=incident.pk).exists()
    incident_resolve(incident=incident, actor=desk.morgan)
    assert incidents_visible_to(desk.bob).filter(pk=incident.pk).exists()


def test_the_triage_panel_and_the_weekly_review_never_name_an_open_security_incident(
    desk: Desk, vijay: User, client: Client
) -> None:
    """Related incidents on another incident's triage panel, and the weekly review (which
    everyone reads), leave out an open security incident's title; resolved, it is listed."""
    from incidents.selectors import incidents_related
    from postmortems.review import IsoWeek, weekly_review

    secret = breach(desk)
    Incident.objects.filter(pk=secret.pk).update(service="billing")
    other = incident_declare(title="Billing page slow", actor=desk.santhosh, team=desk.team)
    Incident.objects.filter(pk=other.pk).update(service="billing")
    other.refresh_from_db()

    assert incidents_related(incident=other, now=T0, viewer=desk.carol) == []
    assert [i.pk for i in incidents_related(incident=other, now=T0, viewer=vijay)] == [secret.pk]
    client.force_login(desk.carol)
    page = client.get(f"/incidents/{other.pk}/")
    assert page.status_code == 200
    assert "Leaked API token" not in page.content.decode()

    def listed() -> list[int]:
        review = weekly_review(IsoWeek.of(T0), now=T0)
        assert review.totals.count == 2  # counted either way
        return [i.pk for group in review.by_severity for i in group.incidents]

    assert listed() == [other.pk]
    incident_resolve(incident=secret, actor=desk.dinesh)
    assert sorted(listed()) == sorted([secret.pk, other.pk])
