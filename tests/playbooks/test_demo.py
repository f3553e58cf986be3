"""The demo seed's playbook entries: the Core team's three, one proposed by the payment
webhooks postmortem, written once however often `seed_demo` runs."""

import io

import pytest
from django.core.management import call_command

from playbooks.models import PlaybookEntry

pytestmark = pytest.mark.django_db


def test_the_seed_writes_the_entries_once_one_linked_to_its_postmortem() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    entries = {e.title: e for e in PlaybookEntry.objects.select_related("postmortem__incident")}
    assert len(entries) == 3
    linked = entries["Payments: replaying provider webhooks"]
    assert linked.postmortem is not None
    assert linked.postmortem.incident.dedup_key == "demo:payment-webhooks"
    assert linked.service == "payments-api"
    assert [e.team.slug for e in entries.values()] == ["core"] * 3
