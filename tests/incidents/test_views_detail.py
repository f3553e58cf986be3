"""The incident page says what happens next, in plain words and the viewer's timezone."""

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from incidents.engine import escalation_sweep
from incidents.models import Incident, Severity
from incidents.services import incident_acknowledge, incident_declare, incident_resolve
from oncall.models import User
from oncall.roles import SUPPORT
from rotations.models import StepAction
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, UserFactory
from tests.incidents.conftest import T0, Core, minute_by_minute

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def viewer(db: None) -> User:
    return UserFactory.create(username="sam", roles=[SUPPORT], timezone="America/New_York")


def text(html: str) -> str:
    """What a reader sees: tags dropped (not spaced: "10:10</time>," reads "10:10,")."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def what_next(html: str) -> str:
    match = re.search(r'<div class="what-next" id="what-next">(.*?)</div>', html, re.S)
    assert match, "no 'what happens next' on the page"
    return text(match.group(1))


def declare(core: Core, title: str = "Checkout down", **kwargs: Any) -> Incident:
    return incident_declare(title=title, actor=core.people["john"], team=core.team, **kwargs)


def page(client: Client, incident: Incident) -> str:
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_names_the_next_person_and_when_in_the_viewers_zone(
    client: Client, core: Core, viewer: User
) -> None:
    incident = declare(core)
    escalation_sweep()  # Bob, at the top of the veteran list, is paged at 10:00 New York time
    client.force_login(viewer)
    carol, alice, morgan = (core.people[n].name for n in ("carol", "alice", "morgan"))
    assert what_next(page(client, incident)) == (
        f"If nobody acknowledges by 10:10, {carol} is paged. "
        f"Then, by 10:20, {alice}. "
        f"Then, by 10:30, the CPE manager {morgan} — the last step. "
        "After that nobody else is paged."
    )
    viewer.timezone = "Europe/Berlin"
    viewer.save(update_fields=["timezone"])
    assert what_next(page(client, incident)).startswith(
        f"If nobody acknowledges by 16:10, {carol} is paged."
    )


def test_a_step_that_is_due_says_who_is_being_paged_now(
    client: Client, core: Core, viewer: User
) -> None:
    incident = declare(core)  # the first step is due at once; the worker has not run it yet
    client.force_login(viewer)
    assert what_next(page(client, incident)).startswith(f"Paging {core.people['bob'].name} now.")


def test_step_labels_are_plain_words_not_codes(client: Client, core: Core, viewer: User) -> None:
    incident = declare(core)
    escalation_sweep()
    client.force_login(viewer)
    html = page(client, incident)
    table = text(html[html.index('<table class="tracks">') : html.index("</table>")])
    assert (
        "Step 1 of 2: Page each person on the Core · Veteran primary list in turn, "
        "10 minutes apart" in table
    )
    assert f"Page the CPE manager {core.people['morgan'].name}" in table
    for code in ("walk_rotation", "escalation_contact", "rotation_oncall", " main "):
        assert code not in table


def test_every_track_of_the_round_says_what_comes_next(
    client: Client, core: Core, viewer: User
) -> None:
    policy = EscalationPolicyFactory.create(team=core.team)
    EscalationStepFactory.create(
        policy=policy,
        position=0,
        action=StepAction.USERS,
        users=[core.people["alice"], core.people["bob"]],
        wait=timedelta(minutes=5),
    )
    EscalationStepFactory.create(policy=policy, position=1, wait=timedelta(minutes=5))
    incident = declare(core, severity=Severity.SEV1, escalation_policy=policy)  # both tiers
    escalation_sweep()
    client.force_login(viewer)
    words = what_next(page(client, incident))
    assert (
        f"Escalation: If nobody acknowledges by 10:05, the CPE manager "
        f"{core.people['morgan'].name} is paged."
    ) in words
    # The new tier is paged once, at the start: nothing more comes on that track.
    assert "New tier: Every step has run: nobody else will be paged." in words


def test_after_the_last_step_and_after_an_acknowledgement_the_page_says_so(
    client: Client, core: Core, viewer: User, frozen_now: Any
) -> None:
    exhausted = declare(core)
    acknowledged = declare(core, title="Search slow")
    escalation_sweep()
    incident_acknowledge(incident=acknowledged, actor=core.people["bob"])
    minute_by_minute(frozen_now, 35)
    client.force_login(viewer)
    assert what_next(page(client, exhausted)) == (
        "Every step has run: nobody else will be paged. Escalate now or reassign to page more "
        "people."
    )
    assert what_next(page(client, acknowledged)) == (
        f"Paging stopped: {core.people['bob'].name} acknowledged at 10:00."
    )
    incident_resolve(incident=acknowledged, actor=core.people["bob"])
    assert what_next(page(client, acknowledged)) == "Paging stopped: the incident is resolved."


def test_the_live_poll_brings_what_happens_next_up_to_date(
    client: Client, core: Core, viewer: User, frozen_now: Any
) -> None:
    incident = declare(core)
    escalation_sweep()
    client.force_login(viewer)
    minute_by_minute(frozen_now, 11)  # nobody acknowledged: Carol was paged at 10:10
    html = client.get(f"/incidents/{incident.pk}/live/", headers=HTMX).content.decode()
    assert re.search(r'id="escalation"[^>]*hx-swap-oob="true"', html)
    assert what_next(html).startswith(
        f"If nobody acknowledges by 10:20, {core.people['alice'].name} is paged."
    )


def test_acknowledge_is_offered_to_the_paged_engineer_and_not_to_support(
    client: Client, core: Core, viewer: User
) -> None:
    incident = declare(core)
    escalation_sweep()  # Bob, at the top of the veteran list, is paged
    client.force_login(viewer)  # support: declares and watches, never silences paging
    assert 'id="acknowledge"' not in page(client, incident)
    client.force_login(core.people["bob"])
    assert 'id="acknowledge"' in page(client, incident)
    live = client.get(f"/incidents/{incident.pk}/live/", headers=HTMX).content.decode()
    assert 'id="acknowledge"' in live
