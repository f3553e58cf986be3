"""No input reaches a 500 at the portal's pages: every form, htmx view and query string.

The routes are read from the URL resolver (every namespace but the admin, the API and the
ingestion doors, which have their own fuzz tests), so a new page is covered without
touching this file. What a good request looks like is read from the pages themselves: each
page's forms (action → fields with the values the page put there) and links (paths with
their query strings). Hypothesis then sends each route, as a Manager in UTC+14, GETs and
POSTs (plain and htmx) whose fields are absent, good or hostile (`tests.hostile`), to real
paths and to paths with hostile ids (`99999999999999999999` in `<int:pk>`). Every answer
must be below 500; an anonymous visitor is sent to the login page from every page that
needs a login. Twilio's callbacks are signed as Twilio signs them, so the fuzz reaches past
the signature check.
"""

import os
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from pytest_django import Settings

from incidents.engine.due import escalation_run_due
from incidents.services import incident_declare, incident_resolve
from notifications.models import Notification
from notifications.services import contact_method_create, notification_rule_create
from notifications.signing import ack_path, ack_token_make
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER
from postmortems.services import action_item_create, postmortem_start
from reports.models import OnCallReport
from rotations.models import ContactMode, PersonalFeed
from rotations.views.links import person_feed_url, rotation_feed_url
from tests.factories import (
    DirectNumberFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    OverrideFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)
from tests.hostile import (
    HUGE_ID,
    encode,
    form_body,
    fuzz_run,
    hostile_values,
    page_forms,
    twilio_signature,
    urlencoded,
)

# Namespaces fuzzed elsewhere: the admin (tests/oncall/test_admin_no_5xx.py), the API and
# the ingestion doors (tests/api/test_no_5xx.py).
ELSEWHERE = {"admin", "api", "integrations"}
# About 30 s on SQLite; PAGES_FUZZ_EXAMPLES=300 digs deeper (and a fresh seed with
# PAGES_FUZZ_SEED=<n>, printed with each failure).
EXAMPLES_PER_ROUTE = int(os.environ.get("PAGES_FUZZ_EXAMPLES", "30"))
FUZZ_SEED = os.environ.get("PAGES_FUZZ_SEED")
TWILIO_TOKEN = "twilio-fuzz-token"
WALK_PAGES_PER_ROUTE = 3
# Marker values that every converter accepts, replaced by hostile segments after reverse().
MARKERS = {"IntConverter": "424242421", "SlugConverter": "markerslug"}
MARKER = "markermarkermarkermarker"  # str, path and the iCal feed token


@dataclass(frozen=True)
class Route:
    name: str  # namespace:name
    pattern: URLPattern
    login_required: bool


def _routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns: list[URLPattern | URLResolver], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace not in ELSEWHERE and pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                needs_login = getattr(pattern.callback, "login_required", True)
                routes.append(Route(name, pattern, needs_login))

    walk(get_resolver().url_patterns, "")
    return sorted(routes, key=lambda r: (r.name.endswith(("delete", "logout")), r.name))


ROUTES = _routes()


@dataclass
class Site:
    """What the pages offer: for each route, real paths, the forms posted to them and the
    query strings their links carry."""

    paths: dict[str, set[str]] = field(default_factory=dict)
    forms: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    queries: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def learn(self, url: str, fields: dict[str, list[str]] | None = None) -> None:
        parts = urlsplit(url)
        try:
            match = resolve(parts.path)
        except Resolver404:
            return
        self.paths.setdefault(match.view_name, set()).add(parts.path)
        if fields:
            self.forms.setdefault(match.view_name, {}).update(fields)
        for key, values in parse_qs(parts.query).items():
            self.queries.setdefault(match.view_name, {})[key] = values


@dataclass
class World:
    manager: User
    site: Site


