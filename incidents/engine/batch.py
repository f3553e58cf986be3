"""One batch of due steps: targets resolved in bulk, pages and timeline in one insert each."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from incidents.engine.tracks import _INSTANT, SUBJECT_TYPE
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
from rotations.escalation import rotation_oncall_target
from rotations.models import Rotation, StepAction
from rotations.selectors import overrides_between, rotations_with_members

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
_FATAL = (OperationalError, InterfaceError)


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


class _Batch:
    """What a set of due steps reads, loaded once for all of them (people, the rotations'
    on-call, each severity's urgency), and what they write, in the order one-by-one runs
    would have written it: pages (outbox rows) and timeline rows."""

    def __init__(self, running: list[tuple[EscalationState, Incident]], now: datetime) -> None:
        self.now = now
        self.events: list[TimelineEvent] = []
        self.pages: list[tuple[Page, TimelineEvent]] = []
        self._content: dict[int, dict[str, Any]] = {}
        user_ids: set[int] = set()
        rotation_ids: set[int] = set()
        for state, _ in running:
            for step in state.snapshot["steps"]:
                user_ids.update(uid for uid, _ in step["targets"] if uid)
                user_ids.update(uid for uid, _ in step["walk"] if uid)
                if step["action"] == StepAction.ROTATION_ONCALL and step["rotation_id"]:
                    rotation_ids.add(step["rotation_id"])
        self.users: dict[int, User] = User.objects.in_bulk(list(user_ids)) if user_ids else {}
        self.rotations: dict[int, Rotation] = {}
        self.overrides: dict[int, list[Any]] = {}
        if rotation_ids:
            rotations = rotations_with_members().filter(pk__in=rotation_ids)
            self.rotations = {r.pk: r for r in rotations}
            self.overrides = overrides_between(list(self.rotations), now, now + _INSTANT)
        severities = {incident.severity for _, incident in running}
        self.urgency: dict[str, str] = dict(
            SeverityPolicy.objects.filter(level__in=severities).values_list("level", "urgency")
        )

    def content(self, incident: Incident) -> dict[str, Any]:
        if incident.pk not in self._content:
            self._content[incident.pk] = page_content(incident)
        return self._content[incident.pk]

    def targets(
        self, state: EscalationState, step: dict[str, Any]
    ) -> list[tuple[User | None, str]]:
        """Whom this step pages now, from the snapshot (a rotation's on-call at this instant)."""
        action = step["action"]
        if action == StepAction.ROTATION_ONCALL:
            rotation = self.rotations.get(step["rotation_id"])
            if rotation is None:
                return [(None, f"the rotation of step '{step['label']}' no longer exists")]
            return [rotation_oncall_target(rotation, self.overrides[rotation.pk], self.now)]
        if action == StepAction.WALK_ROTATION:
            walk = step["walk"]
            if state.walk_position >= len(walk):
                return []
            uid, why = walk[state.walk_position]
            user = self.users.get(uid)
            return [(user, why if user else "the next person on the list no longer exists")]
        return [(self.users.get(uid) if uid else None, why) for uid, why in step["targets"]]

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


def _page_step(
    state: EscalationState, incident: Incident, step: dict[str, Any], batch: _Batch
) -> int:
    """Page the step's targets; returns how many people were paged."""
    number = state.step_index + 1
    paged = 0
    for user, why in batch.targets(state, step):
        if user is None:
            batch.event(
                incident,
                TimelineKind.ESCALATION,
                f"{state.track}: step {number} has nobody to page ({why})",
                {"track": state.track, "step": number, "warning": why},
            )
            continue
        key = (
            f"{state.key_prefix}:r{state.repeat_index}:s{state.step_index}"
            f":w{state.walk_position}:u{user.pk}"
        )
        event = batch.event(
            incident,
            TimelineKind.PAGED,
            f"Paged {user} ({why})",
            {
                "track": state.track,
                "step": number,
                "repeat": state.repeat_index,
                "walk": state.walk_position,
                "user_id": user.pk,
            },
        )
        batch.page(incident, user, key, why, event)
        paged += 1
    return paged


def _advance_once(state: EscalationState, incident: Incident, batch: _Batch) -> bool:
    """Run the current step and move the position on; True when somebody was paged."""
    steps = state.snapshot["steps"]
    step = steps[state.step_index]
    paged = _page_step(state, incident, step, batch)
    if step["action"] == StepAction.WALK_ROTATION and state.walk_position + 1 < len(step["walk"]):
        state.walk_position += 1
    else:
        state.step_index += 1
        state.walk_position = 0
    state.next_action_at = batch.now + timedelta(seconds=step["wait"])
    return paged > 0


def _finish_or_repeat(state: EscalationState, incident: Incident, batch: _Batch) -> bool:
    """At the end of the steps: start the next repeat (True) or finish the track (False)."""
    if state.repeat_index < state.snapshot["repeat"]:
        state.repeat_index += 1
        state.step_index = 0
        state.walk_position = 0
        batch.event(
            incident,
            TimelineKind.ESCALATION,
            f"{state.track}: nobody acknowledged; repeating the policy "
            f"({state.repeat_index} of {state.snapshot['repeat']})",
            {"track": state.track, "repeat": state.repeat_index},
        )
        return True
    state.status = EscalationStatus.DONE
    state.next_action_at = None
    state.guard_token = None
    batch.event(
        incident,
        TimelineKind.ESCALATION,
        f"{state.track}: every step has run",
        {"track": state.track},
    )
    return False


def _run(state: EscalationState, incident: Incident, batch: _Batch) -> None:
    steps = state.snapshot["steps"]
    # Steps with nobody to page are skipped at once; the bound only guards against loops.
    for _ in range((len(steps) + 1) * (state.snapshot["repeat"] + 1) + 1):
        if state.step_index >= len(steps) and not _finish_or_repeat(state, incident, batch):
            return
        if _advance_once(state, incident, batch):
            last = state.step_index >= len(steps)
            if last and state.repeat_index >= state.snapshot["repeat"]:
                # The last page of the last pass: nothing more will be sent.
                _finish_or_repeat(state, incident, batch)
            return
    state.next_action_at = batch.now
