"""The live support dashboard (`/` for support roles): its sections, its refresh that sends
only what changed, and a fixed number of queries however much there is."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client

from incidents.models import Incident, Rung, Status
from incidents.services import incident_acknowledge, incident_declare
from incidents.support.contacts import customer_contact_log
from oncall.models import User
from oncall.roles import SUPPORT
from rotations.models import ContactMode, Tier
from tests.desk.conftest import T0, Desk
from tests.factories import (
    DirectNumberFactory,
    IncidentFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
LIVE = "/incidents/support/live/"


def poll_url(html: str) -> str:
    match = re.search(r'id="dash-poll" hx-get="([^"]+)"', html)
    assert match, "the page has its poller"
    return match.group(1).replace("&amp;", "&")


def section(html: str, name: str) -> str:
    start = html.index(f'id="dash-{name}"')
    end = html.find("</section>", start)
    return html[start:end]


def test_support_roles_get_the_dashboard_others_keep_the_home(client: Client, desk: Desk) -> None:
    for who in ("santhosh", "dinesh", "noah"):
        client.force_login(desk.people[who])
        assert 'id="support-dashboard"' in client.get("/").content.decode(), who
    for who in ("alice", "raja"):
        client.force_login(desk.people[who])
        html = client.get("/").content.decode()
        assert 'id="support-dashboard"' not in html, who
        assert 'id="home-incidents"' in html, who
    admin = UserFactory.create(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert 'id="support-dashboard"' not in client.get("/").content.decode()


def test_the_refresh_is_for_support_roles(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["alice"])
    assert client.get(LIVE, headers=HTMX).status_code == 403


def test_the_sections_show_the_handbooks_picture(client: Client, desk: Desk) -> None:
    platform = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    DirectNumberFactory.create(team=platform, label="Frank (lead)", phone="+12025550116")
    santhosh = desk.people["santhosh"]
    with time_machine.travel(T0, tick=False) as traveller:
        older = incident_declare(title="Older report", actor=None, team=desk.team, severity="SEV2")
        traveller.shift(timedelta(minutes=5))
        newer = incident_declare(title="Newer report", actor=None, team=desk.team, severity="SEV1")
        missed = IncidentFactory.create(
            title="Stuck at the manager",
            team=desk.team,
            severity="SEV3",
            rung=Rung.SUPPORT_MANAGER,
            next_target_at=T0 - timedelta(minutes=1),
            triggered_at=T0 - timedelta(hours=2),
            triage_confirmed_at=T0 - timedelta(hours=1),
        )
        IncidentFactory.create(title="Long resolved", team=desk.core, status=Status.RESOLVED)
        customer_contact_log(
            incident=older,
            actor=desk.people["noah"],
            channel="email",
            summary="x",
            next_due_at=T0 + timedelta(minutes=20),
        )
        from incidents.engine import escalation_sweep

        escalation_sweep()  # pages Santhosh, the first tier on duty, for both
        traveller.shift(timedelta(minutes=29))  # T0 + 34 min: the older triage and contact overdue
        client.force_login(santhosh)
        html = client.get("/").content.decode()

    triage = section(html, "triage")
    assert triage.index("Older report") < triage.index("Newer report")  # oldest first
    assert "Stuck at the manager" not in triage  # its triage is confirmed
    assert "Triage overdue" in triage  # the SEV2's 30 minutes have passed
    assert 'class="countdown" data-deadline=' in triage  # the SEV1 counts down

    open_ = section(html, "open")
    assert "Long resolved" not in open_
    assert open_.index("SEV1") < open_.index("SEV2") < open_.index("SEV3")
    assert "First-tier support" in open_
    assert "Support manager" in open_
    row = open_[open_.index("Stuck at the manager") :]
    assert "Target missed" in row[:600]
    assert 'class="dash-row missed"' in open_

    duty = section(html, "duty")
    assert duty.index("Support") < duty.index("Core")  # the support tiers first
    assert "Support first tier" in duty
    assert santhosh.name in duty
    assert "Support second tier" in duty
    assert desk.people["noah"].name in duty
    assert 'href="tel:+12025550116"' in duty
    assert "Call directly" in duty

    contacts = section(html, "contacts")
    assert older.number in contacts
    assert "Overdue since" in contacts

    mine = section(html, "mine")
    assert older.number in mine
    assert newer.number in mine
    assert "paging you" in mine
    assert mine.count("data-ack") == 2
    assert missed.number not in mine


def test_kiosk_mode_is_a_class_the_stylesheet_makes_full_screen(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    html = client.get("/?kiosk=1").content.decode()
    assert 'class="support-dashboard kiosk"' in html
    assert "kiosk=1" in poll_url(html)
    assert 'src="/static/js/support-dashboard.js"' in html
    assert "<script>" not in html
    assert "style=" not in html


def test_an_unchanged_refresh_sends_nothing(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        incident_declare(title="Prices wrong", actor=None, team=desk.team)
        url = poll_url(client.get("/").content.decode())
        response = client.get(url, headers=HTMX)
    assert response.status_code == 204
    assert response.content == b""
    assert response["ETag"]


def test_a_change_sends_only_the_sections_it_touches(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        url = poll_url(client.get("/").content.decode())
        incident = incident_declare(title="A new report", actor=None, team=desk.team)
        response = client.get(url, headers=HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="dash-triage"' in html
        assert 'id="dash-open"' in html
        assert 'id="dash-duty"' not in html
        assert 'id="dash-contacts"' not in html
        assert html.count('hx-swap-oob="true"') == 3  # the two sections and the poller
        assert "A new report" in html
        # The poller now carries the new versions: asking again sends nothing.
        again = client.get(poll_url(html), headers=HTMX)
        assert again.status_code == 204
        incident_acknowledge(incident=incident, actor=desk.people["raja"])
        changed = client.get(poll_url(html), headers=HTMX).content.decode()
    assert 'id="dash-open"' in changed
    assert 'id="dash-triage"' in changed
    versions = parse_qs(urlsplit(poll_url(changed)).query)
    assert set(versions) == {"triage", "open", "duty", "contacts", "mine"}


def test_a_target_passing_refreshes_its_section_without_any_write(
    client: Client, desk: Desk
) -> None:
    IncidentFactory.create(
        title="Waiting on the manager",
        team=desk.team,
        rung=Rung.SUPPORT_MANAGER,
        next_target_at=T0 + timedelta(minutes=1),
        triage_confirmed_at=T0,
        triggered_at=T0,
    )
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False) as traveller:
        url = poll_url(client.get("/").content.decode())
        assert client.get(url, headers=HTMX).status_code == 204
        traveller.shift(timedelta(minutes=1))
        html = client.get(url, headers=HTMX).content.decode()
    assert 'id="dash-open"' in html
    assert "Target missed" in html


def test_a_renamed_incident_refreshes_its_customer_contact_row(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        incident = incident_declare(title="Prices wrong", actor=None, team=desk.team)
        customer_contact_log(
            incident=incident,
            actor=desk.people["noah"],
            channel="email",
            summary="Told them",
            next_due_at=T0 + timedelta(minutes=30),
        )
        url = poll_url(client.get("/").content.decode())
        assert client.get(url, headers=HTMX).status_code == 204
        Incident.objects.filter(pk=incident.pk).update(title="Prices wrong for Acme")
        html = client.get(url, headers=HTMX).content.decode()
    assert "Prices wrong for Acme" in section(html, "contacts")


def test_midnight_refreshes_the_sections_whose_clocks_leave_out_today(
    client: Client, desk: Desk
) -> None:
    """A clock shows only the time on the day it falls on; the next day it needs its date.
    (T0 is 10:00 in New York, the viewer's zone: 22:00, 23:00, then 00:30 the next day.)"""
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False) as traveller:
        incident_declare(title="Prices wrong", actor=None, team=desk.team)
        traveller.shift(timedelta(hours=12))
        url = poll_url(client.get("/").content.decode())
        traveller.shift(timedelta(hours=1))
        assert client.get(url, headers=HTMX).status_code == 204  # every target long missed
        traveller.shift(timedelta(hours=1, minutes=30))
        html = client.get(url, headers=HTMX).content.decode()
    assert 'id="dash-open"' in html
    assert 'id="dash-triage"' in html


