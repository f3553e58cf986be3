"""Severity policies in the admin: managers change them, everyone else may only look."""

from datetime import timedelta

import pytest
from django.test import Client

from incidents.models import SeverityPolicy
from oncall.roles import ENGINEER, MANAGER, SUPPORT
from tests.factories import UserFactory


def form(policy: SeverityPolicy, **changes: str) -> dict[str, str]:
    data = {
        "description": policy.description,
        "urgency": policy.urgency,
        "acknowledge_target": "00:05:00",
        "triage_target": "00:30:00",
        "page_both_tiers": "on",
        "status_updates_required": "on",
        "status_update_interval": "00:30:00",
        "postmortem_required": "on",
        "postmortem_emailed": "on",
        "postmortem_due": "3 00:00:00",
        "action_item_due": "15 00:00:00",
        "escalation_policy": "",
        "support_manager_required": "on",
        "support_escalates_to": "oncall",
        "engineering_manager_target": "1 00:00:00",
        "oncall_target": "04:00:00",
        "customer_contact_interval": "04:00:00",
    }
    data.update(changes)
    return data


def ensure_levels() -> None:
    import importlib

    from django.apps import apps

    seed = importlib.import_module("incidents.migrations.0002_severity_policies")
    seed.create(apps, None)


@pytest.mark.django_db
def test_the_data_migration_makes_one_policy_per_level() -> None:
    SeverityPolicy.objects.all().delete()
    ensure_levels()
    ensure_levels()  # running it again changes nothing
    rows = {p.level: p for p in SeverityPolicy.objects.all()}
    assert list(rows) == ["SEV0", "SEV1", "SEV2", "SEV3"]
    assert all(p.status_updates_required for p in rows.values())  # "P3 or more severe"
    assert [p.postmortem_emailed for p in rows.values()] == [True, False, False, False]
    assert rows["SEV0"].status_update_interval == timedelta(minutes=30)
    assert all(p.triage_target == timedelta(minutes=30) for p in rows.values())


@pytest.mark.django_db
def test_a_manager_changes_a_severity_policy(client: Client) -> None:
    ensure_levels()
    manager = UserFactory.create(username="raja", is_staff=True, roles=[MANAGER])
    client.force_login(manager)
    policy = SeverityPolicy.objects.get(level="SEV1")
    url = f"/admin/incidents/severitypolicy/{policy.pk}/change/"
    response = client.post(url, form(policy, status_update_interval="00:45:00"))
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.status_update_interval == timedelta(minutes=45)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [ENGINEER, SUPPORT])
def test_others_may_view_but_not_change_severity_policies(client: Client, role: str) -> None:
    ensure_levels()
    user = UserFactory.create(username="viewer", is_staff=True, roles=[role])
    client.force_login(user)
    policy = SeverityPolicy.objects.get(level="SEV1")
    url = f"/admin/incidents/severitypolicy/{policy.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, form(policy, status_update_interval="00:45:00"))
    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.status_update_interval != timedelta(minutes=45)