@pytest.fixture
def world(db: None, settings: Settings) -> World:
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.NOTIFY_CONSOLE = True  # the dev outbox page is on, for its route to be fuzzed
    manager = UserFactory.create(
        username="mona", roles=[MANAGER], timezone="Pacific/Kiritimati", is_superuser=True
    )
    alice = UserFactory.create(username="alice", roles=[ENGINEER], timezone="Pacific/Pago_Pago")
    team = TeamFactory.create(slug="core", escalation_contact=manager)
    DirectNumberFactory.create(team=team)
    rotation = RotationFactory.create(
        team=team, members=[alice, manager], start_date=timezone.now().date() - timedelta(days=9)
    )
    policy = EscalationPolicyFactory.create(team=team)
    EscalationStepFactory.create(policy=policy, walk=True, rotation=rotation)
    OverrideFactory.create(
        rotation=rotation, user=manager, start=timezone.now() + timedelta(days=1)
    )
    method = contact_method_create(
        user=manager, channel="email", address="mona@example.com", send_code=False
    )
    notification_rule_create(user=manager, urgency="high", contact_method=method, delay=60)
    incident_declare(title="Disk full", team=team, actor=manager)
    billing = TeamFactory.create(slug="billing", contact_mode=ContactMode.CALL)
    DirectNumberFactory.create(team=billing)
    called = incident_declare(title="Billing down", team=billing, actor=manager)
    done = incident_declare(title="Queue stuck", team=team, actor=manager)
    escalation_run_due(now=timezone.now() + timedelta(hours=1))
    incident_resolve(incident=done, actor=manager, note="Drained.")
    page = Notification.objects.filter(subject_type="incident").order_by("pk").first()
    assert page is not None
    # A postmortem with an action item: its page, writing form and buttons are walked too.
    postmortem = postmortem_start(incident=done, actor=manager)
    action_item_create(
        postmortem=postmortem, actor=manager, title="Alert on disk", owner=alice, kind="detect"
    )
    feed = PersonalFeed.objects.create(user=alice)
    report = OnCallReport.objects.create(
        rotation=rotation,
        user=alice,
        shift_start=timezone.now() - timedelta(days=1),
        shift_end=timezone.now() + timedelta(days=6),
    )

    site = Site()
    client = Client()
    client.force_login(manager)
    # Paths no page links to: the callbacks, the feeds and the acknowledge link.
    token = ack_token_make(notification_id=page.pk)
    for url in (
        reverse("notifications:twilio-status", args=[page.pk]),
        reverse("notifications:twilio-voice-ack", args=[token]),
        ack_path(notification_id=page.pk),
        rotation_feed_url(rotation).removeprefix(settings.SITE_URL),
        person_feed_url(feed).removeprefix(settings.SITE_URL),
        reverse("incidents:detail", args=[done.pk]),
        reverse("rotations:team", args=[team.slug]),
        reverse("postmortems:detail", args=[postmortem.pk]),
        reverse("reports:detail", args=[report.pk]),
    ):
        site.learn(url)
    site.forms["notifications:twilio-status"] = {"MessageStatus": ["undelivered"]}
    site.forms["notifications:twilio-voice-ack"] = {"Digits": ["1"]}
    # Every page a person can reach, and what it offers: a breadth-first walk of the links.
    queue = [reverse(route.name) for route in ROUTES if not route.pattern.pattern.converters] + [
        reverse("incidents:detail", args=[called.pk])
    ]
    seen: set[str] = set()
    visits: dict[str, int] = {}
    while queue:
        url = queue.pop()
        if url in seen or url.startswith(("/admin/", "/api/", "/accounts/logout")):
            continue
        seen.add(url)
        try:
            route_name = resolve(urlsplit(url).path).view_name
        except Resolver404:
            route_name = url
        # A few pages of each route: "previous week" links would walk back to the year 2000.
        if visits.get(route_name, 0) >= WALK_PAGES_PER_ROUTE:
            continue
        visits[route_name] = visits.get(route_name, 0) + 1
        site.learn(url)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response["Content-Type"]:
            continue
        forms = page_forms(urlsplit(url).path, response.content.decode())
        for action, fields in forms.forms.items():
            site.learn(action, fields)
        queue.extend(link.split("#")[0] for link in forms.links)
    return World(manager, site)


def _path_strategy(route: Route, site: Site) -> st.SearchStrategy[str]:
    """A real path of the route, or one with a hostile value in each path parameter."""
    converters = route.pattern.pattern.converters
    real = sorted(site.paths.get(route.name, set()))
    if not converters:
        return st.just(real[0] if real else reverse(route.name))
    markers = {
        name: MARKERS.get(type(converter).__name__, MARKER)
        for name, converter in converters.items()
    }
    template = reverse(route.name, kwargs=markers)

    def hostile(segments: list[str | bytes]) -> str:
        path = template
        for marker, segment in zip(markers.values(), segments, strict=True):
            path = path.replace(marker, encode(segment), 1)
        return path

    segment = st.sampled_from([HUGE_ID, "0", "-1", "1" + "0" * 30]) | hostile_values()
    hostile_paths = st.lists(segment, min_size=len(markers), max_size=len(markers)).map(hostile)
    return st.sampled_from(real) | hostile_paths if real else hostile_paths


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    encoded: str  # the query string or the urlencoded body
    htmx: bool


