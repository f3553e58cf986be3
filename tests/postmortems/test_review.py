"""The weekly review's content against hand-computed fixtures: ISO weeks in the company's
zone (DST weeks of 167 and 169 hours, incidents a second either side of the boundary),
counts and mean/median times to acknowledge and resolve, the handbook-004 checklist,
overdue postmortems and action items by owner, items opened and closed, in fixed queries."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pytest_django import DjangoAssertNumQueries

from incidents.models import Incident, Severity, Status
from oncall.models import User
from postmortems.figures import incident_response_figures
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus
from postmortems.review import (
    CHECKLIST,
    ITEMS_LISTED,
    POSTMORTEMS_TO_REVIEW,
    IsoWeek,
    weekly_review,
)
from postmortems.services import action_item_create, postmortem_start, postmortem_update
from rotations.models import Team
from tests.factories import IncidentFactory, TeamFactory, UserFactory

M = timedelta(minutes=1)
# 2026-W11: Monday 9 March 00:00 EDT (04:00 UTC) to Monday 16 March 00:00 EDT, the first
# whole week after the change to summer time (Sunday 8 March, inside W10).
W11 = IsoWeek(2026, 11)
W11_START = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
W11_END = datetime(2026, 3, 16, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "hours"),
    [
        ("2026-W10", datetime(2026, 3, 2, 5, 0, tzinfo=UTC), 167),  # clocks go forward
        ("2026-W11", W11_START, 168),
        ("2026-W44", datetime(2026, 10, 26, 4, 0, tzinfo=UTC), 169),  # clocks go back
        ("2026-W45", datetime(2026, 11, 2, 5, 0, tzinfo=UTC), 168),
        ("2026-W53", datetime(2026, 12, 28, 5, 0, tzinfo=UTC), 168),  # 2026 has 53 weeks
    ],
)
def test_a_week_runs_monday_to_monday_in_the_company_zone(
    text: str, start: datetime, hours: int
) -> None:
    week = IsoWeek.parse(text)
    assert week is not None
    assert str(week) == text
    assert week.start == start
    assert week.end - week.start == timedelta(hours=hours)


@pytest.mark.parametrize(
    "text",
    [
        "2026-W00",
        "2026-W54",
        "2025-W53",
        "1999-W52",
        "2200-W01",
        "9999-W52",
        "0000-W01",
        "2026-W1",
        "2026W11",
        "2026-w11",
        "garbage",
        "",
        "٢٠٢٦-W11",
        "2026-W11 ",
    ],
)
def test_weeks_outside_the_calendar_or_the_portals_years_are_refused(text: str) -> None:
    assert IsoWeek.parse(text) is None


def test_neighbours_stop_at_the_portals_years() -> None:
    assert IsoWeek(2000, 1).previous is None
    assert IsoWeek(2026, 1).previous == IsoWeek(2025, 52)
    assert IsoWeek(2026, 53).next == IsoWeek(2027, 1)
    assert IsoWeek.of(W11_START - timedelta(seconds=1)) == IsoWeek(2026, 10)
    assert IsoWeek.of(W11_START) == W11


def incident(
    team: Team,
    severity: str,
    at: datetime,
    ack: timedelta | None = None,
    resolve: timedelta | None = None,
) -> Incident:
    status = Status.RESOLVED if resolve else Status.ACKNOWLEDGED if ack else Status.TRIGGERED
    return IncidentFactory.create(
        team=team,
        severity=severity,
        status=status,
        triggered_at=at,
        acknowledged_at=at + ack if ack else None,
        resolved_at=at + resolve if resolve else None,
    )


@pytest.fixture
def week_of_incidents(db: None) -> dict[str, Any]:
    core = TeamFactory.create(slug="core", name="Core")
    web = TeamFactory.create(slug="web", name="Web")
    made = {
        "a": incident(core, Severity.SEV1, W11_START, 5 * M, 60 * M),  # on the boundary: in
        "b": incident(core, Severity.SEV1, datetime(2026, 3, 10, 10, tzinfo=UTC), 15 * M, 120 * M),
        "c": incident(web, Severity.SEV1, datetime(2026, 3, 11, 10, tzinfo=UTC), 40 * M),
        "d": incident(core, Severity.SEV2, datetime(2026, 3, 12, 10, tzinfo=UTC)),
        "e": incident(web, Severity.SEV2, W11_END - timedelta(seconds=1), 10 * M, 30 * M),
        # A second before the week and the week's end itself: other weeks.
        "before": incident(core, Severity.SEV1, W11_START - timedelta(seconds=1), M, M),
        "after": incident(core, Severity.SEV1, W11_END, M, M),
    }
    return {"core": core, "web": web, **made}


def test_incident_figures_by_severity_and_team(week_of_incidents: dict[str, Any]) -> None:
    review = weekly_review(W11, now=W11_END)
    totals = review.totals
    assert (totals.count, totals.acknowledged, totals.resolved) == (5, 4, 3)
    assert totals.ack_mean == timedelta(minutes=17, seconds=30)  # (5+15+40+10)/4
    assert totals.ack_median == timedelta(minutes=12, seconds=30)  # (10+15)/2
    assert totals.resolve_mean == 70 * M  # (60+120+30)/3
    assert totals.resolve_median == 60 * M

    sev1, sev2 = review.by_severity
    assert (sev1.key, sev1.figures.count, sev2.key, sev2.figures.count) == ("SEV1", 3, "SEV2", 2)
    assert (sev1.figures.ack_mean, sev1.figures.ack_median) == (20 * M, 15 * M)
    assert (sev1.figures.resolve_mean, sev1.figures.resolve_median) == (90 * M, 90 * M)
    assert (sev2.figures.ack_mean, sev2.figures.resolve_median) == (10 * M, 30 * M)
    assert [i.pk for i in sev1.incidents] == [week_of_incidents[k].pk for k in "abc"]
    assert [i.pk for i in sev2.incidents] == [week_of_incidents[k].pk for k in "de"]

    core, web = review.by_team
    assert (core.label, core.figures.count, web.label, web.figures.count) == ("Core", 3, "Web", 2)
    assert (core.figures.ack_mean, core.figures.ack_median) == (10 * M, 10 * M)
    assert (core.figures.resolve_mean, web.figures.resolve_mean) == (90 * M, 30 * M)
    assert (web.figures.ack_mean, web.figures.ack_median) == (25 * M, 25 * M)


def test_the_figures_function_stands_alone(week_of_incidents: dict[str, Any]) -> None:
    """Insights (issue 17) reuse it on any queryset."""
    figures = incident_response_figures(Incident.objects.filter(severity=Severity.SEV1))
    assert figures.count == 5  # the three of the week and the two either side
    assert figures.ack_median == 5 * M  # 1, 1, 5, 15, 40
    empty = incident_response_figures(Incident.objects.none())
    assert (empty.count, empty.ack_mean, empty.resolve_median) == (0, None, None)


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        # The weeks either side of each DST change: a second inside and outside each end.
        ("2026-W10", datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)),
        ("2026-W44", datetime(2026, 10, 26, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)),
        ("2026-W45", datetime(2026, 11, 2, 5, tzinfo=UTC), datetime(2026, 11, 9, 5, tzinfo=UTC)),
    ],
)
def test_incidents_a_second_from_a_local_boundary_land_in_the_right_week(
    db: None, text: str, inside: datetime, outside: datetime
) -> None:
    team = TeamFactory.create()
    second = timedelta(seconds=1)
    for at in (inside - second, inside, outside - second, outside):
        incident(team, Severity.SEV2, at)
    week = IsoWeek.parse(text)
    assert week is not None
    assert weekly_review(week, now=outside).totals.count == 2


@pytest.mark.parametrize("text", ["2026-W10", "2026-W11", "2026-W44", "2026-W45"])
def test_the_weeks_headline_is_the_insights_pages(db: None, text: str) -> None:
    """The review reads its week and the period before once, for its figures and the
    headline: it shows the insights page's headline for the week and that period (the same
    length just before, 167 or 169 hours across a DST change), with incidents a second either
    side of each boundary, quick unacknowledged resolves, not actionable and escalated ones."""
    from incidents.models import PageFacts
    from insights.selectors import Filters, headline_figures

    week = IsoWeek.parse(text)
    assert week is not None
    team = TeamFactory.create()
    second = timedelta(seconds=1)
    length = week.end - week.start
    times = [week.start - length - second, week.start - length, week.start - second]
    times += [week.start, week.start + length / 2, week.end - second, week.end]
    for n, at in enumerate(times):
        made = incident(team, Severity.SEV2, at, ack=(n + 1) * M if n % 3 else None, resolve=n * M)
        if n % 2:
            Incident.objects.filter(pk=made.pk).update(actionable=n % 4 == 1)
            PageFacts.objects.create(incident=made, escalated=n % 4 == 3, triggered_at=at)
    review = weekly_review(week, now=week.end)
    now, before, _ = headline_figures(Filters(start=week.start, end=week.end))
    assert (review.headline, review.headline_before) == (now, before)
    assert (now.incidents, before.incidents) == (3, 2)
    assert review.headline.incidents == review.totals.count


# --- postmortems and action items -----------------------------------------------------------


@pytest.fixture
def owners(db: None) -> dict[str, User]:
    return {
        "olga": UserFactory.create(username="olga", first_name="Olga", roles=["Manager"]),
        "pete": UserFactory.create(username="pete", first_name="Pete", roles=["Engineer"]),
    }


def postmortem(owner: User, **incident_fields: Any) -> Postmortem:
    return postmortem_start(incident=IncidentFactory.create(**incident_fields), actor=owner)


def test_postmortems_to_review_with_their_summary_and_checklist(
    owners: dict[str, User],
) -> None:
    olga = owners["olga"]
    in_review = postmortem(olga, severity=Severity.SEV1)
    postmortem_update(
        postmortem=in_review,
        actor=olga,
        version=1,
        sections={
            "summary": "Checkout **failed**. <script>alert(1)</script>",
            "contributing_factors": "An expired certificate.",
            "what_went_well": "  \n\t ",  # whitespace is not an answer
            "new_metrics": "Certificate expiry days.",
        },
    )
    Postmortem.objects.filter(pk=in_review.pk).update(status=PostmortemStatus.IN_REVIEW)
    published_this_week = postmortem(olga)
    Postmortem.objects.filter(pk=published_this_week.pk).update(
        status=PostmortemStatus.PUBLISHED, published_at=W11_START + timedelta(days=2)
    )
    published_before = postmortem(olga)
    Postmortem.objects.filter(pk=published_before.pk).update(
        status=PostmortemStatus.PUBLISHED, published_at=W11_START - timedelta(seconds=1)
    )
    postmortem(olga)  # a draft: not yet for review

    review = weekly_review(W11, now=W11_END)
    assert [r.postmortem.pk for r in review.to_review] == [in_review.pk, published_this_week.pk]
    assert review.to_review_total == 2
    first = review.to_review[0]
    assert "<strong>failed</strong>" in first.summary_html
    assert "<script>" not in first.summary_html
    filled = {item.key: item.filled for item in first.checklist}
    assert filled == {
        "contributing_factors": True,
        "what_went_well": False,
        "what_went_badly": False,
        "new_metrics": True,
        "alarm_thresholds": False,
        "playbook_entries": False,
        "docs_updated": False,
    }
    assert [item.label for item in first.checklist] == [label for label, _ in CHECKLIST]
    assert first.checked == 2


def test_overdue_postmortems_and_action_items_grouped_by_owner(owners: dict[str, User]) -> None:
    olga, pete = owners["olga"], owners["pete"]
    cutoff = W11_END
    late = [postmortem(olga) for _ in range(2)] + [postmortem(pete)]
    for row, due in zip(late, (-3, -1, -2), strict=True):
        Postmortem.objects.filter(pk=row.pk).update(due_at=cutoff + timedelta(hours=due))
    not_yet = postmortem(pete)
    Postmortem.objects.filter(pk=not_yet.pk).update(due_at=cutoff)  # due at the cutoff: not late
    done = postmortem(pete)
    Postmortem.objects.filter(pk=done.pk).update(
        due_at=cutoff - timedelta(days=9), status=PostmortemStatus.PUBLISHED
    )
    nobody = postmortem(olga)
    Postmortem.objects.filter(pk=nobody.pk).update(owner=None, due_at=cutoff - timedelta(days=1))

    # Action items: due days in the company's zone; the cutoff's day is 16 March there.
    items = {
        due: action_item_create(
            postmortem=late[0],
            actor=olga,
            title=f"due {due}",
            owner=pete,
            kind="detect",
            due_date=due,
        )
        for due in (date(2026, 3, 14), date(2026, 3, 15), date(2026, 3, 16))
    }
    closed = action_item_create(
        postmortem=late[0],
        actor=olga,
        title="closed",
        owner=olga,
        kind="repair",
        due_date=date(2026, 3, 1),
    )
    ActionItem.objects.filter(pk=closed.pk).update(
        status=ActionItemStatus.DONE, completed_at=W11_START + timedelta(hours=1)
    )

    review = weekly_review(W11, now=datetime(2027, 1, 1, tzinfo=UTC))  # later: cutoff = the end
    assert review.cutoff == W11_END
    groups = [(g.owner, g.total, [p.pk for p in g.rows]) for g in review.overdue_postmortems]
    assert groups == [
        (olga, 2, [late[0].pk, late[1].pk]),
        (pete, 1, [late[2].pk]),
        (None, 1, [nobody.pk]),
    ]
    (pete_items,) = review.overdue_action_items
    assert pete_items.owner == pete
    assert [i.pk for i in pete_items.rows] == [
        items[date(2026, 3, 14)].pk,
        items[date(2026, 3, 15)].pk,
    ]


def test_overdue_lists_the_people_with_the_most_and_counts_the_rest(db: None) -> None:
    # 14 people: person n owns n + 1 overdue postmortems (the last two: one each). The 12
    # with the most are listed with their first three; the other two people and their two
    # postmortems are counted.
    people = [UserFactory.create(username=f"owner{n:02d}") for n in range(14)]
    due = W11_END - timedelta(days=1)
    for n, person in enumerate(people):
        for _ in range(n + 1 if n < 12 else 1):
            row = postmortem(person)
            Postmortem.objects.filter(pk=row.pk).update(due_at=due)
    overdue = weekly_review(W11, now=W11_END).overdue_postmortems
    assert [group.owner for group in overdue] == people[11::-1]
    assert [group.total for group in overdue] == list(range(12, 0, -1))
    assert [len(group.rows) for group in overdue] == [3] * 10 + [2, 1]
    assert (overdue.more_owners, overdue.more_rows) == (2, 2)


def test_the_review_lists_the_first_postmortems_to_review_and_links_the_rest(
    owners: dict[str, User],
) -> None:
    olga = owners["olga"]
    for _ in range(POSTMORTEMS_TO_REVIEW + 2):
        row = postmortem(olga, severity=Severity.SEV2)
        Postmortem.objects.filter(pk=row.pk).update(status=PostmortemStatus.IN_REVIEW)
    review = weekly_review(W11, now=W11_END)
    assert len(review.to_review) == POSTMORTEMS_TO_REVIEW
    assert (review.to_review_total, review.to_review_more) == (POSTMORTEMS_TO_REVIEW + 2, 2)


def test_action_items_opened_and_closed_in_the_week(owners: dict[str, User]) -> None:
    olga = owners["olga"]
    pm = postmortem(olga)
    made = [
        action_item_create(postmortem=pm, actor=olga, title=f"i{n}", owner=olga, kind="detect")
        for n in range(4)
    ]
    stamps = [W11_START - timedelta(seconds=1), W11_START, W11_END - timedelta(seconds=1), W11_END]
    for item, at in zip(made, stamps, strict=True):
        ActionItem.objects.filter(pk=item.pk).update(created_at=at)
    ActionItem.objects.filter(pk=made[0].pk).update(
        status=ActionItemStatus.DONE, completed_at=W11_START + timedelta(days=1)
    )
    review = weekly_review(W11, now=W11_END)
    assert [i.pk for i in review.items_opened.rows] == [made[1].pk, made[2].pk]
    assert review.items_opened.total == 2
    assert [i.pk for i in review.items_closed.rows] == [made[0].pk]


def test_items_opened_and_closed_are_each_the_first_listed_with_their_totals(
    owners: dict[str, User],
) -> None:
    """Read together in one query: an item opened and closed in the week is in both lists,
    each list is its own first ITEMS_LISTED by its own time, each total its own count."""
    olga = owners["olga"]
    pm = postmortem(olga)
    made = [
        action_item_create(postmortem=pm, actor=olga, title=f"i{n}", owner=olga, kind="detect")
        for n in range(ITEMS_LISTED + 5)
    ]
    for n, item in enumerate(made):  # opened in order; closed in the reverse order
        ActionItem.objects.filter(pk=item.pk).update(
            created_at=W11_START + n * timedelta(minutes=1),
            status=ActionItemStatus.DONE,
            completed_at=W11_END - (n + 1) * timedelta(minutes=1),
        )
    outside = made[-1]  # closed after the week: not in the closed list or its total
    ActionItem.objects.filter(pk=outside.pk).update(completed_at=W11_END)
    review = weekly_review(W11, now=W11_END)
    ids = [item.pk for item in made]
    assert [i.pk for i in review.items_opened.rows] == ids[:ITEMS_LISTED]
    assert review.items_opened.total == ITEMS_LISTED + 5
    assert [i.pk for i in review.items_closed.rows] == ids[-2::-1][:ITEMS_LISTED]
    assert review.items_closed.total == ITEMS_LISTED + 4


def test_lists_are_capped_with_how_many_more(db: None) -> None:
    team = TeamFactory.create()
    for n in range(13):
        incident(team, Severity.SEV3, W11_START + n * M)
    (sev3,) = weekly_review(W11, now=W11_END).by_severity
    assert (len(sev3.incidents), sev3.figures.count, sev3.more) == (10, 13, 3)


def test_the_review_reads_in_a_fixed_number_of_queries(
    owners: dict[str, User],
    week_of_incidents: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            pm = postmortem(owners["pete"], triggered_at=W11_START)
            Postmortem.objects.filter(pk=pm.pk).update(
                status=PostmortemStatus.IN_REVIEW, due_at=W11_START
            )
            action_item_create(
                postmortem=pm,
                actor=owners["olga"],
                title="x",
                owner=owners["pete"],
                kind="detect",
                due_date=date(2026, 3, 1),
            )

    add(1)
    # The review's token, then 9 (fewer with nothing to review or overdue).
    with django_assert_num_queries(10):
        weekly_review(W11, now=W11_END)
    add(8)
    with django_assert_num_queries(10):
        review = weekly_review(W11, now=W11_END)
    assert review.to_review_total == 9
    # Read again with no write since: only the token (a past week's overdue lists are kept).
    with django_assert_num_queries(1):
        assert weekly_review(W11, now=W11_END) == review
    # This week's overdue lists, as of now: the two lists and the next due time (5) ...
    with django_assert_num_queries(6):
        assert weekly_review(W11, now=W11_END - timedelta(hours=1)).to_review_total == 9
    # ... kept while no postmortem's due time passes and the company's day lasts.
    assert not Postmortem.objects.filter(
        due_at__gte=W11_END - timedelta(hours=1), due_at__lte=W11_END - timedelta(minutes=1)
    ).exists()
    with django_assert_num_queries(1):
        weekly_review(W11, now=W11_END - timedelta(minutes=1))
