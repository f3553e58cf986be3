"""Markdown people write (postmortem sections, review notes) rendered as safe HTML.

Two locks: Python-Markdown is told to treat raw HTML as text (its `html_block` and inline
`html` readers are removed, so `<script>` is shown, escaped, never passed through), and nh3
then keeps only the tags and attributes Markdown itself produces and links to http, https
and mailto (a `[x](javascript:…)` link loses its href).
"""

import markdown
import nh3
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


def markdown_safe(text: str) -> SafeString:
    """Markdown → HTML that is safe to put in a page or an email: no raw HTML, no scripts,
    no `javascript:` links."""
    html = markdown.markdown(
        text or "", extensions=[_NoRawHtml(), "tables", "fenced_code", "sane_lists"]
    )
    return html_clean(html)
