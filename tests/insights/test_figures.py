"""Every definition pinned on the hand-computed history of `conftest.py`.

Times to acknowledge (minutes): A 2, B 4, C 6, D 20, G 8 → sorted 2 4 6 8 20: mean 40/5 = 8,
median 6, p90 at rank (5-1)·0.9 = 3.6: 8 + 0.6·(20-8) = 15.2 minutes = 912 s.
Times to resolve: A 30, B 60, C 90, D 120, E 3, G 10 → sorted 3 10 30 60 90 120: mean
313/6 min = 3130 s, median (30+60)/2 = 45, p90 at rank 4.5: 90 + 0.5·30 = 105 minutes.
Triage: A 5, B 15 → 10 minutes. Escalated: A (a second step). Noise: E (3 minutes, never
acknowledged), G (not actionable).
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Incident, Status
from insights.figures import (
    SPANS,
    incident_response_figures,
    percentile_cont,
    response_figures_of,
    response_figures_split,
)
from insights.selectors import (
    HEADLINE_COLUMNS,
    Filters,
    headline_figures,
    headline_of,
    headline_spans,
    insights,
)
from tests.factories import IncidentFactory
from tests.insights.conftest import END, START, UTC_ZONE, History, at

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def test_percentile_cont_interpolates_as_postgresql() -> None:
    assert percentile_cont([2, 4, 6, 8, 20], 0.9) == pytest.approx(15.2)
    assert percentile_cont([3, 10, 30, 60, 90, 120], 0.5) == 45
    assert percentile_cont([7], 0.9) == 7
    assert percentile_cont([], 0.5) is None


def test_figures_of_times_read_are_the_databases_to_the_second(db: None) -> None:
    """The weekly review computes its figures from one read of the week's incidents; they must
    be the database's: sub-second times, a mean on a half second, a median between two ranks,
    spans longer than a day, across New York's change to summer time."""
    start = datetime(2026, 3, 8, 6, 30, 0, 250_001, tzinfo=UTC)  # 01:30 EST, before the change
    spans = [  # (to acknowledge, to resolve) in seconds
        (1.5, 3600.000_001),
        (2.5, 90_000.75),  # resolved the next day
        (7.25, None),
        (None, 0.999_999),
        (61.000_003, 7.5),
        (None, None),
    ]
    for n, (ack, resolve) in enumerate(spans):
        at = start + timedelta(minutes=n * 17, microseconds=n)
        IncidentFactory.create(
            triggered_at=at,
            acknowledged_at=at + timedelta(seconds=ack) if ack is not None else None,
            resolved_at=at + timedelta(seconds=resolve) if resolve is not None else None,
            status=Status.RESOLVED if resolve is not None else Status.TRIGGERED,
        )
    incidents = Incident.objects.order_by("triggered_at")
    times = list(SPANS)
    for chosen in (incidents, incidents[:3], incidents[1:5], incidents.none()):
        ids = [incident.pk for incident in chosen]
        subset = Incident.objects.filter(pk__in=ids)
        assert response_figures_of(
            subset.annotate(**SPANS).values_list(*times)
        ) == incident_response_figures(subset)
        spans = list(subset.annotate(**SPANS).values_list(*times))
        assert response_figures_split(
            len(spans),
            [ack for ack, _ in spans if ack is not None],
            [resolve for _, resolve in spans if resolve is not None],
        ) == incident_response_figures(subset)
    everything = response_figures_of(incidents.annotate(**SPANS).values_list(*times))
    assert (everything.count, everything.acknowledged, everything.resolved) == (6, 4, 4)
    assert everything.ack_median == timedelta(seconds=5)  # (2.5 + 7.25) / 2 = 4.875


