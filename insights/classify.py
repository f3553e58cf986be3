"""Each interruption's kind — business, off or sleep hours — kept on its row, so that the
insights figures group a range's interruptions by kind in the database instead of converting
every one of them to its recipient's zone on every view (issue 17's figures on years of
history).

- the kind is `reports.stats.hour_kind` of the interruption's minute for its recipient
  (`Business`: the person's zone and business hours), the one classifier the on-call reports
  use. A row keeps the kind with the fingerprint of the classifier that gave it
  (`Interruption.spec`; 0: not classified yet, as the outbox writes them).
- a reader compares each person's stored fingerprint with their classifier of the moment:
  groups that match are counted as stored; the rest (new rows, or every row of a person whose
  zone, rotation or working hours changed since) are read, classified here, counted, and
  written back (`write_back`), so the figures are always those of the current settings and
  the next view finds them classified. A write-back that meets a lock or a deadlock gives up
  (logged): the figures were already counted, and the next reader tries again.
- the beat task `insights.classify_interruptions` classifies rows not classified yet
  (`classify_pending`), so a reader rarely finds any.
- rows are locked in the outbox's order (recipient, incident, minute; `incidents.
  interruptions`) before they are updated: the delivery path's upserts never wait in a cycle
  with a write-back.
"""

import logging
import zlib
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.db import DatabaseError, connection, transaction

from incidents.models import Interruption
from oncall.models import User
from reports.stats import BUSINESS, OFF, SLEEP, business_hours, hour_kind
from rotations import resolver
from rotations.models import Rotation, RotationMember

logger = logging.getLogger(__name__)

KIND_CODES = {BUSINESS: 0, OFF: 1, SLEEP: 2}
CODE_KINDS = {code: kind for kind, code in KIND_CODES.items()}
UNCLASSIFIED = 0  # `Interruption.spec` of a row no classifier has read yet
WRITE_CHUNK = 5000  # rows per write-back transaction
LOCK_WAIT = "2s"  # how long a write-back waits for a row a delivery holds
PENDING_BATCH = 20000  # rows the beat task classifies per run

Classified = tuple[int, int, int]  # interruption id, kind code, classifier fingerprint


@dataclass(frozen=True)
class Business:
    """A person's zone and business hours: what `hour_kind` needs to classify their pages."""

    person_tz: zoneinfo.ZoneInfo
    hours: resolver.WorkingHours

    @cached_property
    def spec(self) -> int:
        """A fingerprint of this classifier (never 0, `UNCLASSIFIED`): a row classified by
        another one is classified again."""
        hours = self.hours
        text = "|".join(
            (
                self.person_tz.key,
                ",".join(str(day) for day in sorted(hours.weekdays)),
                hours.start.isoformat(),
                hours.end.isoformat(),
                hours.tz.key,
            )
        )
        return (zlib.crc32(text.encode()) & 0x7FFFFFFF) or 1

    def kind(self, at: datetime) -> str:
        return hour_kind(at, person_tz=self.person_tz, business=self.hours)


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def rotations_with_members_at_once() -> list[Rotation]:
    """Every rotation that has members, with its team and `ordered_members` (as
    `rotations_with_members` gives them) in one query instead of two."""
    members = RotationMember.objects.select_related("rotation__team", "user").order_by(
        "rotation_id", "position", "id"
    )
    rotations: dict[int, Rotation] = {}
    for member in members:
        rotation = rotations.setdefault(member.rotation_id, member.rotation)
        if not hasattr(rotation, "ordered_members"):
            rotation.ordered_members = []  # type: ignore[attr-defined]
        rotation.ordered_members.append(member)  # type: ignore[attr-defined]
    return list(rotations.values())


def business_of(rotations: Iterable[Rotation]) -> dict[int, Rotation]:
    """Each member's first rotation (by id) with working hours."""
    found: dict[int, Rotation] = {}
    for rotation in sorted(rotations, key=lambda r: r.pk):
        if not rotation.has_working_hours:
            continue
        for member in getattr(rotation, "ordered_members", []):
            found.setdefault(member.user_id, rotation)
    return found


def business_for(user_id: int, tz_name: str, working: Mapping[int, Rotation]) -> Business:
    person_tz = zone(tz_name)
    return Business(person_tz, business_hours(working.get(user_id), person_tz))


def classifiers(zones: Mapping[int, str], working: Mapping[int, Rotation]) -> dict[int, Business]:
    """Each person's classifier from their zone's name; people sharing a zone and business
    hours share one (its fingerprint is computed once)."""
    shared: dict[tuple[str, int | None], Business] = {}
    found = {}
    for user_id, tz_name in zones.items():
        rotation = working.get(user_id)
        key = (tz_name, rotation.pk if rotation is not None else None)
        who = shared.get(key)
        if who is None:
            who = shared[key] = business_for(user_id, tz_name, working)
        found[user_id] = who
    return found


def classify(
    rows: Iterable[tuple[int, int, datetime]], who: Mapping[int, Business]
) -> list[Classified]:
    """(id, recipient id, minute) → (id, kind code, fingerprint)."""
    return [
        (pk, KIND_CODES[who[user_id].kind(minute)], who[user_id].spec)
        for pk, user_id, minute in rows
    ]


_LOCK_SQL = (
    "SELECT 1 FROM {table} WHERE id = ANY(%s) ORDER BY recipient_id, incident_id, minute FOR UPDATE"
)
_UPDATE_SQL = (
    "UPDATE {table} AS i SET kind = v.kind, spec = v.spec "
    "FROM unnest(%s::bigint[], %s::smallint[], %s::integer[]) AS v(id, kind, spec) "
    "WHERE i.id = v.id"
)


def _write_chunk(chunk: Sequence[Classified]) -> None:
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Interruption._meta.db_table)
        ids = [pk for pk, _, _ in chunk]
        with connection.cursor() as cursor:
            # A delivery holding a row a moment is waited for; anything longer, not.
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_WAIT])
            cursor.execute(_LOCK_SQL.format(table=table), [ids])
            cursor.execute(
                _UPDATE_SQL.format(table=table),
                [ids, [code for _, code, _ in chunk], [spec for _, _, spec in chunk]],
            )
        return
    Interruption.objects.bulk_update(
        [Interruption(pk=pk, kind=code, spec=spec) for pk, code, spec in chunk],
        ["kind", "spec"],
        batch_size=500,
    )


def write_back(found: Sequence[Classified]) -> bool:
    """Store these kinds, `WRITE_CHUNK` rows per transaction; False (logged) when a lock or a
    deadlock stopped it: the rows stay as they were, to be classified again."""
    try:
        for start in range(0, len(found), WRITE_CHUNK):
            with transaction.atomic():
                _write_chunk(found[start : start + WRITE_CHUNK])
    except DatabaseError:
        logger.warning("interruptions: kinds not written back this time", exc_info=True)
        return False
    return True


def classify_pending(limit: int = PENDING_BATCH) -> int:
    """The beat task: classify up to `limit` interruptions no classifier has read yet
    (oldest first); the number classified."""
    rows = list(
        Interruption.objects.filter(spec=UNCLASSIFIED)
        .order_by("id")
        .values_list("id", "recipient_id", "minute")[:limit]
    )
    if not rows:
        return 0
    people = {user_id for _, user_id, _ in rows}
    zones = dict(User.objects.filter(pk__in=people).values_list("id", "timezone"))
    who = classifiers(zones, business_of(rotations_with_members_at_once()))
    found = classify(rows, who)
    return len(found) if write_back(found) else 0
