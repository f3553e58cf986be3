"""One batch of due steps: targets resolved in bulk, pages and timeline in one insert each."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from incidents.engine.states import escalation_transition
from incidents.engine.tracks import SUBJECT_TYPE
from incidents.models import (
    EscalationState,
    EscalationStatus,
    Incident,
    SeverityPolicy,
    TimelineEvent,
    TimelineKind,
    Via,
)
from incidents.timeline import timeline_write_many
from notifications.models import Urgency
from notifications.services import Page, notifications_page_many
from oncall.models import User
from rotations.escalation import INSTANT, rota_directory
from rotations.stepping import Happening, Nobody, Paged, Position, Repeated, step_run

logger = logging.getLogger(__name__)


# --- running due steps (in batches) -------------------------------------------------------

# How many due states one transaction claims, and how long one drain (a woken step task or
# the sweeper) keeps claiming batches before it leaves the rest to the next one.
DUE_BATCH = 500
DRAIN_SECONDS = 30.0
# A state whose step raised is tried again this much later instead of blocking every batch.
RETRY_AFTER = timedelta(seconds=30)
# Errors of the connection or of the transaction (a restart, a deadlock): the whole claim
# rolls back and the states stay due for the next drain.
FATAL_ERRORS = (OperationalError, InterfaceError)


def page_content(incident: Incident) -> dict[str, Any]:
    body = "\n\n".join(p for p in (incident.description, incident.body) if p)
    if incident.bridge and incident.bridge not in body:
        body = f"{body}\n\nBridge: {incident.bridge}".strip()
    return {
        "subject": f"[{incident.severity}] {incident.number}: {incident.title}",
        "body": body,
        "data": {
            "incident_id": incident.pk,
            "number": incident.number,
            "severity": incident.severity,
            "title": incident.title,
            "url": f"{settings.SITE_URL}/incidents/{incident.pk}/",
        },
    }


class Batch:
    """What a set of due steps reads, loaded once for all of them (people, the rotations'
    on-call, each severity's urgency), and what they write, in the order one-by-one runs
    would have written it: pages (outbox rows) and timeline rows."""

    def __init__(self, running: list[tuple[EscalationState, Incident]], now: datetime) -> None:
        self.now = now
        self.events: list[TimelineEvent] = []
        self.pages: list[tuple[Page, TimelineEvent]] = []
        self._content: dict[int, dict[str, Any]] = {}
        self.directory = rota_directory(
            (state.policy_snapshot for state, _ in running), start=now, until=now + INSTANT
        )
        severities = {incident.severity for _, incident in running}
        self.urgency: dict[str, str] = dict(
            SeverityPolicy.objects.filter(level__in=severities).values_list("level", "urgency")
        )

    def content(self, incident: Incident) -> dict[str, Any]:
        if incident.pk not in self._content:
            self._content[incident.pk] = page_content(incident)
        return self._content[incident.pk]

    def event(
        self, incident: Incident, kind: TimelineKind, message: str, data: dict[str, Any]
    ) -> TimelineEvent:
        event = TimelineEvent(
            incident=incident, kind=kind, via=Via.SYSTEM, at=self.now, data=data, message=message
        )
        self.events.append(event)
        return event

    def page(
        self, incident: Incident, user: User, key: str, why: str, event: TimelineEvent
    ) -> None:
        page = Page(
            user=user,
            urgency=self.urgency.get(incident.severity, Urgency.HIGH),
            subject_type=SUBJECT_TYPE,
            subject_id=incident.pk,
            key=key,
            reason=why,
            **self.content(incident),
        )
        self.pages.append((page, event))

    def write(self) -> None:
        """The outbox rows of every page (one INSERT), then the timeline (one INSERT)."""
        rows = notifications_page_many([page for page, _ in self.pages])
        for (_, event), paged in zip(self.pages, rows, strict=True):
            event.data["notifications"] = [r.pk for r in paged]
            event.data["channels"] = [r.channel for r in paged]
        timeline_write_many(self.events)


def _record(state: EscalationState, incident: Incident, happening: Happening, batch: Batch) -> None:
    """The timeline row (and, for a page, the outbox row) of what a step run did."""
    track = state.track
    if isinstance(happening, Paged):
        where = happening.position
        user = batch.directory.users[happening.user_id]
        key = f"{state.key_prefix}:r{where.repeat}:s{where.step}:w{where.walk}:u{user.pk}"
        event = batch.event(
            incident,
            TimelineKind.PAGED,
            f"Paged {user} ({happening.reason})",
            {
                "track": track,
                "step": where.step + 1,
                "repeat": where.repeat,
                "walk": where.walk,
                "user_id": user.pk,
            },
        )
        batch.page(incident, user, key, happening.reason, event)
    elif isinstance(happening, Nobody):
        number = happening.position.step + 1
        batch.event(
            incident,
            TimelineKind.ESCALATION,
            f"{track}: step {number} has nobody to page ({happening.reason})",
            {"track": track, "step": number, "warning": happening.reason},
        )
    elif isinstance(happening, Repeated):
        batch.event(
            incident,
            TimelineKind.ESCALATION,
            f"{track}: nobody acknowledged; repeating the policy "
            f"({happening.repeat} of {state.policy_snapshot.repeat})",
            {"track": track, "repeat": happening.repeat},
        )
    else:
        batch.event(
            incident, TimelineKind.ESCALATION, f"{track}: every step has run", {"track": track}
        )


def batch_run(state: EscalationState, incident: Incident, batch: Batch) -> None:
    """Run the state's due step (`rotations.stepping.step_run`) and move it on."""
    here = Position(state.step_index, state.repeat_index, state.walk_position)
    run = step_run(state.policy_snapshot, here, batch.now, batch.directory)
    for happening in run.happened:
        _record(state, incident, happening, batch)
    state.step_index = run.position.step
    state.repeat_index = run.position.repeat
    state.walk_position = run.position.walk
    if run.next_at is None:
        escalation_transition(state=state, to=EscalationStatus.DONE)
    else:
        state.next_action_at = run.next_at
