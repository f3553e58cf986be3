"""Hostile form values and query strings for the no-5xx property tests of the pages.

Values are sent as raw urlencoded bytes, so a lone surrogate arrives as `%ED%A0%80` (what a
browser or a script can send, and what the test client refuses to encode) and a NUL as
`%00`. The pools are what broke portals before: NUL, lone surrogates, numbers of 20 and 30
digits, years 1 and 9999 in the zones furthest from UTC, text far over any limit, wrong
types and bytes that are not UTF-8.
"""

from collections.abc import Callable, Mapping, Sequence
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote_from_bytes

from django.conf import settings
from django.test import RequestFactory
from hypothesis import HealthCheck, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

HUGE_ID = "99999999999999999999"

NASTY_TEXT: list[str | bytes] = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    b"\xff\xfe",
    "",
    " ",
    "x" * 30_000,
    HUGE_ID,
    "1" + "0" * 30,
    "-" + HUGE_ID,
    "-1",
    "0",
    "²",
    "１２",
    "1e999",
    "NaN",
    "9999-12-31T23:59",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01",
    "9999-12-31",
    "2199-12-31T23:59",
    "2000-01-01T00:00",
    "2026-02-30T10:00",
    "10000-01-01T00:00",
    "P999999999D",
    "99:99:99",
    "999999999 00:00:00",
    "Nowhere/Atlantis",
    "on",
    "true",
    "[]",
    '{"a": 1}',
    "<script>alert(1)</script>",
    "%00",
]


def fuzz_run(examples: int, fresh_seed: str | None) -> Callable[[Any], Any]:
    """Hypothesis settings of the page fuzzers: a fixed sequence (CI reproduces it) unless
    a seed is given to explore anew; no example database, no deadline."""

    def decorate(test: Any) -> Any:
        configured = hypothesis_settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=fresh_seed is None,
            database=None,
        )(test)
        return configured if fresh_seed is None else seed(int(fresh_seed))(configured)

    return decorate


def twilio_signature(token: str, path: str, body: str = "", *, method: str = "POST") -> str:
    """X-Twilio-Signature as Twilio computes it for this request: over the URL the portal
    sees (`get_full_path`) and the form fields as Django decodes them."""
    factory = RequestFactory()
    if method == "GET":
        request = factory.get(f"{path}?{body}" if body else path)
        params: dict[str, str] = {}
    else:
        request = factory.post(path, data=body, content_type="application/x-www-form-urlencoded")
        params = {key: request.POST[key] for key in request.POST}
    url = settings.SITE_URL + request.get_full_path()
    return str(RequestValidator(token).compute_signature(url, params))


def hostile_values() -> st.SearchStrategy[str | bytes]:
    nasty = st.sampled_from(NASTY_TEXT)
    return st.one_of(
        nasty,
        nasty,
        nasty,
        st.text(st.characters(codec=None, categories=None), max_size=12),
        st.integers().map(str),
    )


def encode(value: str | bytes) -> str:
    """One urlencoded value; lone surrogates become the bytes a sender would put there."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return quote_from_bytes(raw, safe="")


def urlencoded(fields: Mapping[str, list[str | bytes]]) -> str:
    return "&".join(f"{encode(key)}={encode(v)}" for key, values in fields.items() for v in values)


def form_body(
    good: Mapping[str, Sequence[str | bytes]], keys: list[str]
) -> st.SearchStrategy[dict[str, list[str | bytes]]]:
    """Bodies with each of `keys` absent, good (as the page would send it) or hostile.

    Good values get the hostile one past "this field is required" to the checks behind.
    """

    def one(key: str) -> st.SearchStrategy[list[str | bytes]]:
        good_values: list[list[str | bytes]] = [list(good[key])] if key in good else []
        hostile = st.lists(hostile_values(), min_size=1, max_size=2)
        return st.sampled_from(good_values) | hostile if good_values else hostile

    return st.fixed_dictionaries({}, optional={key: one(key) for key in keys})


class PageForms(HTMLParser):
    """A page's forms (action → the values the page put in its fields) and its links."""

    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: dict[str, dict[str, list[str]]] = {}
        self.links: list[str] = []
        self._form: dict[str, list[str]] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr: dict[str, Any] = dict(attrs)
        name = attr.get("name")
        for link in (attr.get("href"), attr.get("hx-get")):
            if tag != "link" and link and link.startswith("/"):
                self.links.append(link)
        if tag == "form":
            action = (attr.get("action") or self.page_path).split("#")[0]
            if attr.get("method", "get").lower() == "get":
                self.links.append(action)
            self._form = self.forms.setdefault(action, {})
        elif tag == "option":
            self._option(attr)
        elif self._form is None or not name or name == "csrfmiddlewaretoken":
            return
        elif tag in ("input", "button"):
            kind = attr.get("type", "text" if tag == "input" else "submit")
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            if kind not in ("file", "image", "reset"):
                self._form.setdefault(name, []).append(attr.get("value") or "")
        elif tag == "select":
            self._select, self._select_first = name, None
        elif tag == "textarea":
            self._textarea, self._text = name, ""

    def _option(self, attr: dict[str, Any]) -> None:
        if self._form is None or self._select is None:
            return
        value = attr.get("value") or ""
        if self._select_first is None and value:
            self._select_first = value
        if "selected" in attr:
            self._form.setdefault(self._select, []).append(value)

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select:
            if self._select not in self._form and self._select_first:
                self._form[self._select] = [self._select_first]
            self._select = None
        elif tag == "textarea" and self._form is not None and self._textarea:
            self._form[self._textarea] = [self._text.strip("\n")]
            self._textarea = None


def page_forms(page_path: str, html: str) -> PageForms:
    parser = PageForms(page_path)
    parser.feed(html)
    return parser
