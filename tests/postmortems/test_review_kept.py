"""The weekly review kept between views (`postmortems.stamp`): every kind of write that
changes what it shows is seen on the next view, and what depends on the viewer (time zone,
visibility, the meeting form, CSRF) is never served from one viewer to another."""

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.middleware import csrf
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.models import Category, Severity, Status
from incidents.services.council import council_decision_record
from incidents.services.details import incident_update
from incidents.services.steering import incident_set_severity
from incidents.services.transitions import incident_reopen, incident_resolve
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER
from playbooks.models import PlaybookEntry
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, ReviewWrite
from postmortems.review import IsoWeek, weekly_review
from postmortems.services import (
    action_item_create,
    action_item_transition,
    postmortem_start,
    postmortem_submit,
    postmortem_update,
)
from postmortems.stamp import Part, ReviewTokens, review_tokens, touch_review
from tests.factories import IncidentFactory, UserFactory

W11 = IsoWeek(2026, 11)
URL = "/postmortems/review/2026-W11/"
IN_W11 = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)  # Wednesday
LATER_IN_W11 = datetime(2026, 3, 13, 15, 0, tzinfo=UTC)  # Friday: this week is W11
IN_W12 = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)  # W11 is a past week


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    manager = UserFactory.create(username="kept-manager", display_name="Mona", roles=[MANAGER])
    incident = IncidentFactory.create(
        title="Checkout timeouts",
        severity=Severity.SEV1,
        triggered_at=IN_W11,
        acknowledged_at=IN_W11 + timedelta(minutes=7),
        status=Status.ACKNOWLEDGED,
    )
    with time_machine.travel(IN_W11 + timedelta(hours=1)):
        pm = postmortem_start(incident=incident, actor=manager)
        pm = postmortem_submit(postmortem=pm, actor=manager)
        item = action_item_create(
            postmortem=pm,
            actor=manager,
            title="Alarm on queue age",
            owner=manager,
            kind="detect",
            due_date=date(2026, 3, 1),
        )
    return {"manager": manager, "incident": incident, "postmortem": pm, "item": item}


# Masked anew on every response.
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=|"X-CSRFToken": )"[^"]+"')


