"""The managers' admin: who may change what, drag order, previews, and bad input as form errors.

Forms are submitted the way a browser would: the change page is fetched, its form fields
are read from the HTML, a few are changed, and the whole form is posted back.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import (
    ContactMode,
    DirectNumber,
    EscalationPolicy,
    EscalationStep,
    Override,
    OverrideRequest,
    Position,
    Rotation,
    RotationMember,
    StepAction,
    Team,
    Tier,
)
from tests.factories import (
    DirectNumberFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    OverrideFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

FormData = dict[str, list[str]]
# Wednesday of the second week of the demo rotation: Bob's shift (Mon 12 Jan 09:00 New York on).
WEDNESDAY = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)


class FormReader(HTMLParser):
    """Collects what a browser would submit from the form with a given id."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.data: FormData = {}
        self.select: str | None = None
        self.textarea: str | None = None
        self.textarea_start = False

    def _add(self, name: str | None, value: str) -> None:
        if name and "__prefix__" not in name:
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "reset", "file", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._add(a.get("name"), a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self.select = a.get("name")
            self.data.setdefault(self.select or "", [])
        elif tag == "option" and self.select and "selected" in a:
            self._add(self.select, a.get("value", ""))
        elif tag == "textarea":
            self.textarea = a.get("name")
            self._add(self.textarea, "")
            self.textarea_start = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.inside and self.textarea and "__prefix__" not in self.textarea:
            if self.textarea_start and data.startswith("\n"):
                data = data[1:]  # browsers drop the newline that opens a textarea
            self.textarea_start = False
            self.data[self.textarea][-1] += data


def read_form(client: Client, url: str, model_name: str) -> FormData:
    response = client.get(url)
    assert response.status_code == 200
    reader = FormReader(f"{model_name}_form")
    reader.feed(response.content.decode())
    reader.data.pop("", None)
    return reader.data


def add_row(data: FormData, prefix: str, **fields: object) -> None:
    """Append a filled-in row to an inline formset, as "Add another" does."""
    index = int(data[f"{prefix}-TOTAL_FORMS"][0])
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        data[f"{prefix}-{index}-{name}"] = [str(v) for v in values]
    data[f"{prefix}-TOTAL_FORMS"] = [str(index + 1)]


def text(html: bytes | str, element_id: str | None = None) -> str:
    """The visible text (of the element with this id, if given), whitespace collapsed."""
    page = html.decode() if isinstance(html, bytes) else html
    if element_id is not None:
        match = re.search(rf'<(\w+)[^>]*id="{element_id}".*?</\1>', page, re.S)
        assert match, f"no element with id {element_id}"
        page = match.group(0)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())


def login(client: Client, role: str) -> User:
    if role == "superuser":
        user = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    else:
        user = UserFactory.create(
            username=role.lower().replace(" ", "_"), is_staff=True, roles=[role]
        )
    client.force_login(user)
    return user


@dataclass
class Core:
    team: Team
    rotation: Rotation
    policy: EscalationPolicy
    alice: User
    bob: User
    carol: User
    dave: User
    morgan: User


@pytest.fixture
def core() -> Core:
    """The handbooks' Core team: a weekly veteran list, a walk-then-CPE-manager policy."""
    people = {
        name: UserFactory.create(
            username=name,
            display_name=name.title(),
            roles=[MANAGER if name == "morgan" else ENGINEER],
        )
        for name in ("alice", "bob", "carol", "dave", "morgan")
    }
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=people["morgan"])
    team.members.add(people["dave"])
    rotation = RotationFactory.create(
        team=team, members=[people["alice"], people["bob"], people["carol"]]
    )
    policy = EscalationPolicyFactory.create(team=team, name="Default")
    EscalationStepFactory.create(policy=policy, walk=True, rotation=rotation, position=1)
    EscalationStepFactory.create(policy=policy, position=2)
    return Core(team, rotation, policy, **people)


@pytest.fixture
def manager(client: Client) -> User:
    return login(client, MANAGER)


# Session, user, two permission lookups, team filter choices, two counts, the rotations,
# their members, the overrides deciding who is on call now, the user's role groups.
QUERIES_PER_LIST = 11

ROLES = [MANAGER, SUPPORT_MANAGER, ENGINEER, SUPPORT, "superuser"]
MAY_CHANGE = {MANAGER, "superuser"}


def change_url(obj: Team | Rotation | EscalationPolicy | Override) -> str:
    return f"/admin/rotations/{obj._meta.model_name}/{obj.pk}/change/"


# --- who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_view_lists_and_pages(client: Client, core: Core, role: str) -> None:
    login(client, role)
    override = OverrideFactory.create(rotation=core.rotation, user=core.dave)
    for model in ("team", "rotation", "override", "escalationpolicy"):
        assert client.get(f"/admin/rotations/{model}/").status_code == 200
    for obj in (core.team, core.rotation, core.policy, override):
        response = client.get(change_url(obj))
        assert response.status_code == 200
        # Everyone but managers gets the read-only page, without a Save button.
        assert (b'name="_save"' in response.content) == (role in MAY_CHANGE)


