"""The admin gives each role what its role declares, and nobody a way up from Manager.

The matrix walks every ModelAdmin in `admin.site._registry` (a new one is covered, or this
module fails until it has a sample row) for every role, an anonymous visitor and a
superuser. What a role may see or do comes from the apps' `role_permissions`; on top of
that only superusers set passwords, add people, or touch roles (groups) and axes' lockouts.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse

from incidents.models import Incident, StatusUpdate
from integrations.models import WebhookSubscription
from oncall.models import Heartbeat, User
from oncall.roles import ENGINEER, MANAGER, ROLES, SUPPORT, SUPPORT_MANAGER, wanted_codenames
from rotations.models import OverrideRequest, OverrideRequestKind
from tests.factories import ApiKeyFactory, IntegrationFactory, OverrideFactory, UserFactory
from tests.integrations.support import am_message, post_json

ANONYMOUS = "anonymous"
SUPERUSER = "superuser"
VISITORS = (ANONYMOUS, SUPPORT, SUPPORT_MANAGER, ENGINEER, MANAGER, SUPERUSER)
PAGES = ("changelist", "add", "change", "delete", "history")
# Models whose every page is a superuser's, whatever a group holds.
SUPERUSER_ONLY = {"auth.group", "axes.accessattempt", "axes.accessfailurelog", "axes.accesslog"}


@pytest.fixture
def samples(db: None, settings: Any) -> dict[str, Model]:
    """One row of every model the admin shows (demo data, plus what it lacks)."""
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    Heartbeat.objects.create(name="beat", at=datetime(2026, 1, 1, tzinfo=UTC))
    ApiKeyFactory.create()
    override = OverrideFactory.create()
    OverrideRequest.objects.create(
        rotation=override.rotation,
        kind=OverrideRequestKind.COVER,
        requester=override.user,
        recipient=override.replaces or override.user,
        start=override.start,
        end=override.end,
    )
    StatusUpdate.objects.create(
        incident=Incident.objects.earliest("id"),
        message="Investigating",
        severity="SEV2",
        status="triggered",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    integration = IntegrationFactory.create(alertmanager=True)
    key = integration.key  # type: ignore[attr-defined]
    post_json(Client(), f"/integrations/alertmanager/{key}/", am_message())
    WebhookSubscription.objects.create(url="https://hooks.example.com/x", team=integration.team)
    postmortem_samples()
    report_samples()
    sign_in_rows()
    playbook_samples()
    rows: dict[str, Model] = {}
    for model in admin.site._registry:
        label = model._meta.label_lower
        # Never a superuser as the sample person: they have their own rules (below).
        queryset = model._default_manager.all()
        if model is User:
            queryset = queryset.filter(is_superuser=False)
        row = queryset.first()
        assert row is not None, f"no sample {label}: add one to the samples fixture"
        rows[label] = row
    return rows


def playbook_samples() -> None:
    """A playbook attempt (the demo seeds the entries)."""
    from playbooks.models import PlaybookEntry
    from playbooks.services import playbook_attempt_record

    entry = PlaybookEntry.objects.earliest("id")
    playbook_attempt_record(
        incident=Incident.objects.earliest("id"),
        entry=entry,
        actor=UserFactory.create(username="pb-tryer"),
        steps_tried=[1],
        outcome="failed",
    )


def postmortem_samples() -> None:
    """A postmortem (with its sections, timeline and a revision), an action item and a review
    meeting."""
    from postmortems.services import action_item_create, postmortem_start, postmortem_update

    owner = UserFactory.create(username="pm-owner", roles=[MANAGER])
    postmortem = postmortem_start(incident=Incident.objects.earliest("id"), actor=owner)
    postmortem_update(
        postmortem=postmortem, actor=owner, version=postmortem.version, sections={"summary": "S"}
    )
    action_item_create(
        postmortem=postmortem, actor=owner, title="Alert", owner=owner, kind="detect"
    )
    from postmortems.meetings import review_meeting_save

    review_meeting_save(
        week=datetime(2026, 3, 9).date(), actor=owner, version=0, notes="N", attendees=[owner]
    )


def report_samples() -> None:
    """An on-call report of a demo rotation's past shift."""
    from reports.models import OnCallReport
    from rotations.models import RotationMember

    member = RotationMember.objects.select_related("rotation").earliest("id")
    OnCallReport.objects.create(
        rotation=member.rotation,
        user=member.user,
        shift_start=datetime(2026, 1, 5, 14, tzinfo=UTC),
        shift_end=datetime(2026, 1, 12, 14, tzinfo=UTC),
    )