def _raw_page(client: Client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def _page(client: Client) -> str:
    """The page without its CSRF tokens, to compare two views."""
    return CSRF.sub(r'\1"…"', _raw_page(client))


def _new_incident(w: dict[str, Any]) -> str:
    IncidentFactory.create(title="Login storm", severity=Severity.SEV3, triggered_at=IN_W11)
    return "Login storm"


def _retitled(w: dict[str, Any]) -> str:
    incident_update(incident=w["incident"], actor=w["manager"], details={"title": "Cart down"})
    return "Cart down"


def _severity(w: dict[str, Any]) -> str:
    incident_set_severity(incident=w["incident"], severity=Severity.SEV0, actor=w["manager"])
    return 'class="badge sev sev-sev0"'


def _resolved(w: dict[str, Any]) -> str:
    incident_resolve(incident=w["incident"], actor=w["manager"])
    return "2 days / 2 days"  # resolved on Friday, two days after Wednesday's trigger


def _team_renamed(w: dict[str, Any]) -> str:
    team = w["incident"].team
    team.name = "Payments crew"
    team.save()
    return "Payments crew"


def _owner_renamed(w: dict[str, Any]) -> str:
    owner = w["manager"]
    owner.display_name = "Mona Lisa"
    owner.save()
    return "Owner: Mona Lisa"


def _summary_written(w: dict[str, Any]) -> str:
    pm = Postmortem.objects.get(pk=w["postmortem"].pk)
    postmortem_update(
        postmortem=pm, actor=w["manager"], version=pm.version, sections={"summary": "Queue full"}
    )
    return "<p>Queue full</p>"


def _item_opened(w: dict[str, Any]) -> str:
    action_item_create(
        postmortem=w["postmortem"],
        actor=w["manager"],
        title="Page on dead letters",
        owner=w["manager"],
        kind="detect",
    )
    return "Page on dead letters"


def _item_closed(w: dict[str, Any]) -> str:
    action_item_transition(item=w["item"], to=ActionItemStatus.DONE, actor=w["manager"])
    return '<h3>Closed <span class="count">1</span></h3>'


def _item_deleted(w: dict[str, Any]) -> str:
    ActionItem.objects.filter(pk=w["item"].pk).get().delete()
    return '<h3>Opened <span class="count">0</span></h3>'


def _entry_proposed(w: dict[str, Any]) -> str:
    PlaybookEntry.objects.create(
        team=w["incident"].team,
        title="Replay webhooks",
        applies_when="Webhooks lost",
        steps="1. Replay",
        postmortem=w["postmortem"],
    )
    return "(1 proposed entry)"


WRITES: dict[str, Callable[[dict[str, Any]], str]] = {
    "incident created": _new_incident,
    "incident title": _retitled,
    "incident severity": _severity,
    "incident resolved": _resolved,
    "team renamed": _team_renamed,
    "owner renamed": _owner_renamed,
    "postmortem section": _summary_written,
    "action item created": _item_opened,
    "action item closed": _item_closed,
    "action item deleted": _item_deleted,
    "playbook entry proposed": _entry_proposed,
}


# The parts each write must move (M) and must leave (L): a write moves what it changes
# and, where the review can tell, nothing else (`postmortems.stamp.Part`).
INC, PMS, ITM = "incidents", "postmortems", "items"
PARTS = (INC, PMS, ITM)
MOVES: dict[str, tuple[set[str], set[str]]] = {
    "incident created": ({INC, PMS}, set()),  # the factory makes a team and people too
    "incident title": ({INC, PMS}, {ITM}),
    "incident severity": ({INC, PMS}, {ITM}),
    "incident resolved": ({INC}, {ITM}),
    "team renamed": ({INC, PMS, ITM}, set()),
    "owner renamed": ({INC, PMS, ITM}, set()),
    "postmortem section": ({PMS}, {INC, ITM}),
    "action item created": ({ITM}, {INC}),
    "action item closed": ({ITM}, {INC}),
    "action item deleted": ({ITM}, {INC, PMS}),
    "playbook entry proposed": ({PMS}, {INC, ITM}),
}


def _moved(before: ReviewTokens, after: ReviewTokens) -> set[str]:
    return {part for part in PARTS if getattr(before, part) != getattr(after, part)}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_moves_the_parts_it_changes_and_no_other(world: dict[str, Any], write: str) -> None:
    moves, leaves = MOVES[write]
    with time_machine.travel(LATER_IN_W11, tick=False):
        before = review_tokens()
        WRITES[write](world)
        moved = _moved(before, review_tokens())
    assert moves <= moved
    assert not leaves & moved


def test_after_an_acknowledgement_only_the_incident_figures_are_read_again(
    world: dict[str, Any],
) -> None:
    """A past week viewed twice around an incident write that names its fields (the engine's
    and the services' all do): the second view reads the tokens and the figures alone."""
    incident = world["incident"]
    with time_machine.travel(IN_W12, tick=False):
        first = weekly_review(W11)
        incident.acknowledged_at = IN_W11 + timedelta(minutes=3)
        incident.save(update_fields=["acknowledged_at"])
        with CaptureQueriesContext(connection) as captured:
            second = weekly_review(W11)
    tables = " ".join(query["sql"] for query in captured.captured_queries)
    assert "postmortems_postmortem" not in tables
    assert "postmortems_actionitem" not in tables
    assert len(captured) == 3  # the tokens, the week's rows, the incidents listed
    assert second.to_review is first.to_review  # kept, not read again
    assert second.overdue_action_items is first.overdue_action_items
    assert first.totals.ack_median == timedelta(minutes=7)
    assert second.totals.ack_median == timedelta(minutes=3)


def test_a_fold_moves_no_token(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding old rows (every PRUNE_EVERY-th id) leaves every token as it was, of every
    part and every week: after each write only the tokens of what it wrote move, each to a
    value never seen, and each token counts every write to its part."""
    monkeypatch.setattr("postmortems.stamp.PRUNE_EVERY", 5)
    monkeypatch.setattr("postmortems.stamp.KEEP", 2)
    weeks = [W11, IsoWeek(2026, 12), IsoWeek(2026, 14)]
    writes: list[tuple[Part, date | None]] = [
        (Part.INCIDENTS, W11.monday),
        (Part.ITEMS, None),
        (Part.INCIDENTS | Part.POSTMORTEMS, weeks[2].monday),
        (Part.POSTMORTEMS, None),
        (Part.INCIDENTS, None),  # every week's
    ]

    def tokens() -> dict[tuple[str, str], str | None]:
        return {
            (str(week), part): getattr(review_tokens(week), part)
            for week in weeks
            for part in PARTS
        }

    seen: set[str | None] = set()
    written = dict.fromkeys(tokens(), 0)
    for n in range(60):
        parts, monday = writes[n % len(writes)]
        before = tokens()
        touch_review(parts, None if monday is None else [monday])
        after = tokens()
        for (week, part), token in after.items():
            shown = (
                part != "incidents"
                or monday is None
                or monday
                in (
                    IsoWeek.parse(week).monday,  # type: ignore[union-attr]
                    IsoWeek.parse(week).previous.monday,  # type: ignore[union-attr]
                )
            )
            if Part[part.upper()] & parts and shown:
                written[week, part] += 1
                assert token != before[week, part]
                assert token not in seen
            else:
                assert token == before[week, part], (n, week, part)  # folds included
            assert token is None or token.endswith(f".{written[week, part]}")
        seen |= set(after.values())
        # A folded row per (parts, week) written, KEEP + 1 rows, PRUNE_EVERY - 1 since.
        assert ReviewWrite.objects.count() <= len(writes) + 2 + 1 + 4


def test_a_fold_counts_a_write_committed_late_once(db: None) -> None:
    """A write with a smaller id that commits after the fold began (here: not yet there when
    the rows are read) is neither folded nor lost; a fold with nothing to fold does nothing."""
    from postmortems.stamp import _fold

    ReviewWrite.objects.all().delete()
    for _ in range(6):
        touch_review(Part.ITEMS)
    ids = sorted(ReviewWrite.objects.values_list("id", flat=True))
    ReviewWrite.objects.filter(pk=ids[2]).delete()  # as if not yet committed
    _fold(before=ids[4])
    ReviewWrite.objects.create(pk=ids[2], parts=int(Part.ITEMS))  # ... and now committed
    assert review_tokens().items == f"{ids[-1]}.6"
    assert ReviewWrite.objects.get(pk=ids[3]).weight == 3  # ids 0, 1 and 3, folded
    _fold(before=ids[0])
    assert review_tokens().items == f"{ids[-1]}.6"


@pytest.mark.parametrize("write", list(WRITES))
def test_every_write_to_what_the_review_shows_is_seen_on_the_next_view(
    world: dict[str, Any], write: str
) -> None:
    client = client_of(world["manager"])
    with time_machine.travel(LATER_IN_W11, tick=False):
        before = _page(client)
        assert _page(client) == before  # kept: nothing changed
        token = review_tokens()
        expected = WRITES[write](world)
        assert review_tokens() != token
        after = _page(client)
    assert expected not in before
    assert expected in after


def test_a_past_weeks_overdue_lists_are_kept_until_a_write(world: dict[str, Any]) -> None:
    client = client_of(world["manager"])
    overdue = re.compile(r"<h3>Action items</h3>\s*<h4>Mona")
    with time_machine.travel(IN_W12, tick=False):
        assert weekly_review(W11).cutoff == W11.end
        assert overdue.search(_page(client))
        action_item_transition(item=world["item"], to=ActionItemStatus.DONE, actor=world["manager"])
        assert not overdue.search(_page(client))


def test_an_incident_write_moves_its_weeks_incidents_and_the_next_weeks_only(
    world: dict[str, Any],
) -> None:
    """W11's incident acknowledged again: W11's figures and W12's headline (it compares with
    the week before) are read again, W10's and W13's are kept. Reopened (triggered again,
    now, in another week): every week's."""
    incident = world["incident"]
    weeks = [W11.shifted(n) for n in (-1, 0, 1, 2)]

    def incidents_tokens() -> list[str | None]:
        return [review_tokens(week).incidents for week in weeks if week]

    with time_machine.travel(IN_W12, tick=False):
        before = incidents_tokens()
        incident.acknowledged_at = IN_W11 + timedelta(minutes=3)
        incident.save(update_fields=["acknowledged_at"])
        after = incidents_tokens()
        assert [b != a for b, a in zip(before, after, strict=True)] == [False, True, True, False]
        incident_resolve(incident=incident, actor=world["manager"])
        before = incidents_tokens()
        incident_reopen(incident=incident, actor=world["manager"])
        after = incidents_tokens()
    assert all(b != a for b, a in zip(before, after, strict=True))


def test_this_weeks_overdue_items_follow_the_companys_day_without_a_write(
    world: dict[str, Any],
) -> None:
    """An action item due on Friday is overdue from Saturday 00:00 in the company's zone."""
    ActionItem.objects.filter(pk=world["item"].pk).update(due_date=date(2026, 3, 13))
    touch_review()
    client = client_of(world["manager"])
    overdue = re.compile(r"<h3>Action items</h3>\s*<h4>Mona")
    friday_late = datetime(2026, 3, 14, 3, 59, tzinfo=UTC)  # 23:59 EDT
    with time_machine.travel(friday_late, tick=False):
        assert not overdue.search(_page(client))
    with time_machine.travel(friday_late + timedelta(minutes=1), tick=False):
        assert overdue.search(_page(client))


def test_a_part_one_process_read_the_others_find(world: dict[str, Any]) -> None:
    """Kept in the default cache too (Redis when there is one): a web process that has kept
    nothing itself reads only the tokens."""
    from postmortems import review

    with time_machine.travel(IN_W12, tick=False):
        first = weekly_review(W11)
        review._kept.clear()  # another process
        with CaptureQueriesContext(connection) as captured:
            second = weekly_review(W11)
    assert len(captured) == 1
    assert second == first
    assert second.to_review[0].postmortem.owner == world["manager"]


def test_this_weeks_overdue_lists_follow_the_clock_without_a_write(
    world: dict[str, Any],
) -> None:
    """A postmortem due at 10:30 is overdue at 10:31 though nothing was written."""
    pm = Postmortem.objects.get(pk=world["postmortem"].pk)
    Postmortem.objects.filter(pk=pm.pk).update(due_at=LATER_IN_W11 + timedelta(minutes=30))
    client = client_of(world["manager"])
    overdue = re.compile(r"<h3>Postmortems</h3>\s*<h4>Mona")
    with time_machine.travel(LATER_IN_W11, tick=False):
        assert not overdue.search(_page(client))
    with time_machine.travel(LATER_IN_W11 + timedelta(minutes=31)):
        assert overdue.search(_page(client))


def test_a_rolled_back_write_leaves_the_token(world: dict[str, Any]) -> None:
    client = client_of(world["manager"])
    with time_machine.travel(LATER_IN_W11, tick=False):
        before = _page(client)
        token = review_tokens()

        def retitle_and_fail() -> None:
            with transaction.atomic():
                _retitled(world)
                raise RuntimeError

        with pytest.raises(RuntimeError):
            retitle_and_fail()
        assert review_tokens() == token
        assert _page(client) == before


def test_a_login_does_not_move_the_token(world: dict[str, Any]) -> None:
    someone = UserFactory.create(username="someone")
    with time_machine.travel(LATER_IN_W11, tick=False):
        _page(client_of(world["manager"]))
        token = review_tokens()
        client_of(someone)  # force_login saves last_login alone
        someone.refresh_from_db()
        assert someone.last_login == LATER_IN_W11
        _page(client_of(world["manager"]))
    assert review_tokens() == token


def test_saves_of_what_the_review_does_not_show_move_nothing(world: dict[str, Any]) -> None:
    manager, team = world["manager"], world["incident"].team
    token = review_tokens()
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])  # as the SSO sign-in does
    team.save(update_fields=["contact_mode"])
    assert review_tokens() == token
    team.save(update_fields=["name"])
    assert review_tokens() != token


