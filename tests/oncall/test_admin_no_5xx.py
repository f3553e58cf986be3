"""No input reaches a 500 in the admin: every registered ModelAdmin's add and change forms.

The admins are read from `admin.site._registry`, so a new one is covered without touching
this file. A superuser opens each add page and the change page of a real row, reads the
form as the page wrote it (inlines and their management forms included), and hypothesis
posts it back with any field absent, as written, or hostile (`tests.hostile`): NUL, lone
surrogates, 30-digit numbers, years 1 and 9999 in any zone, text far over its limit, wrong
types. Object ids in the URL are hostile too. Every answer must be below 500.
"""

import os
import traceback
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from incidents.engine.due import escalation_run_due
from incidents.services import incident_declare, incident_post_status_update
from integrations.models import WebhookSubscription
from notifications.services import contact_method_create, notification_rule_create
from oncall.models import Heartbeat, User
from oncall.roles import MANAGER
from tests.factories import (
    ApiKeyFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IntegrationFactory,
    OverrideFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)
from tests.hostile import HUGE_ID, encode, form_body, fuzz_run, page_forms, urlencoded
from tests.integrations.support import post_json, trigger

EXAMPLES_PER_PAGE = int(os.environ.get("ADMIN_FUZZ_EXAMPLES", "15"))
FUZZ_SEED = os.environ.get("ADMIN_FUZZ_SEED")


@dataclass(frozen=True)
class AdminPage:
    label: str  # app_label.model add|change
    path: str
    fields: dict[str, list[str]]


def _rows(superuser: User) -> None:
    """At least one row of every model the admin edits."""
    manager = UserFactory.create(username="mona", roles=[MANAGER], timezone="Pacific/Kiritimati")
    team = TeamFactory.create(slug="core", escalation_contact=manager)
    rotation = RotationFactory.create(team=team, members=[manager, superuser])
    policy = EscalationPolicyFactory.create(team=team)
    EscalationStepFactory.create(policy=policy, walk=True, rotation=rotation)
    OverrideFactory.create(rotation=rotation, user=superuser)
    method = contact_method_create(
        user=manager, channel="email", address="mona@example.com", send_code=False
    )
    notification_rule_create(user=manager, urgency="high", contact_method=method, delay=0)
    incident = incident_declare(title="Disk full", team=team, actor=manager)
    incident_post_status_update(incident=incident, message="Looking.", actor=manager)
    escalation_run_due(now=timezone.now())
    integration: Any = IntegrationFactory.create(team=team)
    post_json(Client(), reverse("integrations:events-v2"), trigger(integration.key))
    WebhookSubscription.objects.create(team=team, url="https://hooks.example.com/in")
    ApiKeyFactory.create(user=manager)
    Heartbeat.objects.create(name="beat", at=timezone.now())


def _admin_pages(client: Client) -> list[AdminPage]:
    pages = []
    for model in admin.site._registry:
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        row: Model | None = model._default_manager.order_by("pk").first()
        paths = [("add", reverse(f"{base}_add"))]
        if row is not None:
            paths.append(("change", reverse(f"{base}_change", args=[row.pk])))
        for kind, path in paths:
            response = client.get(path)
            if response.status_code != 200:  # read-only admins answer 403 to add
                continue
            fields = page_forms(path, response.content.decode()).forms.get(path, {})
            pages.append(AdminPage(f"{meta.label} {kind}", path, fields))
    return pages


@pytest.fixture
def superuser_client(db: None) -> tuple[Client, User]:
    superuser = UserFactory.create(
        username="root", is_staff=True, is_superuser=True, timezone="Pacific/Pago_Pago"
    )
    _rows(superuser)
    client = Client()
    client.force_login(superuser)
    return client, superuser


def _hostile_path(path: str) -> st.SearchStrategy[str]:
    """The page itself, or a change page whose object id is hostile."""
    if "/change/" not in path:
        return st.just(path)
    head = path.rsplit("/", 3)[0]
    ids = st.sampled_from([HUGE_ID, "1" + "0" * 30, "²", "-1", "\x00", "\ud800", "x" * 300])
    return st.just(path) | ids.map(lambda value: f"{head}/{encode(value)}/change/")


def _fuzz(page: AdminPage, client: Client, superuser: User) -> None:
    @fuzz_run(EXAMPLES_PER_PAGE, FUZZ_SEED)
    @given(
        path=_hostile_path(page.path),
        fields=form_body(page.fields, sorted(page.fields)),
        as_page=st.booleans(),
    )
    def run(path: str, fields: dict[str, list[str | bytes]], as_page: bool) -> None:
        sent: dict[str, list[str | bytes]] = (
            {key: list(values) for key, values in page.fields.items()} if as_page else {}
        )
        body = urlencoded({**sent, **fields})
        client.force_login(superuser)
        response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code < 500, (path, body[:500], response.content[:300])

    run()


def test_every_admin_form_refuses_hostile_input_without_a_5xx(
    superuser_client: tuple[Client, User],
) -> None:
    client, superuser = superuser_client
    pages = _admin_pages(client)
    labels = {page.label for page in pages}
    # The enumeration reached the admins that feed the resolver and the engine.
    assert {"rotations.Rotation change", "rotations.Override add"} <= labels, labels
    failures = []
    for page in pages:
        try:
            _fuzz(page, client, superuser)
        except Exception as failure:  # every page is tried; all failures shown
            where = "".join(traceback.format_tb(failure.__traceback__)[-2:])
            failures.append(f"{page.label}: {failure!r}\n{where}")
    print("\n\n".join(failures))  # shown whole by pytest when the test fails
    assert not failures, f"{len(failures)} admin pages answered 5xx"


# What the fuzz found, each as its own regression test.


@pytest.fixture
def root(db: None, client: Client) -> Client:
    client.force_login(UserFactory.create(username="root", is_staff=True, is_superuser=True))
    return client


def test_a_heartbeat_cannot_be_added_by_hand(root: Client) -> None:
    """Found by the fuzz: an empty add form saved a beat without a time (500)."""
    response = root.post(reverse("admin:oncall_heartbeat_add"), {})

    assert response.status_code == 403
    assert not Heartbeat.objects.exists()


@pytest.mark.parametrize("object_id", [HUGE_ID, "²", "1" + "0" * 30])
@pytest.mark.parametrize("model", ["rotation", "override", "team"])
def test_a_change_page_for_an_id_that_names_no_row_redirects(
    root: Client, model: str, object_id: str
) -> None:
    """Found by the fuzz: the rotation, override and team admins read the URL's id as a
    number themselves ("²" reached int(); 20 digits reached a foreign key lookup)."""
    path = f"/admin/rotations/{model}/{encode(object_id)}/change/"

    for response in (root.get(path), root.post(path, {"name": "x", "rotation": object_id})):
        assert response.status_code == 302
        assert response["Location"] == "/admin/"