@pytest.mark.parametrize("role", ROLES)
def test_only_managers_may_change(client: Client, core: Core, role: str) -> None:
    admin_client = Client()
    login(admin_client, "superuser")
    login(client, role)
    forms = {
        obj: read_form(admin_client, change_url(obj), obj._meta.model_name or "")
        for obj in (core.team, core.rotation, core.policy)
    }
    for obj, data in forms.items():
        data["name"] = ["Renamed"]
        response = client.post(change_url(obj), data)
        obj.refresh_from_db()
        if role in MAY_CHANGE:
            assert response.status_code == 302, text(response.content)[:2000]
            assert obj.name == "Renamed"
        else:
            assert response.status_code == 403
            assert obj.name != "Renamed"


@pytest.mark.parametrize("role", ROLES)
def test_only_managers_may_add(client: Client, role: str) -> None:
    login(client, role)
    for model in ("team", "rotation", "override", "escalationpolicy"):
        response = client.get(f"/admin/rotations/{model}/add/")
        assert response.status_code == (200 if role in MAY_CHANGE else 403)


def test_engineers_cannot_post_a_new_team(client: Client) -> None:
    login(client, ENGINEER)
    response = client.post("/admin/rotations/team/add/", {"name": "X", "slug": "x"})
    assert response.status_code == 403
    assert not Team.objects.exists()


# --- managers at work -----------------------------------------------------------------------


def test_dragging_members_reorders_the_list(client: Client, core: Core, manager: User) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    users = [data[f"members-{i}-user"][0] for i in range(3)]
    assert users == [str(u.pk) for u in (core.alice, core.bob, core.carol)]
    # The drag handle rewrites the hidden positions: Carol to the top, Alice to the bottom.
    data["members-0-position"], data["members-2-position"] = ["3"], ["1"]
    data["members-1-position"] = ["2"]
    data["confirm_oncall_change"] = ["on"]  # it may change who is on call today
    assert client.post(url, data).status_code == 302
    order = RotationMember.objects.filter(rotation=core.rotation).order_by("position", "id")
    assert [m.user.username for m in order] == ["carol", "bob", "alice"]


def test_adding_a_member_puts_them_at_the_bottom(client: Client, core: Core, manager: User) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(data, "members", user=core.dave.pk, position="")
    data["confirm_oncall_change"] = ["on"]  # it may change who is on call today
    assert client.post(url, data).status_code == 302
    order = RotationMember.objects.filter(rotation=core.rotation).order_by("position", "id")
    assert [m.user.username for m in order] == ["alice", "bob", "carol", "dave"]