def test_what_depends_on_the_viewer_is_never_shared(world: dict[str, Any]) -> None:
    """The manager views first (the sections are kept); an engineer in another time zone
    then sees times in theirs, no meeting form, their own CSRF token, and not the council
    decision on an open security incident only the manager may see."""
    manager = world["manager"]
    manager.timezone = "America/New_York"
    manager.save()
    engineer = UserFactory.create(username="kept-engineer", roles=[ENGINEER])
    engineer.timezone = "Asia/Tokyo"
    engineer.save()
    leaked = IncidentFactory.create(
        title="Leaked keys", category=Category.SECURITY, triggered_at=IN_W11
    )
    with time_machine.travel(LATER_IN_W11, tick=False):
        council_decision_record(
            incident=leaked,
            decision="gather_information",
            owner=manager,
            actor=manager,
            note="Rotate",
        )
        # Published in W11, so its published time shows (in the viewer's zone).
        Postmortem.objects.filter(pk=world["postmortem"].pk).update(
            published_at=datetime(2026, 3, 12, 23, 30, tzinfo=UTC), status="published"
        )
        touch_review()  # a queryset update sends no signal (the publish service's save does)
        mine = _raw_page(client_of(manager))
        theirs = _raw_page(client_of(engineer))
    assert "Thu 12 Mar, 19:30 EDT" in mine
    assert "Fri 13 Mar, 08:30 JST" in theirs
    assert "EDT" not in re.sub(r"Monday .*?\(America/New_York\)", "", theirs)
    assert "Leaked keys" in mine
    assert "Rotate" in mine
    assert "Leaked keys" not in theirs
    assert "Rotate" not in theirs
    assert "Save the meeting" in mine
    assert "Save the meeting" not in theirs

    # Each session's own CSRF secret (masked differently on every response: unmasked here).
    def csrf_secret(page: str) -> str:
        found = re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert found
        return str(csrf._unmask_cipher_token(found[1]))  # type: ignore[attr-defined]

    assert csrf_secret(mine) != csrf_secret(theirs)


