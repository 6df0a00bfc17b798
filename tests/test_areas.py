"""The areas' declarations hold together: every event kind is said in words, reaches a page, and is declared."""

from __future__ import annotations

import ast
import contextlib
import string
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from server import i18n
from server.db.models import Event
from server.db.session import Database
from server.demo import load_demo
from server.views.areas import AREAS, CATALOG, Catalog
from server.views.regions import TABLE_HOME, Region

DOMAIN = Path(__file__).resolve().parents[1] / "server" / "domain"
SAMPLE = {"title": "Titolo", "meeting_title": "Seduta", "name": "Anna", "role": "member"}
STATUSES = ("done", "approved")  # a status of each kind of record, for sentences that name one


def _sentence(kind: str, locale: str) -> str:
    """The declared sentence of `kind`, filled with sample values, in `locale`."""
    with i18n.use_locale(locale):
        sentence = CATALOG.sentences()[kind]
        if callable(sentence):
            for status in STATUSES:
                with contextlib.suppress(ValueError):  # not a status of this kind of record
                    return sentence({**SAMPLE, "status": status})
            raise AssertionError(f"{kind}: no sample status fits its sentence")
        fields = {name: "x" for _text, name, _spec, _conv in string.Formatter().parse(sentence) if name}
        return sentence.format(**fields)


@pytest.mark.parametrize("kind", sorted(CATALOG.kinds))
def test_area_event_kind_has_a_sentence_in_italian_and_english(kind: str) -> None:
    assert kind in CATALOG.sentences(), f"{kind} has no sentence"
    italian, english = _sentence(kind, "it"), _sentence(kind, "en")
    assert italian
    assert english
    assert italian != english, f"{kind}: «{english}» is not translated into Italian"


def test_area_sentences_name_only_declared_kinds() -> None:
    assert set(CATALOG.sentences()) <= CATALOG.kinds


@pytest.mark.parametrize("kind", sorted(k for area in AREAS for enum in area.events for k in enum))
def test_area_table_event_kind_touches_a_declared_region(kind: str) -> None:
    touched = [region.id for region in CATALOG.affected(kind) if not region.every_event]
    assert touched, f"{kind} changes no live region"


def _recorded_kinds(function: str = "record") -> list[tuple[str, str]]:
    """Every `record(session, <kind>, …)` call of the domain: (file, the kind's expression)."""
    found = []
    for path in sorted(DOMAIN.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(getattr(node, "func", None), "attr", None) or getattr(getattr(node, "func", None), "id", "")
            if isinstance(node, ast.Call) and name == function and len(node.args) >= 2:
                found.append((path.name, ast.unparse(node.args[1])))
    return found


def test_area_kinds_announced_without_a_row_are_declared_and_stay_out_of_the_history() -> None:
    """`audit.announce` (a text re-rendered while people type) pushes, but the recent history, which
    follows every recorded event, does not re-render for it; recorded kinds still reach it."""
    from server.views.tables import RECENT

    calls = _recorded_kinds("announce")
    assert calls, "no audit.announce call found in server/domain"
    declared = {
        f"{enum.__name__}.{member.name}": member.value for area in AREAS for enum in area.events for member in enum
    }
    for module, expression in calls:
        assert declared.get(expression) in CATALOG.unrecorded, (
            f"{module} announces {expression}, not declared unrecorded"
        )
    for kind in CATALOG.unrecorded:
        assert kind in CATALOG.kinds
        assert RECENT not in CATALOG.affected(kind)
    assert all(RECENT in CATALOG.affected(kind) for kind in CATALOG.kinds - CATALOG.unrecorded)


def test_area_domain_records_only_kinds_of_declared_enumerations() -> None:
    """A kind is a member of a declared enumeration, or a name passed through (the transition helper)."""
    declared = {enum.__name__: enum for area in AREAS for enum in (*area.events, *area.site_events)}
    calls = _recorded_kinds()
    assert calls, "no audit.record call found in server/domain"
    for module, expression in calls:
        assert not expression.startswith(("'", '"', "f'", 'f"')), f"{module} records a free string: {expression}"
        owner, dot, member = expression.partition(".")
        if dot:
            assert owner in declared, f"{module} records {expression}, which no area declares"
            assert member in declared[owner].__members__, f"{module} records {expression}"


async def test_area_demo_records_only_declared_kinds(database: Database) -> None:
    await load_demo(database, "una-password-demo-lunga", seeders=CATALOG.demo_modules())
    async with database.read() as session:
        kinds = set((await session.scalars(select(Event.kind).distinct())).all())
    assert kinds, "the demo recorded no event"
    assert kinds <= CATALOG.kinds, f"undeclared: {sorted(kinds - CATALOG.kinds)}"


def test_area_region_ids_are_unique_and_every_screen_has_a_live_address() -> None:
    ids = [region.id for screen in CATALOG.screens.values() for region in screen.regions]
    assert len(ids) == len(set(ids)), "a region id is declared twice"
    for kind in CATALOG.screens.values():
        assert kind.regions, f"screen {kind.name} shows nothing"
    assert CATALOG.live_query(TABLE_HOME) == ""


def test_area_catalog_refuses_two_screens_with_one_name() -> None:
    declares = next(area for area in AREAS if area.screens)
    clone = replace(declares, name="clone", template_globals={}, routes=(), demo=None)
    with pytest.raises(ValueError, match="two screens"):
        Catalog((*AREAS, clone))


def test_area_catalog_refuses_a_template_global_declared_twice() -> None:
    declares = next(area for area in AREAS if area.template_globals)
    clone = replace(declares, name="clone", screens=(), routes=(), demo=None)
    with pytest.raises(ValueError, match="template globals declared twice"):
        Catalog((*AREAS, clone)).template_globals()


def test_area_unknown_event_kind_touches_only_the_regions_that_follow_every_event() -> None:
    touched: tuple[Region, ...] = CATALOG.affected("nothing.at_all")
    assert touched
    assert all(region.every_event for region in touched)