def sign_in_rows() -> None:
    """A good sign-in and a failed one (kept: a success would clear it), so axes' admin has
    rows."""
    UserFactory.create(username="signs-in", password="right-pass-2026")
    for password in ("right-pass-2026", "wrong"):
        Client().post(
            reverse("login"),
            {"username": "signs-in", "password": password},
            REMOTE_ADDR="203.0.113.9",
        )


def visitor(role: str) -> Client:
    client = Client()
    if role == ANONYMOUS:
        return client
    if role == SUPERUSER:
        user = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    else:
        # Staff, the worst case: every role may be given the admin.
        user = UserFactory.create(username=f"as-{role}", is_staff=True, roles=[role])
    client.force_login(user)
    return client


def declared(role: str, model: type[Model], action: str) -> bool:
    wanted = wanted_codenames(apps.get_app_configs())[role]
    return (model._meta.app_label, f"{action}_{model._meta.model_name}") in wanted


def admin_allows(model: type[Model], page: str) -> bool:
    """Whether the ModelAdmin offers this page at all (to a superuser)."""
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    model_admin = admin.site._registry[model]
    if page == "add":
        return model_admin.has_add_permission(request)
    if page == "delete":
        return model_admin.has_delete_permission(request)
    return True


def expected_status(role: str, model: type[Model], page: str) -> int:
    label = model._meta.label_lower
    if role == ANONYMOUS:
        return 302  # to a login page
    if not admin_allows(model, page):
        return 403
    if role == SUPERUSER:
        return 200
    if label in SUPERUSER_ONLY or page == "password" or (label == "oncall.user" and page == "add"):
        return 403
    if page in ("changelist", "change", "history"):
        allowed = declared(role, model, "view") or declared(role, model, "change")
    else:
        allowed = declared(role, model, page)
    return 200 if allowed else 403


def page_url(model: type[Model], page: str, row: Model) -> str:
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    if page in ("changelist", "add"):
        return reverse(f"{prefix}_{page}")
    if page == "password":
        return reverse("admin:auth_user_password_change", args=[row.pk])
    return reverse(f"{prefix}_{page}", args=[row.pk])


# (model label, page) for every page of every registered ModelAdmin.
MATRIX = [
    (model._meta.label_lower, page)
    for model in admin.site._registry
    for page in (*PAGES, *(("password",) if model is User else ()))
]


@pytest.mark.parametrize("role", VISITORS)
def test_every_admin_page_answers_each_role_as_its_role_allows(
    samples: dict[str, Model], role: str
) -> None:
    # One test per role walking every page (the samples cost more than the pages).
    client = visitor(role)
    wrong = []
    for label, page in MATRIX:
        model = apps.get_model(label)
        url = page_url(model, page, samples[label])
        response = client.get(url)
        expected = expected_status(role, model, page)
        if response.status_code != expected:
            wrong.append(f"{url}: {response.status_code}, expected {expected}")
        elif expected == 302 and "/login/?next=" not in response["Location"]:
            wrong.append(f"{url}: redirected to {response['Location']}")

    assert not wrong, wrong


def test_the_matrix_covers_every_registered_admin() -> None:
    assert {label for label, _ in MATRIX} == {m._meta.label_lower for m in admin.site._registry}
    assert ("oncall.user", "password") in MATRIX
    assert set(ROLES) < set(VISITORS)


# --- No way up from Manager ----------------------------------------------------------------


def change_form(user: User, **extra: Any) -> dict[str, Any]:
    """What a browser posts from the user change page, plus `extra`."""
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "display_name": "Renamed",
        "timezone": user.timezone,
        "phone": user.phone,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        **extra,
    }


@pytest.fixture
def manager(db: None) -> User:
    return UserFactory.create(username="morgan", is_staff=True, roles=[MANAGER])