def _send(client: Client, sent: Sent) -> Any:
    """One request as a browser (or Twilio) sends it: raw bytes, signed when Twilio's."""
    headers = {"HX-Request": "true"} if sent.htmx else {}
    headers["X-Twilio-Signature"] = twilio_signature(
        TWILIO_TOKEN, sent.path, sent.encoded, method=sent.method
    )
    if sent.method == "GET":
        url = f"{sent.path}?{sent.encoded}" if sent.encoded else sent.path
        return client.get(url, headers=headers)
    return client.post(
        sent.path,
        data=sent.encoded,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def _requests(route: Route, site: Site) -> st.SearchStrategy[Sent]:
    form = site.forms.get(route.name, {})
    query = site.queries.get(route.name, {})
    body = form_body(form, sorted(form)) if form else form_body(query, sorted(query))
    extra = st.dictionaries(st.sampled_from(["pk", "id", "next", "page", "q"]), st.just(["1"]))
    return st.builds(
        lambda method, path, fields, more, htmx: Sent(
            method, path, urlencoded({**more, **fields}), htmx
        ),
        st.sampled_from(["GET", "POST"]),
        _path_strategy(route, site),
        st.one_of(body, form_body(query, sorted(query))),
        extra,
        st.booleans(),
    )


def _fuzz(route: Route, world: World, client: Client, *, anonymous: bool) -> None:
    healthz = reverse("healthz")
    baseline = client.get(healthz).status_code  # 503 when beat is down, whatever is sent

    @fuzz_run(EXAMPLES_PER_ROUTE, FUZZ_SEED)
    @given(sent=_requests(route, world.site))
    def run(sent: Sent) -> None:
        if not anonymous:
            client.force_login(world.manager)  # a fuzzed logout must not end the run
        response = _send(client, sent)
        status = response.status_code
        if route.name == "healthz" and urlsplit(sent.path).path == healthz:
            assert status in (baseline, 405), sent
        else:
            assert status < 500, (sent, response.content[:300])
        # Django refuses to redirect to a URL over 2,048 characters (400): a GET that long
        # cannot be sent on to the login page with itself as `next`.
        too_long = sent.method == "GET" and len(sent.path) + len(sent.encoded) > 2000
        if (
            anonymous
            and route.login_required
            and status != 404
            and not (too_long and status == 400)
        ):
            assert status == 302, (sent, status)
            assert response["Location"].startswith(reverse("login")), sent

    run()


@pytest.fixture
def each_route(world: World) -> tuple[World, list[Route]]:
    assert {"incidents:detail", "rotations:my-shifts", "notifications:ack"} <= {
        r.name for r in ROUTES
    }
    # What the pages offered: the walk found the incident actions' forms and their fields.
    assert {"note", "resolve", "severity"} <= {
        name.split(":")[1] for name in world.site.forms if name.startswith("incidents:")
    }
    return world, ROUTES


def _fuzz_every_route(each_route: tuple[World, list[Route]], *, anonymous: bool) -> None:
    world, routes = each_route
    failures = []
    for route in routes:
        try:
            _fuzz(route, world, Client(), anonymous=anonymous)
        except Exception as failure:  # every route is tried; all failures shown
            where = "".join(traceback.format_tb(failure.__traceback__)[-2:])
            failures.append(f"{route.name}: {failure!r}\n{where}")
    print("\n\n".join(failures))  # shown whole by pytest when the test fails
    assert not failures, f"{len(failures)} routes answered 5xx"


def test_no_page_answers_5xx_to_a_manager(each_route: tuple[World, list[Route]]) -> None:
    _fuzz_every_route(each_route, anonymous=False)


def test_no_page_answers_5xx_to_a_manager_on_postgresql(
    postgres: None, each_route: tuple[World, list[Route]]
) -> None:
    """PostgreSQL is where a NUL in text and a number beyond 64 bits fail."""
    _fuzz_every_route(each_route, anonymous=False)


def test_anonymous_visitors_are_sent_to_log_in_and_never_get_5xx(
    each_route: tuple[World, list[Route]],
) -> None:
    _fuzz_every_route(each_route, anonymous=True)
