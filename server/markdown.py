"""The one Markdown renderer: markdown-it's `js-default` preset (no raw HTML), then nh3.

Whatever people write, the output is inert: raw HTML is escaped by the parser, the sanitiser keeps
only harmless tags and attributes (no `hx-*`, no event handlers, no `javascript:` links), and the
result sits inside `hx-disable` so that htmx ignores anything in it (user content must not be able to act).
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

URL_SCHEMES = {"http", "https", "mailto"}


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("js-default")


def render_markdown(text: str | None) -> Markup:
    """Render `text` to safe HTML wrapped in `<div class="markdown" hx-disable>`."""
    html = _parser().render(text or "")
    clean = nh3.clean(html, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")
    # nh3 has just sanitised `clean`: marking it safe is the point of this function.
    return Markup('<div class="markdown" hx-disable>{}</div>').format(Markup(clean))  # noqa: S704