def test_a_manager_edits_on_call_details_but_not_roles_status_or_permissions(
    client: Client, manager: User
) -> None:
    engineer = UserFactory.create(username="alice", roles=[ENGINEER])
    manager_group = Group.objects.get(name=MANAGER)
    permission = Permission.objects.get(codename="delete_user")
    client.force_login(manager)

    for person in (manager, engineer):
        response = client.post(
            reverse("admin:oncall_user_change", args=[person.pk]),
            change_form(
                person,
                is_superuser="on",
                is_staff="on",
                groups=[manager_group.pk],
                user_permissions=[permission.pk],
            ),
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        person.refresh_from_db()
        assert person.display_name == "Renamed"
        assert not person.is_superuser
        assert not person.user_permissions.exists()
    assert engineer.groups.get().name == ENGINEER
    assert not engineer.is_staff
    assert manager.groups.get().name == MANAGER


def test_a_managers_change_page_shows_roles_read_only_and_no_password(
    client: Client, manager: User
) -> None:
    engineer = UserFactory.create(username="alice", roles=[ENGINEER])
    client.force_login(manager)

    page = client.get(reverse("admin:oncall_user_change", args=[engineer.pk])).content.decode()

    assert 'name="display_name"' in page
    assert 'name="phone"' in page
    for field in ("is_superuser", "is_staff", "groups", "user_permissions", "password"):
        assert f'name="{field}"' not in page
    assert "password/" not in page  # no link to the password form


def test_only_a_superuser_sets_a_password(client: Client, manager: User) -> None:
    engineer = UserFactory.create(username="alice", roles=[ENGINEER])
    url = reverse("admin:auth_user_password_change", args=[engineer.pk])
    form = {
        "password1": "Taken-over-2026",
        "password2": "Taken-over-2026",
        "set_usable_password": "true",
    }
    client.force_login(manager)

    assert client.get(url).status_code == 403
    assert client.post(url, form).status_code == 403
    engineer.refresh_from_db()
    assert not engineer.check_password("Taken-over-2026")

    client.force_login(UserFactory.create(username="root", is_staff=True, is_superuser=True))
    assert client.post(url, form).status_code == 302
    engineer.refresh_from_db()
    assert engineer.check_password("Taken-over-2026")


def test_a_manager_adds_nobody(client: Client, manager: User) -> None:
    client.force_login(manager)

    response = client.post(
        reverse("admin:oncall_user_add"),
        {"username": "mallory", "password1": "Pass-word-2026", "password2": "Pass-word-2026"},
    )

    assert response.status_code == 403
    assert not User.objects.filter(username="mallory").exists()


def test_a_manager_cannot_touch_a_superusers_account(client: Client, manager: User) -> None:
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    client.force_login(manager)
    url = reverse("admin:oncall_user_change", args=[root.pk])

    page = client.get(url)
    response = client.post(url, change_form(root, email="mallory@example.com", is_active=""))

    assert page.status_code == 200
    assert 'name="email"' not in page.content.decode()  # seen, read-only
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.email == "root@example.com"
    assert root.is_active


def test_no_bulk_action_and_no_group_page_lets_a_manager_in(client: Client, manager: User) -> None:
    engineer = UserFactory.create(username="alice", roles=[ENGINEER])
    client.force_login(manager)

    changelist = client.get(reverse("admin:oncall_user_changelist"))
    client.post(
        reverse("admin:oncall_user_changelist"),
        {"action": "delete_selected", "_selected_action": [engineer.pk], "post": "yes"},
    )
    group = Group.objects.get(name=MANAGER)
    group_change = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": MANAGER, "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )

    assert changelist.status_code == 200
    assert 'name="action"' not in changelist.content.decode()  # no bulk action at all
    assert User.objects.filter(pk=engineer.pk).exists()
    assert group_change.status_code == 403
    assert not group.permissions.filter(codename="change_group").exists()


def test_a_manager_cannot_hand_an_api_key_to_someone_else(client: Client, manager: User) -> None:
    key = ApiKeyFactory.create(user=UserFactory.create(username="alice"))
    client.force_login(manager)

    response = client.post(
        reverse("admin:oncall_apikey_change", args=[key.pk]),
        {"user": manager.pk, "name": "mine now"},
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.user.username == "alice"
    assert key.name != "mine now"
