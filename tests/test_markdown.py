"""The one Markdown renderer: whatever people write renders inert."""

from html.parser import HTMLParser

import pytest

from server.markdown import render_markdown


def parse(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element the browser would build from `html`, with its attributes."""
    elements = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            elements.append((tag, attrs))

    Collector().feed(html)
    return elements


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        '<a href="#" hx-get="/logout" hx-trigger="load">x</a>',
        '<div hx-post="/logout" hx-trigger="load"></div>',
        "![x](javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ],
)
def test_hostile_markdown_renders_inert(text):
    elements = parse(str(render_markdown(text)))
    tags = [tag for tag, _attrs in elements]
    assert "script" not in tags
    for tag, attrs in elements[1:]:  # the first is our own hx-disable wrapper
        for name, value in attrs:
            assert not name.startswith(("on", "hx-", "data-")), (tag, name)
            if name in ("href", "src"):
                assert (value or "").lower().startswith(("http:", "https:", "mailto:", "#", "/")), value


def test_output_sits_inside_hx_disable():
    html = str(render_markdown("**ciao**"))
    assert html.startswith('<div class="markdown" hx-disable>')
    assert "<strong>ciao</strong>" in html


def test_ordinary_markdown_is_kept():
    html = str(render_markdown("# Titolo\n\n- uno\n- due\n\n[sito](https://www.cittametropolitana.bo.it)"))
    assert "<h1>Titolo</h1>" in html
    assert "<li>uno</li>" in html
    assert 'href="https://www.cittametropolitana.bo.it"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_empty_text_renders_an_empty_block():
    assert str(render_markdown(None)) == '<div class="markdown" hx-disable></div>'