def _crowd(desk: Desk, teams: int, incidents: int) -> None:
    people = [UserFactory.create(username=f"p{n}", roles=[SUPPORT]) for n in range(teams * 2)]
    for n in range(teams):
        team = TeamFactory.create(slug=f"t{n}", name=f"Team {n}")
        RotationFactory.create(team=team, tier=Tier.VETERAN, members=people[2 * n : 2 * n + 2])
        RotationFactory.create(team=team, tier=Tier.NEW, members=[people[2 * n]])
        DirectNumberFactory.create(team=team)
    Incident.objects.bulk_create(
        Incident(title=f"Incident {n}", team=desk.team, triggered_at=T0, severity="SEV2")
        for n in range(incidents)
    )


@pytest.mark.parametrize("size", [(1, 1), (8, 60)])
def test_the_refresh_and_the_page_take_a_fixed_number_of_queries(
    client: Client, desk: Desk, django_assert_max_num_queries, size: tuple[int, int]
) -> None:
    _crowd(desk, *size)
    viewer: User = desk.people["noah"]
    with time_machine.travel(T0, tick=False):
        client.force_login(viewer)
        with django_assert_max_num_queries(15):
            html = client.get("/").content.decode()
        with django_assert_max_num_queries(15):
            assert client.get(LIVE, headers=HTMX).status_code == 200
        with django_assert_max_num_queries(15):
            assert client.get(poll_url(html), headers=HTMX).status_code == 204
