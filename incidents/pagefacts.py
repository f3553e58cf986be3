"""What an incident's pages tell, kept beside them (`PageFacts`) so that the insights figures
read one row per incident instead of every page (issue 17's figures on years of history).

- a page's tier is its escalation track's: the new tier's track (`…:new:…`, and its later
  generations `…:new.g<n>:…`) is the new tier, every other track the veteran tier;
- escalated: a page whose key is not the first step's (`…:r0:s0:w0:…`): a later step, a
  repeat of the policy, the next person of a walk, a responder, a missed target's page;
- the acknowledger's tiers: the tiers that paged the person who acknowledged it.

`page_facts_refresh` recomputes the rows of some incidents from their pages; the outbox calls
it (`notifications.callbacks.pages_written`) in the transaction that writes an incident's
pages, and the services that set or clear the acknowledger call it in theirs, so the facts
commit with what they describe. Incident ids come sorted: concurrent writers lock the rows in
one order.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q
from django.dispatch import Signal

from incidents.engine.tracks import SUBJECT_TYPE
from incidents.models import Incident, PageFacts
from notifications.models import Notification

NEW_TRACK = (":new:", ":new.g")  # the new tier's track, first generation and later ones
FIRST_STEP = ":r0:s0:w0:"
FACTS = (
    "paged_veteran",
    "paged_new",
    "escalated",
    "acknowledger_paged_veteran",
    "acknowledger_paged_new",
)
# Sent, in the writer's transaction, after `page_facts_refresh` wrote some incidents' facts
# (`triggered`: their ids → when each was triggered): the weekly review's headline counts
# them (`postmortems.stamp`).
page_facts_written = Signal()


def new_track_q() -> Q:
    """Pages on the new tier's track."""
    return Q(idempotency_key__contains=NEW_TRACK[0]) | Q(idempotency_key__contains=NEW_TRACK[1])


def page_facts_refresh(incident_ids: Iterable[int]) -> None:
    """Recompute the facts of these incidents from their pages (three queries, and what
    `page_facts_written`'s receivers write)."""
    written = refresh_with(
        incident_ids, incident=Incident, notification=Notification, facts=PageFacts
    )
    if written:
        page_facts_written.send(sender=PageFacts, triggered=written)


def refresh_with(
    incident_ids: Iterable[int], *, incident: Any, notification: Any, facts: Any
) -> dict[int, Any]:
    """`page_facts_refresh` with the models given (a migration passes its historical ones):
    the incidents whose facts were written, by id, with when each was triggered."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    read = list(
        incident.objects.filter(pk__in=ids).values_list("pk", "acknowledged_by", "triggered_at")
    )
    acknowledger = {pk: by for pk, by, _ in read}
    triggered = {pk: at for pk, _, at in read}
    new = new_track_q()
    rows = (
        notification.objects.filter(subject_type=SUBJECT_TYPE, subject_id__in=list(acknowledger))
        .order_by()
        .values("subject_id", "recipient_id")
        .annotate(
            new=Count("id", filter=new),
            veteran=Count("id", filter=~new),
            escalated=Count("id", filter=~Q(idempotency_key__contains=FIRST_STEP)),
        )
    )
    # A migration before incidents' 0022 passes facts that do not keep the trigger time yet.
    timed = any(field.name == "triggered_at" for field in facts._meta.concrete_fields)
    found_facts: dict[int, Any] = {}
    for row in rows:
        incident_id = row["subject_id"]
        found = found_facts.get(incident_id)
        if found is None:
            found = found_facts[incident_id] = facts(incident_id=incident_id)
            if timed:
                found.triggered_at = triggered[incident_id]
        found.paged_veteran |= row["veteran"] > 0
        found.paged_new |= row["new"] > 0
        found.escalated |= row["escalated"] > 0
        if row["recipient_id"] is not None and row["recipient_id"] == acknowledger[incident_id]:
            found.acknowledger_paged_veteran |= row["veteran"] > 0
            found.acknowledger_paged_new |= row["new"] > 0
    if found_facts:
        facts.objects.bulk_create(
            [found_facts[pk] for pk in sorted(found_facts)],
            update_conflicts=True,
            unique_fields=["incident"],
            update_fields=[*FACTS, "triggered_at"] if timed else list(FACTS),
        )
    return {pk: triggered[pk] for pk in sorted(found_facts)}
