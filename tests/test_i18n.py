"""Italian first: every interface string has its Italian translation, with the same placeholders."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from server import i18n

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def source_messages() -> set[str]:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def italian():
    with (ROOT / "server/locale/it/LC_MESSAGES/messages.po").open("rb") as po:
        return {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(po) if m.id}


def test_every_string_in_the_code_and_templates_has_an_italian_translation(italian):
    messages = source_messages()
    assert len(messages) > 50
    missing = sorted(m for m in messages if m not in italian)
    assert not missing, f"not in the Italian catalog (run `make catalogs` and translate): {missing}"
    untranslated = sorted(
        m
        for m in messages
        if not all(italian[m].string if isinstance(italian[m].string, tuple) else [italian[m].string])
    )
    assert not untranslated, f"untranslated in Italian: {untranslated}"
    fuzzy = sorted(m for m in messages if italian[m].fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) Italian translations: {fuzzy}"


def test_translations_keep_the_placeholders(italian):
    for message in italian.values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == expected, (ids[0], string)


def test_italian_is_the_default_and_english_the_msgid():
    with i18n.use_locale("it"):
        assert i18n.gettext("Log in") == "Accedi"
    with i18n.use_locale("en"):
        assert i18n.gettext("Log in") == "Log in"


def test_dates_are_shown_in_europe_rome():
    from datetime import UTC, datetime

    winter = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)  # 15:00 in Rome (CET)
    summer = datetime(2026, 7, 9, 14, 0, tzinfo=UTC)  # 16:00 in Rome (CEST)
    with i18n.use_locale("it"):
        assert i18n.format_datetime(winter) == "mercoledì 9 dicembre 2026, ore 15:00"
        assert i18n.format_datetime(summer).endswith("ore 16:00")
    with i18n.use_locale("en"):
        assert i18n.format_datetime(winter) == "Wednesday, 9 December 2026, at 15:00"  # en_GB, not en_US
        assert i18n.format_day(winter) == "9 December 2026"
        assert i18n.format_datetime(winter, "short") == "09/12/2026, 15:00"


def test_language_switch_is_remembered_in_a_cookie(client):
    from tests.support import post_form

    assert '<html lang="it">' in client.get("/").text
    response = post_form(client, "/lingua", {"locale": "en", "next": "/accessibilita"})
    assert response.status_code == 303
    assert response.headers["location"] == "/accessibilita"
    page = client.get("/accessibilita").text
    assert '<html lang="en">' in page
    assert "Accessibility statement" in page
    post_form(client, "/lingua", {"locale": "it", "next": "/"})
    assert "Dichiarazione di accessibilità" in client.get("/").text


def test_language_switch_is_remembered_on_the_account(client, seed):
    from tests.support import login, post_form

    seed.user("anna@example.org")
    login(client, "anna@example.org")
    post_form(client, "/lingua", {"locale": "en", "next": "/"})
    client.cookies.clear()  # another browser: no language cookie, only the account
    login(client, "anna@example.org")
    assert '<html lang="en">' in client.get("/").text


def test_unknown_language_is_refused(client):
    from tests.support import post_form

    response = post_form(client, "/lingua", {"locale": "fr", "next": "/"})
    assert response.status_code == 400
    assert "lingua non è disponibile" in response.text


def test_language_switch_is_a_post_with_csrf(client):
    assert client.get("/lingua").status_code == 405
    assert client.post("/lingua", data={"locale": "en"}).status_code == 403