def test_spans_are_read_exact_to_the_microsecond(db: None) -> None:
    """`Microseconds` reads each span as the whole microseconds Python counts between the two
    instants: short, awkward, across a DST change and over a century."""
    start = datetime(2026, 3, 8, 6, 59, 59, 999_999, tzinfo=UTC)
    spans = [
        timedelta(microseconds=1),
        timedelta(seconds=0.999_999),
        timedelta(seconds=3600, microseconds=1),
        timedelta(days=1, seconds=3600.75),
        timedelta(days=400, microseconds=123_457),
        timedelta(days=365 * 150 + 37, seconds=86_399, microseconds=999_999),
    ]
    for span in spans:
        IncidentFactory.create(triggered_at=start, acknowledged_at=start + span)
    read = Incident.objects.annotate(**SPANS).values_list(*SPANS)  # (to ack, to resolve)
    assert sorted(ack for ack, _ in read) == [span // timedelta(microseconds=1) for span in spans]


def test_headline_pins_every_definition(history: History) -> None:
    now, before, tiers = headline_figures(history.filters())
    assert (now.incidents, now.acknowledged, now.resolved) == (7, 5, 6)
    assert now.mtta == timedelta(minutes=8)
    assert now.mtta_median == timedelta(minutes=6)
    assert now.mtta_p90 == timedelta(seconds=912)
    assert now.mttr == timedelta(seconds=3130)
    assert now.mttr_median == timedelta(minutes=45)
    assert now.mttr_p90 == timedelta(minutes=105)
    assert now.triage == timedelta(minutes=10)
    assert now.escalated == 1
    assert now.unacknowledged_quick_resolves == 1
    assert now.not_actionable == 1
    assert (before.incidents, before.acknowledged, before.mtta) == (1, 1, timedelta(minutes=10))
    assert before.mttr is None
    assert before.escalated == 0
    assert tiers == {
        "veteran_acknowledged": 3,
        "new_acknowledged": 1,
        "new_ended_with_veteran": 1,
    }


def test_the_headline_of_rows_read_is_the_databases(history: History) -> None:
    """The weekly review computes the headline from the rows it reads for its own figures:
    for this period and the one before, and for edges the history lacks (resolved exactly
    at 5 minutes unacknowledged, a triage in microseconds, page facts not escalated, an
    incident not acknowledged), it must be `headline_figures`'s, figure for figure."""
    from incidents.models import PageFacts

    edge = history.filters().start + timedelta(days=1, microseconds=7)
    exactly = IncidentFactory.create(
        triggered_at=edge,
        resolved_at=edge + timedelta(minutes=5),
        triage_confirmed_at=edge + timedelta(seconds=1, microseconds=500_001),
        status=Status.RESOLVED,
    )
    PageFacts.objects.create(incident=exactly, escalated=False, triggered_at=edge)
    IncidentFactory.create(triggered_at=edge, status=Status.TRIGGERED, actionable=True)

    def read(start: datetime, end: datetime) -> list[tuple[object, ...]]:
        incidents = Incident.objects.filter(triggered_at__gte=start, triggered_at__lt=end)
        return list(incidents.annotate(**headline_spans(start, end)).values_list(*HEADLINE_COLUMNS))

    filters = history.filters()
    now, before, _ = headline_figures(filters)
    assert headline_of(read(filters.start, filters.end)) == now
    assert headline_of(read(*filters.previous)) == before
    assert now.unacknowledged_quick_resolves == 2  # E, and the one at exactly 5 minutes
    assert headline_of([]) == headline_figures(Filters(start=END, end=END + timedelta(days=1)))[0]


def test_interruptions_split_in_each_recipients_zone(history: History) -> None:
    found = insights(history.filters(), zone=UTC_ZONE)
    rows = {row.user.username: row for row in found.people}
    alice, bob, carol = rows["alice"], rows["bob"], rows["carol"]
    # Deduplicated per person, incident and minute; email and cancelled pages left out.
    assert (alice.business, alice.off_hours, alice.sleep_hours, alice.pages) == (2, 3, 2, 7)
    assert (bob.business, bob.off_hours, bob.sleep_hours, bob.pages) == (1, 1, 1, 3)
    # Carol's business hours are her rotation's (New York), though it is midnight in Tokyo.
    assert (carol.business, carol.off_hours, carol.sleep_hours) == (1, 0, 0)
    assert found.interruptions == {"business": 4, "off": 4, "sleep": 3}
    assert found.tiers["veteran"].pages == 8
    assert found.tiers["new"].pages == 3
    assert (found.tiers["new"].acknowledged, found.tiers["new"].ended_with_veteran) == (1, 1)
    assert (found.tiers["veteran"].acknowledged, found.tiers["veteran"].ended_with_veteran) == (
        3,
        None,
    )
    assert (alice.acknowledged, bob.acknowledged, carol.acknowledged) == (3, 1, 1)
    # Alice is on call throughout; Carol weekdays 09–17 New York time (10 days × 8 hours).
    assert alice.hours_on_call == timedelta(days=14)
    assert carol.hours_on_call == timedelta(hours=80)


def test_heatmap_counts_in_the_viewers_zone(history: History) -> None:
    in_utc = insights(history.filters(), zone=UTC_ZONE).heatmap
    assert sum(map(sum, in_utc)) == 11
    assert in_utc[1][15] == 3  # Tuesday 15:00 UTC: Alice twice (two minutes), Carol once
    assert in_utc[0][12] == 1
    assert in_utc[0][21] == 1
    in_new_york = insights(history.filters(), zone=NEW_YORK).heatmap
    assert in_new_york[1][10] == 3  # the same pages at 10:00 EST
    assert in_new_york[0][8] == 1
    assert in_new_york[0][17] == 1


def test_europes_dst_change_moves_business_hours(history: History) -> None:
    from tests.insights.conftest import page

    later = history.incidents["F"]
    page(later, history.bob, at(30, 6, 30))  # Mon 30 March 08:30 CEST (07:30 in CET, asleep): off
    page(later, history.bob, at(30, 7, 30))  # 09:30 CEST (08:30 in CET, off): business
    page(later, history.bob, at(28, 22, 30))  # Sat 23:30 CET: sleep
    found = insights(
        Filters(start=datetime(2026, 3, 28, tzinfo=UTC), end=datetime(2026, 3, 31, tzinfo=UTC)),
        zone=UTC_ZONE,
    )
    bob = next(row for row in found.people if row.user.username == "bob")
    assert (bob.business, bob.off_hours, bob.sleep_hours) == (1, 1, 1)


def test_filters_narrow_incidents_and_pages(history: History) -> None:
    other_team = insights(history.filters(team_id=history.other.pk), zone=UTC_ZONE)
    assert other_team.headline.incidents == 1  # D
    assert other_team.headline.mtta == timedelta(minutes=20)
    assert other_team.interruptions_total == 2  # Alice's and Carol's pages about D
    new_tier = insights(history.filters(tier="new"), zone=UTC_ZONE)
    assert new_tier.headline.incidents == 2  # B and C paged the new tier
    assert new_tier.interruptions_total == 3
    assert new_tier.tiers["veteran"].pages == 0
    sev1 = insights(history.filters(severity="SEV1"), zone=UTC_ZONE)
    assert sev1.headline.incidents == 0
    assert sev1.headline.mtta is None


def test_weekly_trend_in_the_viewers_zone(history: History) -> None:
    weeks = insights(history.filters(), zone=UTC_ZONE).weeks
    assert [(w.week.date().isoformat(), w.incidents) for w in weeks] == [
        ("2026-03-02", 6),  # A–F
        ("2026-03-09", 1),  # G
    ]
    assert weeks[1].mtta == timedelta(minutes=8)
    assert weeks[1].mttr == timedelta(minutes=10)
    # A (2), B (4), C (6), D (20) acknowledged: mean 8 minutes.
    assert weeks[0].mtta == timedelta(minutes=8)
    assert START < END
