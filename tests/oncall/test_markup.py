"""Markdown people write is rendered with no raw HTML, no scripts and no javascript: links."""

from html.parser import HTMLParser

import pytest

from oncall.markup import html_clean, markdown_safe


class Tags(HTMLParser):
    """The elements a browser would build from the HTML, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


def test_markdown_is_rendered() -> None:
    html = markdown_safe("# Impact\n\n**All** EU shoppers, see <https://status.example.com>")
    assert "<h1>Impact</h1>" in html
    assert "<strong>All</strong>" in html
    assert 'href="https://status.example.com"' in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "before <script>alert(1)</script> after",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        '<div onclick="alert(1)">hi</div>',
    ],
)
def test_raw_html_and_script_links_come_out_harmless(text: str) -> None:
    tags = Tags()
    tags.feed(markdown_safe(text))
    assert {name for name, _ in tags.seen} <= {"p", "a"}
    for _, attributes in tags.seen:
        for name, value in attributes:
            assert not name.startswith("on")
            assert not (value or "").lower().startswith(("javascript:", "data:"))


def test_raw_html_is_shown_as_text_not_dropped() -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown_safe("<script>alert(1)</script>")


def test_html_clean_keeps_only_what_markdown_makes() -> None:
    cleaned = html_clean('<p onclick="x">ok</p><iframe src="https://x"></iframe><b>b</b>')
    assert cleaned == "<p>ok</p>b"


@pytest.mark.parametrize(
    "text",
    [
        "1. " * 1000 + "deep",  # a list nested 1,000 deep: RecursionError in Python-Markdown
        "> " * 5000 + "deep",
        "- a\n" + "    " * 40 + "- deep",
        "[" * 20000,  # unclosed brackets: quadratic in the link reader (minutes)
        "![" * 5000,
        "*a" * 10000,
        "---\n" * 5000 + "deep",
    ],
    ids=[
        "ordered-nesting",
        "quote-nesting",
        "indent-nesting",
        "brackets",
        "images",
        "marks",
        "lines",
    ],
)
def test_text_that_would_crawl_or_recurse_is_shown_as_escaped_paragraphs(text: str) -> None:
    html = markdown_safe(text + " <script>x</script>")
    assert html.startswith("<p>")
    assert "<ol>" not in html
    assert "<blockquote>" not in html
    assert "<ul>" not in html
    assert "<hr" not in html
    assert "<em>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>" not in html


def test_ordinary_markdown_below_the_limits_still_renders() -> None:
    text = "\n".join(f"- [link {n}](https://example.com/{n}) *note* `code_{n}`" for n in range(60))
    html = markdown_safe("1. one\n    - two\n        - three\n\n" + text)
    assert html.count("<a ") == 60
    assert "<ol>" in html
    assert html.count("<ul>") == 3
    assert "<em>note</em>" in html


def test_one_text_leaves_nothing_behind_for_the_next() -> None:
    # The renderer is reused: a reference link defined in one text is unknown in the next,
    # and each text renders as it would alone.
    first = markdown_safe("[docs][ref]\n\n[ref]: https://example.com/docs")
    second = markdown_safe("[docs][ref]")
    assert 'href="https://example.com/docs"' in first
    assert "href" not in second
    assert "[docs][ref]" in second
    assert markdown_safe("**bold**") == markdown_safe("**bold**") == "<p><strong>bold</strong></p>"


def test_threads_each_render_on_their_own() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"# Heading {n}\n\n- item *{n}*\n- [link](https://example.com/{n})" for n in range(40)]
    alone = [markdown_safe(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(markdown_safe, texts)) == alone


def test_texts_shown_again_render_the_same_and_an_edit_renders_afresh() -> None:
    # Short texts are kept rendered (the review shows the same summaries on every view).
    short = "The cause: *expired* certificate. <script>x</script>"
    long = "A long summary with *emphasis*. " * 150  # past what is kept
    assert markdown_safe(short) == markdown_safe(short)
    assert "<em>expired</em>" in markdown_safe(short)
    assert "<script>" not in markdown_safe(short)
    assert markdown_safe(short + " **now fixed**").endswith("<strong>now fixed</strong></p>")
    assert markdown_safe(long) == markdown_safe(long)
    assert markdown_safe(long).count("<em>emphasis</em>") == 150
