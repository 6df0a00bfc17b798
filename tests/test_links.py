"""Templates build their links from route names (`url_for`), never from hard-coded site paths.

A path written out in a template breaks silently when a route moves; a route name that does not
exist, or a missing or misspelled path parameter, fails here instead of on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import Environment, nodes
from starlette.routing import NoMatchFound

from server.app import create_app
from server.config import Settings

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# Attributes whose value is a URL the browser (or htmx) follows.
URL_ATTRIBUTE = re.compile(r"""\s(href|src|action|ws-connect|hx-(?:get|post|put|patch|delete))=(["'])(.*?)\2""", re.S)
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
MASK = "\x00"  # stands for a Jinja construct: it contains neither quotes nor slashes
# Written out in full, these leave the site and need no route.
EXTERNAL = ("https://", "http://", "mailto:", "tel:", "data:")
# A string literal in Jinja code that starts like a site path, e.g. "/tavoli/" ~ table.slug. The only
# exception is the file path given to the static mount: url_for('static', path='/dist/app.js').
PATH_LITERAL = re.compile(r"""(?<!path=)(["'])(/[^"']*)\1""")


def template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def hard_coded_paths(source: str) -> Iterator[str]:
    """What in `source` looks like a site path written by hand rather than built from a route."""
    for construct in JINJA.findall(source):
        if not construct.startswith("{#"):
            for _quote, literal in PATH_LITERAL.findall(construct):
                yield f"string {literal!r} in {construct}"
    masked = JINJA.sub(MASK, source)
    for match in URL_ATTRIBUTE.finditer(masked):
        name, value = match.group(1), match.group(3)
        if value.startswith(EXTERNAL):
            continue
        # What is left once the expressions are gone: only a #fragment or a ?query may be written out.
        if "/" in value.replace(MASK, ""):
            shown = value.replace(MASK, "{{…}}")
            yield f'{name}="{shown}"'


@pytest.mark.parametrize(
    "snippet",
    [
        '<a href="/tavoli/{{ table.slug }}">',
        '<a href="/">',
        "<form action='/login'>",
        '<script src="/static/dist/app.js"></script>',
        '<div ws-connect="/ws/tavoli/{{ table.slug }}">',
        '<button hx-post="/tavoli/x/azioni">',
        '<a href="{{ base }}/modifica">',
        '{% set base = "/tavoli/" ~ table.slug %}',
        '{{ breadcrumb([(_("Tables"), "/")]) }}',
        "{{ htmx_form(url_for('meeting', slug=s, meeting_id=1) ~ '/punti', '#agenda') }}",
    ],
)
def test_the_check_finds_a_hard_coded_path(snippet):
    assert list(hard_coded_paths(snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        "<a href=\"{{ url_for('table_home', slug=table.slug) }}#members\">",
        "<a href=\"{{ url_for('actions', slug=table.slug) }}?stato=open\">",
        "<a href=\"{{ url_for('static', path='/dist/svg/sprites.svg') }}#it-pa\">",
        '<a href="#main">',
        '<a href="?prima={{ older }}">',
        '<a href="https://www.cittametropolitana.bo.it/">',
        '<link rel="icon" href="data:,">',
        '<a href="{{ meeting.online_url }}">',
        '<span class="separator">/</span>',
        '<div hx-target="#agenda" hx-swap="outerHTML">',
        "{# a comment may name /tavoli/{slug} #}",
    ],
)
def test_the_check_lets_route_built_links_through(snippet):
    assert list(hard_coded_paths(snippet)) == []


def test_no_template_hard_codes_a_site_path():
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in template_files()
        for what in hard_coded_paths(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "build these links with url_for(route_name, **params):\n" + "\n".join(found)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("links")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'unused.db'}",  # never opened: no lifespan runs
        base_url="http://127.0.0.1:8000",
        secret_key="a-secret-key-for-the-tests-that-is-long-enough",
        minutes_dir=str(tmp / "minutes"),
    )
    return create_app(settings)


def url_for_calls(env: Environment, source: str) -> Iterator[tuple[int, str | None, list[str], bool]]:
    """Every `url_for(...)` call of a template: line, route name (None if not a constant), keyword
    names, and whether it passes anything but constant keywords (positional or * / ** arguments)."""
    for call in env.parse(source).find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "url_for":
            first = call.args[0] if call.args else None
            name = first.value if isinstance(first, nodes.Const) and isinstance(first.value, str) else None
            odd = len(call.args) != 1 or call.dyn_args is not None or call.dyn_kwargs is not None
            yield call.lineno, name, [keyword.key for keyword in call.kwargs], odd


def test_every_route_name_used_by_the_templates_exists_with_its_parameters(app):
    env = app.state.templates.env
    used, problems = set(), []
    for path in template_files():
        for line, name, keys, odd in url_for_calls(env, path.read_text(encoding="utf-8")):
            where = f"{path.relative_to(TEMPLATES)}:{line}"
            if name is None or odd:
                problems.append(f"{where}: url_for takes a route name as a string, then path parameters by name")
                continue
            used.add(name)
            try:
                # "1" suits every convertor in use (str, int, path): what is checked is the name and
                # that the parameters are exactly those of the route's path.
                app.router.url_path_for(name, **dict.fromkeys(keys, "1"))
            except NoMatchFound:
                problems.append(f"{where}: no route {name!r} with exactly the parameters {sorted(keys)}")
    assert problems == []
    assert len(used) >= 30  # the templates do link through url_for: the check is not vacuous


def test_route_names_are_unique(app):
    # url_path_for answers with the first route of a name: a second one would be silently shadowed.
    names = [route.name for route in app.routes]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_url_for_gives_site_relative_paths_as_they_were_written_by_hand(app):
    url_for = app.state.templates.env.globals["url_for"]
    assert url_for("home") == "/"
    assert url_for("static", path="/dist/app.js") == "/static/dist/app.js"
    assert url_for("table_socket", slug="commercio-turismo") == "/ws/tavoli/commercio-turismo"
    # Integer parameters are taken as int or str alike.
    assert url_for("action", slug="t", action_id=7) == "/tavoli/t/azioni/7"
    assert url_for("action", slug="t", action_id="7") == "/tavoli/t/azioni/7"
    assert url_for("agenda_item_status", slug="t", meeting_id=2, item_id=3) == "/tavoli/t/sedute/2/punti/3/stato"
