"""Accessibility of the base layout and the main pages, read from the CSS and rendered HTML.

Contrast is computed as WCAG 2 defines it (relative luminance); the pages are the ones the
roles use every day, rendered with realistic data so their tables have rows.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from oncall.models import User
from tests.pages import OUTBOX_SETTINGS, Portal, portal_build

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "portal.css").read_text()
AA_TEXT = 4.5


def hex_rgb(value: str) -> tuple[float, float, float]:
    digits = value.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    assert len(digits) == 6, f"not a hex colour: {value}"
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue


def luminance(value: str) -> float:
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in hex_rgb(value))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def custom_properties() -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", CSS)
    assert root is not None
    return dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", root.group(1)))


def resolve(value: str | None, properties: dict[str, str]) -> str | None:
    """A declaration's colour as hex, through var(); None for anything else (gradients…)."""
    value = (value or "").strip()
    var = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if var:
        return properties.get(var.group(1))
    return value if re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value) else None


def test_the_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    # The amber this project used to have: 4.24:1, below AA for body text.
    assert contrast("#b26a00", "#ffffff") < AA_TEXT


def test_amber_reads_at_4_5_to_1_on_every_background_it_is_used_on() -> None:
    properties = custom_properties()
    amber = properties["--warn"]
    # Text on the cards and the page, on its own tint (.warning, acknowledged badges), and
    # white text on amber (the SEV2 badge).
    for background in (properties["--card"], properties["--bg"], "#fff4e0", "#ffffff"):
        ratio = contrast(amber, background)
        assert ratio >= AA_TEXT, f"--warn {amber} on {background} is only {ratio:.2f}:1"
    assert re.search(r"\.badge\.sev-sev2\s*\{[^}]*background:\s*var\(--warn\)", CSS)
    assert re.search(r"\.warning\s*\{[^}]*background:\s*#fff4e0;\s*color:\s*var\(--warn\)", CSS)


def test_every_rule_that_sets_text_and_background_colours_meets_aa() -> None:
    properties = custom_properties()
    checked = 0
    failures = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", CSS):
        declarations: dict[str, str] = {
            name.strip(): value.strip()
            for name, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body)
        }
        text = resolve(declarations.get("color"), properties)
        background = resolve(
            declarations.get("background-color") or declarations.get("background"), properties
        )
        if text and background:
            checked += 1
            ratio = contrast(text, background)
            if ratio < AA_TEXT:
                failures.append(f"{selector.strip()}: {text} on {background} = {ratio:.2f}:1")
    assert checked >= 10, "the CSS parser found almost nothing: it no longer reads portal.css"
    assert failures == []


# --- the rendered pages -----------------------------------------------------------------------

FOCUSABLE = {"a", "button", "input", "select", "textarea", "summary"}


class PageOutline(HTMLParser):
    """The facts about a page the tests below need: tables, focus order, landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.first_focusable: dict[str, str] | None = None
        self.main_ids: list[str] = []
        self.tables: list[dict[str, object]] = []
        self.current_th: list[str] | None = None
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.in_body = True
        if tag == "main":
            self.main_ids.append(attributes.get("id", ""))
        focusable = (tag in FOCUSABLE and attributes.get("type") != "hidden") or (
            attributes.get("tabindex", "-1") not in ("", "-1")
        )
        if self.in_body and focusable and self.first_focusable is None:
            self.first_focusable = {"tag": tag, **attributes}
        if tag == "table":
            wrapper = self.stack[-1][1] if self.stack else {}
            self.tables.append({"class": attributes.get("class", ""), "wrapper": wrapper, "th": []})
        if tag == "th" and self.tables:
            self.current_th = [attributes.get("scope", "")]
        if tag not in {"br", "input", "img", "meta", "link", "hr"}:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        if tag == "th" and self.current_th is not None and self.tables:
            scope, *text = self.current_th
            headers = self.tables[-1]["th"]
            assert isinstance(headers, list)
            headers.append((scope, "".join(text).strip()))
            self.current_th = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.current_th is not None:
            self.current_th.append(data)


@pytest.fixture
def portal(db: None, settings: Settings) -> Portal:
    for name, value in OUTBOX_SETTINGS.items():
        setattr(settings, name, value)
    return portal_build()


def rendered_pages(portal: Portal) -> dict[str, PageOutline]:
    outlines = {}
    for name, username, path in portal.pages():
        client = Client()
        if username:
            client.force_login(User.objects.get(username=username))
        response = client.get(path)
        assert response.status_code == 200, f"{name}: {response.status_code}"
        outline = PageOutline()
        outline.feed(response.content.decode())
        outlines[name] = outline
    # Home's incidents arrive by htmx; read that part too.
    client = Client()
    client.force_login(User.objects.get(username=portal.engineer))
    mine = PageOutline()
    mine.feed(client.get("/incidents/mine/", headers={"HX-Request": "true"}).content.decode())
    outlines["home: my incidents"] = mine
    return outlines


def test_every_table_has_scoped_named_header_cells_and_scrolls_in_a_named_box(
    portal: Portal,
) -> None:
    outlines = rendered_pages(portal)
    tables = [(name, table) for name, outline in outlines.items() for table in outline.tables]
    # The pages with rows: incidents (2), incident (2), oncall (2 teams), my shifts, rotation
    # (2), profile (2), outbox. If this drops, a page lost its data and proves nothing.
    assert len(tables) >= 12
    for name, table in tables:
        what = f"{name}: table.{table['class']}"
        headers = table["th"]
        assert isinstance(headers, list)
        assert headers, f"{what} has no header cells"
        for scope, text in headers:
            assert scope in {"col", "row", "colgroup", "rowgroup"}, f"{what}: <th> without scope"
            assert text, f"{what}: an empty <th> (give it visually hidden text)"
        wrapper = table["wrapper"]
        assert isinstance(wrapper, dict)
        assert "table-scroll" in wrapper.get("class", ""), f"{what} is not in a .table-scroll"
        assert wrapper.get("role") == "region", what
        assert wrapper.get("tabindex") == "0", what
        assert wrapper.get("aria-label"), f"{what}: its scroll box has no name"


def test_the_skip_link_is_the_first_thing_to_focus_and_jumps_to_main(portal: Portal) -> None:
    for name, outline in rendered_pages(portal).items():
        if name.startswith("home: "):
            continue  # a fragment, not a page
        assert outline.first_focusable is not None, name
        assert outline.first_focusable.get("class") == "skip-link", (
            f"{name}: first focusable is {outline.first_focusable}"
        )
        assert outline.first_focusable.get("href") == "#main", name
        assert outline.main_ids == ["main"], (
            f"{name}: <main id=main> once, found {outline.main_ids}"
        )


def test_the_list_says_refreshed_every_15_seconds_only_where_polling_runs(
    portal: Portal,
) -> None:
    client = Client()
    client.force_login(User.objects.get(username="santhosh"))
    html = client.get("/incidents/").content.decode()
    # Polling is htmx's: the claim sits in the part CSS shows only once portal.js has seen
    # htmx (<html class="live">).
    assert '<span class="when-live">; refreshed every 15 seconds</span>' in html
    assert html.count("refreshed every 15 seconds") == 1
    # Whether it shows is a browser's matter: tests/e2e/test_accessibility.py.
