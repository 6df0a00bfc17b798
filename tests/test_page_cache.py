"""The page cache: renderings kept by table state, view, locale and day; each page's CSRF token its own.

Rendered through the app's own Jinja environment, with its own `csrf()` macro, from a small
fragment template of the test's.
"""

from __future__ import annotations

from datetime import date

import jinja2
import pytest

from server.db.models import Role, Table
from server.views.audience import Audience
from server.views.cache import PageCache
from server.views.regions import Region
from server.views.templating import make_environment
from tests.support import css, field_value, one

FRAGMENT = """{% from "_macros.html" import csrf with context %}
<section id="notes"><h2>{{ title }}</h2><form method="post">{{ csrf() }}<button>Salva</button></form></section>
"""
TOKEN_A = "token-of-anna-" + "a" * 30
TOKEN_B = "token-of-bruno-" + "b" * 30
DAY = date(2031, 12, 9)
MEMBER, CHAIR = Audience(Role.member), Audience(Role.chair)


async def _nothing(*_args: object) -> dict[str, object]:
    return {}


NOTES = Region("notes", "test/notes.html", _nothing)
OTHER = Region("other-notes", "test/notes.html", _nothing)


def environment() -> jinja2.Environment:
    env = make_environment()
    env.loader = jinja2.ChoiceLoader([jinja2.DictLoader({"test/notes.html": FRAGMENT}), env.loader])
    return env


def table(table_id: int = 1, seq: int = 7) -> Table:
    return Table(id=table_id, slug="commercio-turismo", name="Commercio", event_seq=seq)


def fetch(cache: PageCache, key, token: str = TOKEN_A, title: str = "Note") -> str:
    return str(cache.rendered(key, NOTES.template, {"title": title}, token))


@pytest.fixture
def cache() -> PageCache:
    return PageCache(environment())


def test_a_fragment_is_rendered_once_then_served_from_the_cache(cache):
    key = cache.key(NOTES, table(), MEMBER, "it", DAY)
    assert cache.missing({NOTES: key}) == (NOTES,)
    first = fetch(cache, key, title="Note della seduta")
    assert (cache.renders, cache.missing({NOTES: key})) == (1, ())
    again = fetch(cache, key, title="A title the cache does not read")
    assert cache.renders == 1
    assert again == first
    assert one(again, "#notes h2").text() == "Note della seduta"


@pytest.mark.parametrize(
    "changed",
    [
        {"fragment": OTHER},
        {"table": table(table_id=2)},
        {"table": table(seq=8)},  # a change of the table takes its next sequence number
        {"view": CHAIR},
        {"locale": "en"},
        {"day": date(2031, 12, 10)},  # what is overdue changes with the day
    ],
    ids=["fragment", "table", "sequence-number", "view", "locale", "day"],
)
def test_every_part_of_the_key_tells_renderings_apart(cache, changed):
    parts = {"fragment": NOTES, "table": table(), "view": MEMBER, "locale": "it", "day": DAY}
    fetch(cache, cache.key(*parts.values()))
    other = cache.key(*{**parts, **changed}.values())
    assert cache.missing({NOTES: other}) == (NOTES,)
    fetch(cache, other)
    assert cache.renders == 2


def test_the_least_recently_used_rendering_goes_when_the_cache_is_full():
    cache = PageCache(environment(), size=2)
    first, second, third = (cache.key(NOTES, table(seq=seq), MEMBER, "it", DAY) for seq in (1, 2, 3))
    fetch(cache, first)
    fetch(cache, second)
    fetch(cache, first)  # used again: now the most recent
    fetch(cache, third)
    assert cache.renders == 3
    assert cache.missing({NOTES: first}) == ()
    assert cache.missing({NOTES: third}) == ()
    assert cache.missing({NOTES: second}) == (NOTES,)
    fetch(cache, second)
    assert cache.renders == 4, "the evicted rendering is rendered again"


def test_a_csrf_token_never_leaks_from_one_page_into_another(cache):
    key = cache.key(NOTES, table(), MEMBER, "it", DAY)
    for_anna = fetch(cache, key, token=TOKEN_A)
    for_bruno = fetch(cache, key, token=TOKEN_B)
    assert cache.renders == 1, "Bruno's page came from the rendering made for Anna's"
    assert field_value(for_anna, "csrf_token") == TOKEN_A
    assert field_value(for_bruno, "csrf_token") == TOKEN_B
    assert TOKEN_A not in for_bruno
    assert len(css(for_bruno, 'input[name="csrf_token"]')) == 1
    without_session = fetch(cache, key, token="")
    assert TOKEN_A not in without_session
    assert TOKEN_B not in without_session
