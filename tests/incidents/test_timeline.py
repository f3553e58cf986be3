"""The timeline's listeners: an app above hears of every row, in the writer's transaction."""

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import timeline
from incidents.models import TimelineEvent, TimelineKind
from integrations.webhooks import webhooks_on_timeline_event
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def test_a_registered_listener_hears_each_row_written_one_by_one_or_in_bulk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heard: list[TimelineEvent] = []
    monkeypatch.setattr(timeline, "_listeners", [])
    timeline.register_timeline_listener(heard.append)
    timeline.register_timeline_listener(heard.append)  # registering twice hears once
    incident = IncidentFactory.create()

    one = timeline.timeline_write(incident=incident, kind=TimelineKind.NOTE, message="a")
    many = timeline.timeline_write_many(
        [
            TimelineEvent(incident=incident, kind=TimelineKind.NOTE, message=m, at=timezone.now())
            for m in "bc"
        ]
    )

    assert [e.pk for e in heard] == [one.pk, *(e.pk for e in many)]
    assert all(e.pk is not None for e in heard)


def test_a_listener_that_fails_undoes_the_row_it_heard_of(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(event: TimelineEvent) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(timeline, "_listeners", [])
    timeline.register_timeline_listener(refuse)
    incident = IncidentFactory.create()

    with pytest.raises(RuntimeError), transaction.atomic():
        timeline.timeline_write(incident=incident, kind=TimelineKind.NOTE, message="a")

    assert not TimelineEvent.objects.filter(incident=incident).exists()


def test_outgoing_webhooks_listen_from_the_integrations_app() -> None:
    # Registered by IntegrationsConfig.ready(); incidents itself never imports them.
    assert webhooks_on_timeline_event in timeline._listeners