def test_an_override_added_inline_records_who_made_it(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(
        data,
        "overrides",
        user=core.dave.pk,
        replaces=core.bob.pk,
        start_0="2099-01-20",
        start_1="00:00:00",
        end_0="2099-01-21",
        end_1="00:00:00",
        reason="Bob at a wedding",
    )
    assert client.post(url, data).status_code == 302
    override = Override.objects.get()
    assert (override.user, override.replaces, override.created_by) == (
        core.dave,
        core.bob,
        manager,
    )
    assert override.start == datetime(2099, 1, 20, tzinfo=UTC)


def test_the_override_page_records_who_made_it(client: Client, core: Core, manager: User) -> None:
    data = read_form(client, "/admin/rotations/override/add/", "override")
    data.update(
        rotation=[str(core.rotation.pk)],
        user=[str(core.dave.pk)],
        start_0=["2099-02-01"],
        start_1=["09:00"],
        end_0=["2099-02-02"],
        end_1=["09:00"],
    )
    assert client.post("/admin/rotations/override/add/", data).status_code == 302
    assert Override.objects.get().created_by == manager


def test_rotation_form_takes_shift_length_in_days_or_hours_and_weekdays_as_boxes(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    assert data["shift_length_value"] == ["7"]
    assert data["shift_length_unit"] == ["days"]
    data.update(
        shift_length_value=["12"],
        shift_length_unit=["hours"],
        working_days=["0", "2", "4"],
        working_hours_start=["09:00"],
        working_hours_end=["17:00"],
    )
    data["confirm_oncall_change"] = ["on"]  # it may change who is on call today
    assert client.post(url, data).status_code == 302
    core.rotation.refresh_from_db()
    assert core.rotation.shift_length == timedelta(hours=12)
    assert core.rotation.working_days == [0, 2, 4]
    assert core.rotation.working_hours_end == time(17)


def test_a_new_rotation_with_its_members_in_one_go(
    client: Client, core: Core, manager: User
) -> None:
    data = read_form(client, "/admin/rotations/rotation/add/", "rotation")
    data.update(
        team=[str(core.team.pk)],
        tier=[Tier.NEW],
        position=[Position.SECONDARY],
        shift_length_value=["14"],
        shift_length_unit=["days"],
        handoff_time=["09:00"],
        timezone=["Europe/Berlin"],
        start_date=["2026-01-05"],
    )
    add_row(data, "members", user=core.dave.pk, position=1)
    add_row(data, "members", user=core.alice.pk, position=2)
    assert client.post("/admin/rotations/rotation/add/", data).status_code == 302
    rotation = Rotation.objects.get(tier=Tier.NEW)
    members = rotation.members.order_by("position", "id")
    assert [m.user.username for m in members] == ["dave", "alice"]


def test_rotate_ical_token_action(client: Client, core: Core) -> None:
    old = core.rotation.ical_token
    action = {"action": "rotate_ical_token", "_selected_action": [core.rotation.pk]}
    login(client, ENGINEER)
    client.post("/admin/rotations/rotation/", action)
    core.rotation.refresh_from_db()
    assert core.rotation.ical_token == old
    login(client, MANAGER)
    assert client.post("/admin/rotations/rotation/", action).status_code == 302
    core.rotation.refresh_from_db()
    assert core.rotation.ical_token != old


def test_rotation_list_shows_shape_and_who_is_on_call_now(
    client: Client, core: Core, manager: User
) -> None:
    for tier in (Tier.NEW, Tier.NONE):
        RotationFactory.create(team=core.team, tier=tier, members=[core.dave])
    OverrideFactory.create(
        rotation=core.rotation,
        user=core.dave,
        start=WEDNESDAY - timedelta(hours=1),
        end=WEDNESDAY + timedelta(hours=1),
    )
    with time_machine.travel(WEDNESDAY, tick=False):
        response = client.get("/admin/rotations/rotation/")
    row = text(response.content)
    assert (
        "Core · Veteran primary Core Veteran Primary 1 week America/New_York 3 Dave (override)"
        in row
    )
    assert "Core · New primary Core New Primary 1 week America/New_York 1 Dave" in row


def test_rotation_list_queries_do_not_grow_with_rotations(
    client: Client, manager: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    RotationFactory.create(team=TeamFactory.create(slug="first"), members=[manager])
    client.get("/admin/rotations/rotation/")  # warm the session and content types
    with django_assert_num_queries(QUERIES_PER_LIST) as one:
        assert client.get("/admin/rotations/rotation/").status_code == 200
    for slug in ("a", "b", "c", "d", "e"):
        RotationFactory.create(team=TeamFactory.create(slug=slug), members=[manager])
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get("/admin/rotations/rotation/").status_code == 200


def test_team_page_lists_numbers_and_rotations(client: Client, core: Core, manager: User) -> None:
    DirectNumberFactory.create(team=core.team, label="Frank (platform lead)", phone="+15555550100")
    page = text(client.get(change_url(core.team)).content)
    assert "Numbers to call directly" in page
    assert "Rotations (members, overrides" in page
    assert "Core · Veteran primary" in page


def test_change_pages_load_only_static_files_that_exist(
    client: Client, core: Core, manager: User
) -> None:
    for obj in (core.team, core.rotation, core.policy):
        page = client.get(change_url(obj)).content.decode()
        assets = re.findall(r'(?:src|href)="/static/([^"?]+)', page)
        assert "adminsortable2/js/adminsortable2.min.js" in assets
        missing = [path for path in assets if finders.find(path) is None]
        assert missing == []


# --- previews -------------------------------------------------------------------------------


def test_rotation_page_previews_the_next_eight_shifts(
    client: Client, core: Core, manager: User
) -> None:
    OverrideFactory.create(
        rotation=core.rotation,
        user=core.dave,
        start=datetime(2026, 1, 20, tzinfo=UTC),
        end=datetime(2026, 1, 21, tzinfo=UTC),
    )
    with time_machine.travel(WEDNESDAY, tick=False):
        page = client.get(change_url(core.rotation)).content.decode()
    who = re.findall(r'<td class="who">([^<]*)</td>', page)
    assert who == ["Bob", "Carol", "Dave", "Carol", "Alice", "Bob", "Carol", "Alice"]
    shifts = text(page, "next-shifts")
    assert (
        "1 Bob Wed 2026-01-14 12:00 UTC Wed 2026-01-14 07:00 EST "
        "Mon 2026-01-19 14:00 UTC Mon 2026-01-19 09:00 EST" in shifts
    )
    assert "3 Dave Tue 2026-01-20 00:00 UTC Mon 2026-01-19 19:00 EST" in shifts
    assert "override" in shifts
    assert "No gaps in the next 4 weeks." in text(page)


def test_working_hours_rotation_shows_its_gaps(client: Client, manager: User) -> None:
    rotation = RotationFactory.create(working_hours=True, members=[manager])
    with time_machine.travel(WEDNESDAY, tick=False):
        page = client.get(change_url(rotation)).content
    gaps = text(page, "coverage-gaps")
    assert (
        "Wed 2026-01-14 12:00 UTC (Wed 2026-01-14 07:00 EST) until "
        "Wed 2026-01-14 14:00 UTC (Wed 2026-01-14 09:00 EST): 2 hours" in gaps
    )
    assert (
        "Fri 2026-01-16 22:00 UTC (Fri 2026-01-16 17:00 EST) until Mon 2026-01-19 14:00 UTC" in gaps
    )
    assert "Mon, Tue, Wed, Thu, Fri 09:00–17:00 America/New_York" in text(page)


def test_policy_page_shows_the_dry_run(client: Client, core: Core, manager: User) -> None:
    with time_machine.travel(WEDNESDAY, tick=False):
        page = client.get(change_url(core.policy)).content
    lines = re.findall(r"<li[^>]*>(.*?)</li>", page.decode().split('id="dry-run"')[1], re.S)
    plan = [text(line) for line in lines[:4]]
    assert plan[0].startswith("0 min Bob — on call for Core · Veteran primary · step 1")
    assert plan[1].startswith("10 min Carol — next on the list (2)")
    assert plan[2].startswith("20 min Alice — next on the list (3)")
    assert plan[3].startswith("30 min Morgan — escalation contact of Core")
    assert plan[3].endswith("step 2 · Wed 2026-01-14 12:30 UTC")


def test_previews_escape_names(client: Client, core: Core, manager: User) -> None:
    core.bob.display_name = "<script>alert(1)</script>"
    core.bob.save()
    with time_machine.travel(WEDNESDAY, tick=False):
        for obj in (core.rotation, core.policy):
            page = client.get(change_url(obj)).content.decode()
            assert "<script>alert(1)</script>" not in page
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- bad input is a form error, never a 500 --------------------------------------------------


def assert_form_error(response: object, message: str) -> None:
    assert getattr(response, "status_code", None) == 200
    page = text(getattr(response, "content", b""))
    assert "Please correct the error" in page
    assert message in page


def test_an_override_overlapping_a_saved_one(client: Client, core: Core, manager: User) -> None:
    OverrideFactory.create(
        rotation=core.rotation,
        user=core.dave,
        start=datetime(2099, 1, 10, tzinfo=UTC),
        end=datetime(2099, 1, 12, tzinfo=UTC),
    )
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(
        data,
        "overrides",
        user=core.alice.pk,
        start_0="2099-01-11",
        start_1="00:00",
        end_0="2099-01-13",
        end_1="00:00",
    )
    assert_form_error(
        client.post(url, data), "This overlaps another override on the same rotation: Dave"
    )
    assert Override.objects.count() == 1


def test_the_override_page_refuses_an_overlap(client: Client, core: Core, manager: User) -> None:
    OverrideFactory.create(
        rotation=core.rotation,
        user=core.dave,
        start=datetime(2099, 1, 10, tzinfo=UTC),
        end=datetime(2099, 1, 12, tzinfo=UTC),
    )
    data = read_form(client, "/admin/rotations/override/add/", "override")
    data.update(
        rotation=[str(core.rotation.pk)],
        user=[str(core.alice.pk)],
        start_0=["2099-01-11"],
        start_1=["00:00"],
        end_0=["2099-01-11"],
        end_1=["12:00"],
    )
    response = client.post("/admin/rotations/override/add/", data)
    assert_form_error(response, "This overlaps another override on the same rotation")
    assert Override.objects.count() == 1


def test_two_overlapping_overrides_in_one_submission(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    for user, start, end in (
        (core.alice, "2099-03-01", "2099-03-03"),
        (core.dave, "2099-03-02", "2099-03-04"),
    ):
        add_row(
            data,
            "overrides",
            user=user.pk,
            start_0=start,
            start_1="09:00",
            end_0=end,
            end_1="09:00",
        )
    assert_form_error(
        client.post(url, data),
        "These overrides overlap each other: Alice 2099-03-01 09:00–2099-03-03 09:00 and "
        "Dave 2099-03-02 09:00–2099-03-04 09:00 UTC.",
    )
    assert not Override.objects.exists()


def test_an_override_by_someone_outside_the_team(client: Client, core: Core, manager: User) -> None:
    outsider = UserFactory.create(username="zed", display_name="Zed", roles=[ENGINEER])
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(
        data,
        "overrides",
        user=outsider.pk,
        start_0="2099-03-01",
        start_1="09:00",
        end_0="2099-03-02",
        end_1="09:00",
    )
    assert_form_error(client.post(url, data), "Zed is not a member of the team Core")
    assert not Override.objects.exists()
    data = read_form(client, "/admin/rotations/override/add/", "override")
    data.update(
        rotation=[str(core.rotation.pk)],
        user=[str(outsider.pk)],
        start_0=["2099-03-01"],
        start_1=["09:00"],
        end_0=["2099-03-02"],
        end_1=["09:00"],
    )
    response = client.post("/admin/rotations/override/add/", data)
    assert_form_error(response, "Zed is not a member of the team Core")
    assert not Override.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus is not a known IANA timezone"),
        ({"working_hours_timezone": "Mars/Olympus"}, "Mars/Olympus is not a known IANA timezone"),
        ({"shift_length_value": "0"}, "A shift must last longer than zero."),
        ({"shift_length_value": "400", "shift_length_unit": "days"}, "at most 366 days"),
        (
            {"working_hours_start": "17:00", "working_hours_end": "09:00"},
            "Working hours must end after they start.",
        ),
        ({"working_hours_start": "09:00"}, "Give both the start and the end of working hours"),
    ],
)
def test_bad_rotation_settings(
    client: Client, core: Core, manager: User, changes: dict[str, str], message: str
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    data.update({name: [value] for name, value in changes.items()})
    before = Rotation.objects.values().get(pk=core.rotation.pk)
    assert_form_error(client.post(url, data), message)
    assert Rotation.objects.values().get(pk=core.rotation.pk) == before


def test_a_new_rotation_with_a_zero_length_shift(client: Client, core: Core, manager: User) -> None:
    data = read_form(client, "/admin/rotations/rotation/add/", "rotation")
    data.update(team=[str(core.team.pk)], tier=[Tier.NEW], shift_length_value=["0"])
    data.update(start_date=[date(2026, 1, 5).isoformat()], timezone=["UTC"])
    assert_form_error(
        client.post("/admin/rotations/rotation/add/", data), "A shift must last longer than zero."
    )
    assert Rotation.objects.count() == 1


def test_a_member_outside_the_team(client: Client, core: Core, manager: User) -> None:
    outsider = UserFactory.create(username="zed", display_name="Zed", roles=[ENGINEER])
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(data, "members", user=outsider.pk, position=4)
    assert_form_error(client.post(url, data), "Zed is not a member of the team Core")
    assert core.rotation.members.count() == 3


def test_a_new_rotation_with_a_member_outside_the_team(
    client: Client, core: Core, manager: User
) -> None:
    outsider = UserFactory.create(username="zed", display_name="Zed", roles=[ENGINEER])
    data = read_form(client, "/admin/rotations/rotation/add/", "rotation")
    data.update(team=[str(core.team.pk)], tier=[Tier.NEW], start_date=["2026-01-05"])
    data.update(shift_length_value=["7"], timezone=["UTC"])
    add_row(data, "members", user=outsider.pk, position=1)
    response = client.post("/admin/rotations/rotation/add/", data)
    assert_form_error(response, "Zed is not a member of the team Core")
    assert Rotation.objects.count() == 1


def test_removing_a_team_member_still_on_a_rotation(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.team)
    data = read_form(client, url, "team")
    data["members"] = [str(core.dave.pk)]
    assert_form_error(client.post(url, data), "Alice is still in Core · Veteran primary")
    assert core.team.members.count() == 4


def test_a_call_directly_team_without_numbers(client: Client, core: Core, manager: User) -> None:
    url = change_url(core.team)
    data = read_form(client, url, "team")
    data["contact_mode"] = [ContactMode.CALL]
    message = "A call-directly team needs at least one number for support to dial."
    assert_form_error(client.post(url, data), message)
    core.team.refresh_from_db()
    assert core.team.contact_mode == ContactMode.PAGE
    add_row(data, "direct_numbers", label="Frank", phone="+14155552671", position=1)
    response = client.post(url, data)
    assert response.status_code == 302, text(response.content)
    assert DirectNumber.objects.get().team == core.team


def test_a_bad_direct_number(client: Client, core: Core, manager: User) -> None:
    url = change_url(core.team)
    data = read_form(client, url, "team")
    add_row(data, "direct_numbers", label="Frank", phone="555-0100", position=1)
    assert_form_error(client.post(url, data), "555-0100 is not a valid phone number")
    assert not DirectNumber.objects.exists()


def test_a_step_paging_an_empty_rotation(client: Client, core: Core, manager: User) -> None:
    empty = RotationFactory.create(team=core.team, tier=Tier.NEW)
    url = change_url(core.policy)
    data = read_form(client, url, "escalationpolicy")
    add_row(data, "steps", action=StepAction.ROTATION_ONCALL, rotation=empty.pk, wait="00:05:00")
    message = f"The rotation {empty} has nobody in it; add members first."
    assert_form_error(client.post(url, data), message)
    assert core.policy.steps.count() == 2


def test_a_step_only_offers_the_policys_team_rotations(
    client: Client, core: Core, manager: User
) -> None:
    other = RotationFactory.create(members=[manager])
    url = change_url(core.policy)
    data = read_form(client, url, "escalationpolicy")
    add_row(data, "steps", action=StepAction.ROTATION_ONCALL, rotation=other.pk, wait="00:05:00")
    assert_form_error(client.post(url, data), "Select a valid choice.")
    assert core.policy.steps.count() == 2


def test_an_escalation_contact_step_on_a_team_without_one(
    client: Client, core: Core, manager: User
) -> None:
    core.team.escalation_contact = None
    core.team.save()
    EscalationStep.objects.filter(action=StepAction.ESCALATION_CONTACT).delete()
    url = change_url(core.policy)
    data = read_form(client, url, "escalationpolicy")
    add_row(data, "steps", action=StepAction.ESCALATION_CONTACT, wait="00:10:00")
    assert_form_error(client.post(url, data), "The team Core has no escalation contact to page.")
    assert core.policy.steps.count() == 1


@pytest.fixture
def bare_team() -> Team:
    return TeamFactory.create(slug="vro", name="VRO", escalation_contact=None)


def test_a_new_policy_is_checked_against_its_team(
    client: Client, bare_team: Team, manager: User
) -> None:
    empty = RotationFactory.create(team=bare_team)
    data = read_form(client, "/admin/rotations/escalationpolicy/add/", "escalationpolicy")
    data.update(team=[str(bare_team.pk)], name=["Default"], repeat=["0"])
    add_row(data, "steps", action=StepAction.WALK_ROTATION, rotation=empty.pk, wait="00:10:00")
    add_row(data, "steps", action=StepAction.ESCALATION_CONTACT, wait="00:10:00")
    add_row(data, "steps", action=StepAction.USERS, wait="00:10:00")
    response = client.post("/admin/rotations/escalationpolicy/add/", data)
    assert_form_error(response, f"The rotation {empty} has nobody in it; add members first.")
    assert_form_error(response, "The team VRO has no escalation contact to page.")
    assert_form_error(response, "Choose who this step pages.")
    assert not EscalationPolicy.objects.exists()


# --- an edit of who is on call: previewed in words, confirmed when it changes now --------


def reorder(data: FormData, *usernames_by_row: int) -> None:
    """Set the hidden positions the drag handle writes (row i gets the i-th number)."""
    for row, position in enumerate(usernames_by_row):
        data[f"members-{row}-position"] = [str(position)]


@time_machine.travel(WEDNESDAY, tick=False)
def test_preview_of_a_reorder_says_who_replaces_whom_and_saves_nothing(
    client: Client, core: Core, manager: User
) -> None:
    # Week 2 (from Mon 12 Jan): Bob is on call. Carol moves above Bob.
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    reorder(data, 1, 3, 2)
    response = client.post(url, {**data, "_preview": ["1"]})
    assert response.status_code == 200
    preview = text(response.content, "rotation-preview")
    assert "Carol replaces Bob as Veteran primary now." in preview
    assert "From Mon 19 Jan 09:00 EST: Bob instead of Carol (until Mon 26 Jan 09:00 EST)." in (
        preview
    )
    assert "Yes, change who is on call now" in preview
    order = RotationMember.objects.filter(rotation=core.rotation).order_by("position", "id")
    assert [m.user.username for m in order] == ["alice", "bob", "carol"]


@time_machine.travel(WEDNESDAY, tick=False)
def test_saving_a_change_of_who_is_on_call_now_needs_the_box_ticked(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    reorder(data, 1, 3, 2)
    asked = client.post(url, data)
    assert_form_error(asked, "Carol replaces Bob as Veteran primary now.")
    assert 'name="confirm_oncall_change"' in asked.content.decode()
    assert [m.user.username for m in core.rotation.members.order_by("position")] == [
        "alice",
        "bob",
        "carol",
    ]

    saved = client.post(url, {**data, "confirm_oncall_change": ["on"]}, follow=True)
    assert saved.redirect_chain
    assert "Who is on call changes: Carol replaces Bob as Veteran primary now." in text(
        saved.content
    )
    order = RotationMember.objects.filter(rotation=core.rotation).order_by("position", "id")
    assert [m.user.username for m in order] == ["alice", "carol", "bob"]


# Monday 19 Jan 10:00 New York: Carol's week began an hour ago.
MONDAY_MORNING = datetime(2026, 1, 19, 15, 0, tzinfo=UTC)


@time_machine.travel(MONDAY_MORNING, tick=False)
def test_a_later_handoff_time_is_previewed_shift_by_shift(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    data["handoff_time"] = ["12:00"]
    response = client.post(url, {**data, "_preview": ["1"]})
    preview = text(response.content, "rotation-preview")
    # Bob keeps the pager until noon today, and every Monday morning moves the same way.
    assert "Bob replaces Carol as Veteran primary now." in preview
    assert "From Mon 26 Jan 09:00 EST: Carol instead of Alice (until Mon 26 Jan 12:00 EST)." in (
        preview
    )
    assert client.post(url, data).status_code == 200  # not confirmed: not saved
    core.rotation.refresh_from_db()
    assert core.rotation.handoff_time == time(9)


@time_machine.travel(WEDNESDAY, tick=False)
def test_a_change_of_later_shifts_only_saves_without_the_box_and_says_what_changed(
    client: Client, core: Core, manager: User
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(data, "members", user=core.dave.pk, position="")
    preview = text(client.post(url, {**data, "_preview": ["1"]}).content, "rotation-preview")
    assert "now" not in preview.split("in the next", 1)[1].split("Preview the effect")[0]
    assert "From Mon 26 Jan 09:00 EST: Dave instead of Alice" in preview
    assert 'name="confirm_oncall_change"' not in preview

    saved = client.post(url, data, follow=True)
    assert saved.redirect_chain
    assert "Who is on call changes: From Mon 26 Jan 09:00 EST: Dave instead of Alice" in text(
        saved.content
    )


@time_machine.travel(WEDNESDAY, tick=False)
def test_a_preview_with_no_effect_says_so(client: Client, core: Core, manager: User) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    data["name"] = ["Core veterans"]
    preview = text(client.post(url, {**data, "_preview": ["1"]}).content, "rotation-preview")
    assert "No change to who is on call as Core veterans in the next 4 weeks." in preview


def test_the_member_picker_offers_engineers_only(client: Client, core: Core, manager: User) -> None:
    helper = UserFactory.create(username="sam", display_name="Sam Support", roles=[SUPPORT])
    core.team.members.add(helper)
    gone = UserFactory.create(username="gus", display_name="Gus", roles=[ENGINEER])
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    page = client.get(change_url(core.rotation)).content.decode()
    options = re.search(r'name="members-0-user".*?</select>', page, re.S)
    assert options
    assert "Dave" in options.group(0)
    assert "Sam Support" not in options.group(0)
    assert "Gus" not in options.group(0)
    data = read_form(client, change_url(core.rotation), "rotation")
    add_row(data, "members", user=helper.pk, position="")
    assert_form_error(client.post(change_url(core.rotation), data), "Select a valid choice")


# --- overrides in the admin keep the team-wide rules ---------------------------------------


@pytest.fixture
def secondary(core: Core) -> Rotation:
    """Core's veteran secondary: Dave alone, so he is always on call there."""
    return RotationFactory.create(team=core.team, position=Position.SECONDARY, members=[core.dave])


def inline_cover(data: FormData, user: User, replaces: User) -> None:
    add_row(
        data,
        "overrides",
        user=user.pk,
        replaces=replaces.pk,
        start_0="2099-01-20",
        start_1="00:00:00",
        end_0="2099-01-21",
        end_1="00:00:00",
    )


def test_an_inline_override_double_booking_needs_the_managers_confirmation(
    client: Client, core: Core, manager: User, secondary: Rotation
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    inline_cover(data, core.dave, core.bob)
    data["confirm_oncall_change"] = ["on"]
    assert_form_error(client.post(url, data), "Dave would be on call twice in Core at once")
    assert not Override.objects.exists()
    data["overrides-0-confirm_double_booking"] = ["on"]
    assert client.post(url, data).status_code == 302
    assert Override.objects.get().user == core.dave


def test_the_override_page_refuses_a_double_booking_and_a_new_tier_cover(
    client: Client, core: Core, manager: User, secondary: Rotation
) -> None:
    newbie = UserFactory.create(username="nia", display_name="Nia", roles=[ENGINEER])
    RotationFactory.create(team=core.team, tier=Tier.NEW, members=[newbie])
    data = read_form(client, "/admin/rotations/override/add/", "override")
    data.update(
        rotation=[str(core.rotation.pk)],
        user=[str(core.dave.pk)],
        start_0=["2099-02-01"],
        start_1=["09:00"],
        end_0=["2099-02-02"],
        end_1=["09:00"],
    )
    url = "/admin/rotations/override/add/"
    assert_form_error(client.post(url, data), "Dave would be on call twice in Core at once")
    data["user"] = [str(newbie.pk)]
    data["confirm_double_booking"] = ["on"]
    assert_form_error(client.post(url, data), "a new-tier engineer covers a veteran shift only")
    data["user"] = [str(core.dave.pk)]
    assert client.post(url, data).status_code == 302
    assert Override.objects.get().user == core.dave


def test_the_team_page_cannot_change_a_rotations_schedule_behind_the_preview(
    client: Client, core: Core, manager: User
) -> None:
    # The rotation's own page previews an edit and asks before changing who is on call now;
    # the team page's rotation rows must not be a way around it.
    url = change_url(core.team)
    data = read_form(client, url, "team")
    prefix = next(k for k in data if k.endswith("-0-handoff_time")).removesuffix("-0-handoff_time")
    before = (core.rotation.handoff_time, core.rotation.timezone)
    data[f"{prefix}-0-handoff_time"] = ["23:00"]
    data[f"{prefix}-0-timezone"] = ["Asia/Tokyo"]
    response = client.post(url, {k: v for k, v in data.items()})
    assert response.status_code == 302
    core.rotation.refresh_from_db()
    assert (core.rotation.handoff_time, core.rotation.timezone) == before
    page = client.get(url).content.decode()
    field = re.search(rf'<input[^>]*name="{prefix}-0-handoff_time"[^>]*>', page)
    assert field is not None
    assert "disabled" in field.group(0)


# --- a team's policies, chosen on the team page --------------------------------------------


def test_the_team_page_sets_its_policies_from_its_own_only(
    client: Client, core: Core, manager: User
) -> None:
    theirs = EscalationPolicyFactory.create(team=TeamFactory.create(name="VRO"), name="Theirs")
    url = change_url(core.team)
    page = client.get(url).content.decode()
    assert f'<option value="{core.policy.pk}">Core · Default</option>' in page
    assert "VRO · Theirs" not in page

    data = read_form(client, url, "team")
    data.update(default_policy=[str(core.policy.pk)], engage_policy=[str(core.policy.pk)])
    assert client.post(url, data).status_code == 302
    core.team.refresh_from_db()
    assert (core.team.default_policy, core.team.engage_policy) == (core.policy, core.policy)
    assert core.team.new_tier_policy is None

    data.update(new_tier_policy=[str(theirs.pk)])
    assert_form_error(client.post(url, data), "Select a valid choice")
    core.team.refresh_from_db()
    assert core.team.new_tier_policy is None


# --- overrides go through the services -----------------------------------------------------


def test_an_override_made_in_the_admin_tells_the_colleague_as_the_portal_does(
    client: Client,
    core: Core,
    manager: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    data = read_form(client, "/admin/rotations/override/add/", "override")
    data.update(
        rotation=[str(core.rotation.pk)],
        user=[str(core.dave.pk)],
        replaces=[str(core.bob.pk)],
        start_0=["2099-02-01"],
        start_1=["09:00"],
        end_0=["2099-02-02"],
        end_1=["09:00"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/admin/rotations/override/add/", data).status_code == 302
    override = Override.objects.get()
    told = {n.recipient for n in Notification.objects.all()}
    assert told == {core.dave, core.bob}  # both concern them; the manager acted
    assert all(
        n.idempotency_key.startswith(f"override:{override.pk}:") for n in Notification.objects.all()
    )


def test_an_inline_override_change_and_removal_go_through_the_services(
    client: Client,
    core: Core,
    manager: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    url = change_url(core.rotation)
    data = read_form(client, url, "rotation")
    add_row(
        data,
        "overrides",
        user=core.dave.pk,
        replaces=core.bob.pk,
        start_0="2099-01-20",
        start_1="00:00:00",
        end_0="2099-01-21",
        end_1="00:00:00",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data).status_code == 302
    override = Override.objects.get()
    assert override.created_by == manager
    assert {n.recipient for n in Notification.objects.all()} == {core.dave, core.bob}

    data = read_form(client, url, "rotation")
    data["overrides-0-end_0"] = ["2099-01-22"]
    assert client.post(url, data).status_code == 302
    override.refresh_from_db()
    assert override.end == datetime(2099, 1, 22, tzinfo=UTC)
    assert override.created_by == manager

    data = read_form(client, url, "rotation")
    data["overrides-0-DELETE"] = ["on"]
    assert client.post(url, data).status_code == 302
    assert not Override.objects.exists()


# --- issue 13: the override rule at the admin's door; requests are read-only ---------------


def test_an_engineer_granted_the_override_page_meets_the_rule_as_form_errors(
    client: Client, core: Core
) -> None:
    # Only a superuser grants permissions; say one gave an engineer the override pages.
    alice = core.alice
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    alice.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_override", "add_override"])
    )
    client.force_login(alice)
    data = read_form(client, "/admin/rotations/override/add/", "override")
    two_others = {
        "rotation": [str(core.rotation.pk)],
        "user": [str(core.dave.pk)],
        "replaces": [str(core.bob.pk)],
        "start_0": ["2099-01-20"],
        "start_1": ["00:00"],
        "end_0": ["2099-01-21"],
        "end_1": ["00:00"],
    }
    response = client.post("/admin/rotations/override/add/", {**data, **two_others})
    assert_form_error(response, "You may only hand over your own shifts")
    ten_years = {**two_others, "replaces": [str(alice.pk)], "end_0": ["2109-01-20"]}
    response = client.post("/admin/rotations/override/add/", {**data, **ten_years})
    assert_form_error(response, "An override may last at most 90 days")
    assert not Override.objects.exists()


def test_override_requests_are_for_managers_to_look_at(client: Client, core: Core) -> None:
    request = OverrideRequest.objects.create(
        rotation=core.rotation,
        kind="cover",
        requester=core.bob,
        recipient=core.alice,
        start=datetime(2099, 1, 20, tzinfo=UTC),
        end=datetime(2099, 1, 21, tzinfo=UTC),
    )
    login(client, ENGINEER)
    assert client.get("/admin/rotations/overriderequest/").status_code == 403
    client.logout()
    login(client, MANAGER)
    listing = client.get("/admin/rotations/overriderequest/")
    assert listing.status_code == 200
    assert "Bob" in text(listing.content)
    assert "/admin/rotations/overriderequest/add/" not in listing.content.decode()
    detail = client.get(f"/admin/rotations/overriderequest/{request.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # nothing to save: read-only
    assert client.post(f"/admin/rotations/overriderequest/{request.pk}/delete/").status_code == 403
