"""Interruptions keep their kind (business, off, sleep) with the fingerprint of the classifier
that gave it (`insights.classify`): the figures read stored kinds, and classify again what
another classifier (new rows, a new zone, new working hours) gave. The history is
`conftest.py`'s; expected splits are worked out by hand in the comments."""

import zoneinfo
from datetime import UTC, datetime, time

import psycopg
import pytest
from django.db import connection

from incidents.models import Interruption
from insights.classify import KIND_CODES, UNCLASSIFIED, classify_pending, write_back
from insights.selectors import insights, viewer_clock
from oncall.models import User
from reports.stats import BUSINESS, SLEEP
from rotations.models import Rotation
from tests.factories import UserFactory
from tests.insights.conftest import UTC_ZONE, History, at


def split(history: History, name: str) -> tuple[int, int, int]:
    found = insights(history.filters(), zone=UTC_ZONE)
    row = next(row for row in found.people if row.user.username == name)
    return row.business, row.off_hours, row.sleep_hours


def kinds_of(user: User) -> dict[datetime, tuple[int, int]]:
    return {
        minute: (kind, spec)
        for minute, kind, spec in Interruption.objects.filter(recipient=user).values_list(
            "minute", "kind", "spec"
        )
    }


def test_the_outbox_writes_rows_unclassified_and_the_beat_task_classifies_them(
    history: History,
) -> None:
    assert set(Interruption.objects.values_list("spec", flat=True)) == {UNCLASSIFIED}
    total = Interruption.objects.count()
    assert classify_pending() == total
    assert classify_pending() == 0  # nothing left
    alice = kinds_of(history.alice)
    assert alice[at(3, 15)][0] == KIND_CODES[BUSINESS]  # Tue 10:00 EST
    assert alice[at(4, 4, 59)][0] == KIND_CODES[SLEEP]  # Tue 23:59 EST
    assert UNCLASSIFIED not in {spec for _, spec in alice.values()}


def test_a_view_counts_new_rows_and_stores_their_kinds(history: History) -> None:
    assert split(history, "alice") == (2, 3, 2)
    assert not Interruption.objects.filter(
        minute__gte=history.filters().start, minute__lt=history.filters().end, spec=UNCLASSIFIED
    ).exists()
    assert split(history, "alice") == (2, 3, 2)  # read back as stored


def test_the_figures_read_the_stored_kinds(history: History) -> None:
    """What the classifier stored is what is counted: no row is converted again while its
    classifier is the person's."""
    classify_pending()
    row = Interruption.objects.get(recipient=history.alice, minute=at(3, 15))
    Interruption.objects.filter(pk=row.pk).update(kind=KIND_CODES[SLEEP])
    assert split(history, "alice") == (1, 3, 3)


def test_a_new_zone_classifies_the_persons_pages_again(history: History) -> None:
    classify_pending()
    before = kinds_of(history.alice)
    history.alice.timezone = "Asia/Tokyo"
    history.alice.save()
    # In Tokyo (UTC+9, 09–17 Mon–Fri there): Wed 00:00 and 00:01 sleep; Wed 13:59 and 14:01
    # business; Sun 01:00 sleep; Mon 21:30 off; Tue 06:30 sleep.
    assert split(history, "alice") == (2, 1, 4)
    after = kinds_of(history.alice)
    assert {spec for _, spec in after.values()} != {spec for _, spec in before.values()}
    assert after[at(3, 15)][0] == KIND_CODES[SLEEP]  # written back for the next view
    assert split(history, "alice") == (2, 1, 4)
    assert split(history, "bob") == (1, 1, 1)  # nobody else moved


def test_new_working_hours_classify_the_members_pages_again(history: History) -> None:
    classify_pending()
    assert split(history, "carol") == (1, 0, 0)
    rotation = Rotation.objects.get(team=history.other)
    rotation.working_hours_start = time(11)
    rotation.save()
    # Tue 10:00 in New York is no longer business; it is Wed 00:00 in Tokyo: sleep.
    assert split(history, "carol") == (0, 0, 1)


def test_the_heatmap_in_a_zone_half_an_hour_off(history: History) -> None:
    kolkata = insights(history.filters(), zone=zoneinfo.ZoneInfo("Asia/Kolkata")).heatmap
    assert sum(map(sum, kolkata)) == 11
    assert kolkata[1][20] == 3  # Tuesday 15:00 UTC is 20:30 in Kolkata
    assert kolkata[0][18] == 1  # Monday 12:30 UTC is 18:00


def test_the_viewers_clock_changes_to_the_minute() -> None:
    new_york = viewer_clock(
        zoneinfo.ZoneInfo("America/New_York"),
        datetime(2026, 3, 2, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert new_york.bounds == [
        datetime(2026, 3, 8, 7, tzinfo=UTC),
        datetime(2026, 11, 1, 6, tzinfo=UTC),
    ]
    assert new_york.offsets == [-300, -240, -300]
    assert new_york.step == 15
    # Lord Howe moves by half an hour; Kolkata never moves.
    lord_howe = viewer_clock(
        zoneinfo.ZoneInfo("Australia/Lord_Howe"),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
    )
    assert lord_howe.offsets == [660, 630]
    assert lord_howe.bounds == [datetime(2026, 4, 4, 15, tzinfo=UTC)]
    kolkata = viewer_clock(
        zoneinfo.ZoneInfo("Asia/Kolkata"),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert (kolkata.bounds, kolkata.offsets) == ([], [330])


@pytest.mark.django_db(transaction=True)
def test_a_write_back_gives_up_on_a_row_a_delivery_holds() -> None:
    """A reader never waits on a delivery for long: the figures are counted already, the
    row stays to be classified by the next."""
    ann = UserFactory.create(username="ann", timezone="UTC")
    row = Interruption.objects.create(recipient=ann, incident_id=1, minute=at(3, 15))
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    ) as other:
        other.execute("SELECT 1 FROM incidents_interruption WHERE id = %s FOR UPDATE", [row.pk])
        assert write_back([(row.pk, KIND_CODES[SLEEP], 7)]) is False
        other.rollback()
    row.refresh_from_db()
    assert (row.kind, row.spec) == (0, UNCLASSIFIED)
    assert write_back([(row.pk, KIND_CODES[SLEEP], 7)]) is True
    row.refresh_from_db()
    assert (row.kind, row.spec) == (KIND_CODES[SLEEP], 7)
