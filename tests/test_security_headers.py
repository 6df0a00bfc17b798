"""Security headers on every response, and templates that need no inline script or style."""

import re
from pathlib import Path

import pytest

from server.web.security import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "path", ["/", "/login", "/accessibilita", "/healthz", "/no-such-page", "/static/dist/tavoli.css"]
)
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


def test_refused_requests_carry_them_too(client):
    headers = client.post("/logout").headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_policy_allows_no_inline_script_or_style_and_no_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_pages_are_not_cached_but_static_files_may_be(client):
    assert client.get("/").headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/dist/tavoli.css").headers.get("cache-control", "")


# Printed by WeasyPrint into a PDF and never served as a page: their style is inline (no browser, no CSP).
PRINTED = {Path("templates/minutes/print.html"), Path("templates/protocols/print.html")}


@pytest.mark.parametrize("template", sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html")))
def test_templates_have_no_inline_script_style_or_handlers(template):
    text = re.sub(r"\{#.*?#\}", "", (ROOT / template).read_text(), flags=re.DOTALL)  # comments say why
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    if template not in PRINTED:
        assert "<style" not in text
        assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\son[a-z]+=", text), "event handler attribute"
    assert "hx-on" not in text
