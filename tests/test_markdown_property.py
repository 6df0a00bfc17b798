"""Whatever people write, the stored HTML is inert: a property of the whole pipeline, on any input.

Hypothesis writes texts out of Markdown's and HTML's dangerous pieces (and anything else); the
output, read as a browser would (selectolax), has no script, no event handler, no `javascript:` URL,
no htmx attribute; and what a page shows sits inside `hx-disable`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from server.markdown import PLAIN_MARKER, plain_html, render_markdown, to_html

PIECES = [
    "<script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>",
    "<div hx-get='/logout' hx-trigger='load'>",
    "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "javascript:",
    "JaVaScRiPt:",
    "java\tscript:",
    "&#106;avascript:",
    "&#x6A;avascript:",
    "data:text/html,",
    "vbscript:",
    "onerror=",
    "onclick=",
    " hx-post=",
    " data-hx-get=",
    "[x](",
    "![y](",
    "](",
    ")",
    "<",
    ">",
    '"',
    "'",
    "`",
    "```",
    "\n",
    "\n\n",
    "    ",
    "* ",
    "> ",
    "# ",
    "[ref]: ",
    "<http://",
    "<javascript:alert(1)>",
    "<!--",
    "-->",
    "&",
    "&quot;",
    "\\",
    "\x00",
    "| a | b |\n|---|---|\n",
]

texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=30).map("".join)

DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")


def check_inert(html: str) -> None:
    assert "<script" not in html.lower()
    tree = LexborHTMLParser(html)
    for node in tree.css("*"):
        assert node.tag not in ("script", "iframe", "object", "embed", "style", "svg", "form"), node.tag
        for name, value in node.attributes.items():
            name = name.lower()
            assert not name.startswith("on"), (node.tag, name)
            assert not name.startswith(("hx-", "data-hx-")), (node.tag, name)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                squeezed = "".join((value or "").split()).lower()
                assert not squeezed.startswith(DANGEROUS_SCHEMES), (node.tag, name, value)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_any_text_renders_inert(text):
    html = to_html(text)
    check_inert(html)
    assert not html.startswith(PLAIN_MARKER), "no rendering can pass for a text cut off"
    check_inert(plain_html(text))
    shown = str(render_markdown(text))
    assert shown.startswith('<div class="markdown" hx-disable>')
    assert shown.endswith("</div>")


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\U0001f600"]))))
def test_any_unicode_renders_inert(text):
    check_inert(to_html(text))
    check_inert(plain_html(text))
