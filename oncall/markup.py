"""Markdown people write (postmortem sections, review notes) rendered as safe HTML.

Two locks: Python-Markdown is told to treat raw HTML as text (its `html_block` and inline
`html` readers are removed, so `<script>` is shown, escaped, never passed through), and nh3
then keeps only the tags and attributes Markdown itself produces and links to http, https
and mailto (a `[x](javascript:…)` link loses its href).
"""

import functools
import re
import threading

import markdown
import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


class _NoRawHtml(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def html_clean(html: str) -> SafeString:
    """HTML reduced to what rendered Markdown may hold (tags, attributes, link schemes)."""
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 (nh3 has just sanitised it)


# Python-Markdown's worst cases: its link reader is quadratic in unclosed brackets ("[" × 2,000
# takes seconds) and each nested list or quote is a recursion (a line of "1. " × 1,000 raises
# RecursionError). Text like that is shown as plain paragraphs instead: nobody writes it.
# Its block and inline readers are also slow on thousands of lines or of emphasis marks.
MAX_BRACKETS = 200
MAX_MARKS = 2000  # * _ ` \ together
MAX_LINES = 500
MAX_NESTING = 8
_DEEP_LINE = re.compile(rf"^(?:[ \t]*(?:[-*+>]|\d{{1,9}}[.)])(?:[ \t]+|$)){{{MAX_NESTING},}}", re.M)
_DEEP_INDENT = re.compile(rf"^[ \t]{{{4 * MAX_NESTING},}}\S", re.M)


def _pathological(text: str) -> bool:
    return (
        text.count("[") > MAX_BRACKETS
        or sum(text.count(mark) for mark in "*_`\\") > MAX_MARKS
        or text.count("\n") > MAX_LINES
        or _DEEP_LINE.search(text) is not None
        or _DEEP_INDENT.search(text) is not None
    )


def _plain(text: str) -> SafeString:
    paragraphs = (p.strip() for p in re.split(r"\n\s*\n", text))
    return mark_safe(  # noqa: S308 (every piece is escaped)
        "".join(
            f"<p>{'<br>'.join(escape(line) for line in p.splitlines())}</p>"
            for p in paragraphs
            if p
        )
    )


_local = threading.local()


def _renderer() -> markdown.Markdown:
    """This thread's Markdown instance: building one loads its extensions, which cost three
    times the rendering of a paragraph; an instance is reused after `reset()` but is not safe
    to share between threads."""
    renderer = getattr(_local, "renderer", None)
    if renderer is None:
        renderer = _local.renderer = markdown.Markdown(
            extensions=[_NoRawHtml(), "tables", "fenced_code", "sane_lists"]
        )
    return renderer


# Pages show the same texts on every view (the weekly review's 25 summaries): short texts are
# kept rendered, per process (the HTML depends on the text alone, so an edit is a new key).
CACHED_TEXT_MAX = 4000
CACHED_TEXTS = 512


def markdown_safe(text: str) -> SafeString:
    """Markdown → HTML that is safe to put in a page or an email: no raw HTML, no scripts,
    no `javascript:` links. Text that would make the renderer crawl or recurse too deep is
    shown as escaped paragraphs."""
    text = text or ""
    if len(text) <= CACHED_TEXT_MAX:
        return _markdown_safe_kept(text)
    return _markdown_safe(text)


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _markdown_safe_kept(text: str) -> SafeString:
    return _markdown_safe(text)


def _markdown_safe(text: str) -> SafeString:
    if _pathological(text):
        return _plain(text)
    renderer = _renderer()
    try:
        html = renderer.reset().convert(text)
    except RecursionError:  # a shape the checks above missed: still never a 500
        _local.renderer = None  # its state is unknown after an error half-way
        return _plain(text)
    return html_clean(html)