def test_a_write_committed_after_a_later_one_still_moves_the_token(db: None) -> None:
    """The token is the newest id with the number of rows: a write that took its id before
    another but commits after it (a smaller id appearing) changes it too."""
    touch_review()
    touch_review()
    newest = ReviewWrite.objects.order_by("-id").first()
    assert newest is not None
    token = review_tokens()
    ReviewWrite.objects.filter(pk=newest.pk - 1).delete()  # as if not yet committed
    late = review_tokens()
    assert late != token
    ReviewWrite.objects.create(pk=newest.pk - 1)  # ... and now committed
    assert review_tokens() == token != late


def test_folding_keeps_the_table_small_and_the_token_moving(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("postmortems.stamp.PRUNE_EVERY", 5)
    monkeypatch.setattr("postmortems.stamp.KEEP", 2)
    seen = set()
    counts = set()
    for _ in range(40):
        touch_review()
        token = review_tokens()
        assert token not in seen  # never back to an earlier value, folds included
        seen.add(token)
        counts.add(ReviewWrite.objects.count())
    # At most: the folded row, the KEEP rows before the folding write and that write, and
    # the PRUNE_EVERY - 1 writes since (40 writes pass every place between two folds).
    assert max(counts) == 1 + 2 + 1 + 4


@contextlib.contextmanager
def held_open(work: Callable[[], Any]) -> Iterator[None]:
    """`work()` in a transaction of another thread (its own connection), held open until
    the block ends, then committed."""
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                work()
                holding.set()
                done.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        done.set()
        thread.join(10)


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="SQLite has one writer at a time",
)
@pytest.mark.django_db(transaction=True)
def test_incident_writers_do_not_wait_on_each_other() -> None:
    """Two transactions writing different incidents at once: the second commits while the
    first is still open (one shared token row would hold it until the first commits)."""
    first, second = IncidentFactory.create(), IncidentFactory.create()
    first.title = "First, held"
    with held_open(lambda: first.save(update_fields=["title"])), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        second.title = "Second, not held"
        second.save(update_fields=["title"])
    second.refresh_from_db()
    assert second.title == "Second, not held"


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="SQLite has one writer at a time",
)
@pytest.mark.django_db(transaction=True)
def test_two_folds_at_once_count_every_write_once() -> None:
    """Two writers folding at once: the second waits for the first's rows, then finds them
    folded and folds nothing twice; the tokens are those before either fold."""
    from postmortems.stamp import _fold

    for n in range(8):
        touch_review(Part.ITEMS if n % 2 else Part.POSTMORTEMS)
    before = review_tokens()
    last = ReviewWrite.objects.order_by("-id").values_list("id", flat=True)[0]
    failed: list[BaseException] = []

    def fold_too() -> None:
        try:
            _fold(before=last)
        except BaseException as error:
            failed.append(error)
        finally:
            connection.close()

    second = threading.Thread(target=fold_too)
    with held_open(lambda: _fold(before=last)):
        second.start()
        second.join(1)
        assert second.is_alive()  # waiting on the first fold's rows
    second.join(10)
    assert failed == []
    assert review_tokens() == before
    assert ReviewWrite.objects.count() == 3  # one row per part, and the newest
