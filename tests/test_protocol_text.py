"""A protocol's canonical text (what is hashed and signed) and the commitments parser: every rule of
docs/protocols.md, and every refusal with its line."""

import hashlib
import subprocess
import sys
import unicodedata
from datetime import date

import pytest

from server.domain.protocol_text import (
    COMMITMENT_TEMPLATE,
    CommitmentError,
    canonical,
    commitment_heading,
    parse_commitments,
    text_sha256,
)
from server.i18n import use_locale

PARTIES = {1: "CGIL Bologna", 2: "Confcommercio Ascom Bologna", 3: "Città metropolitana di Bologna"}


# --- the canonical text -----------------------------------------------------------------------


def test_line_endings_become_lf():
    assert canonical("a\r\nb\rc\n") == b"a\nb\nc\n"


def test_exactly_one_final_newline():
    assert canonical("testo") == b"testo\n"
    assert canonical("testo\n\n\n") == b"testo\n"
    assert canonical("testo\r\n\r\n") == b"testo\n"
    assert canonical("") == b"\n"


def test_nfc_and_utf8():
    decomposed = "Citta\u0300 metropolitana"  # a + combining grave
    data = canonical(decomposed)
    assert data == "Città metropolitana\n".encode()
    assert unicodedata.is_normalized("NFC", data.decode("utf-8"))


def test_inner_blank_lines_and_trailing_spaces_are_kept():
    assert canonical("a  \n\n\nb") == b"a  \n\n\nb\n"


def test_canonical_is_idempotent():
    once = canonical("x\r\ny\u0301\n\n")
    assert canonical(once.decode()) == once


def test_hash_is_sha256_hex_of_the_bytes():
    data = canonical("Protocollo appalti\r\n")
    assert text_sha256(data) == hashlib.sha256(b"Protocollo appalti\n").hexdigest()
    assert len(text_sha256(data)) == 64


def test_the_documented_recipe_recomputes_the_hash(tmp_path):
    """docs/protocols.md's few lines of Python, run apart from Tavoli, give the same hash."""
    text = "Intesa\r\nCitta\u0300\n\n"
    source = tmp_path / "testo.md"
    source.write_bytes(text.encode("utf-8"))
    recipe = (
        "import hashlib, sys, unicodedata\n"
        "t = open(sys.argv[1], encoding='utf-8', newline='').read()\n"
        "t = unicodedata.normalize('NFC', t.replace('\\r\\n', '\\n').replace('\\r', '\\n'))\n"
        "print(hashlib.sha256((t.rstrip('\\n') + '\\n').encode('utf-8')).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", recipe, str(source)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == text_sha256(canonical(text))


# --- commitments ------------------------------------------------------------------------------


def parse(text):
    return parse_commitments(text, PARTIES)


def test_a_commitment_with_party_and_date():
    found, errors = parse(
        "# Protocollo\n\nPremesse.\n\n### Impegno — CGIL Bologna — entro 2027-06-30\n\n"
        "Formare 40 delegati alla sicurezza nei cantieri.\n\nSecondo paragrafo.\n\n## Allegati\n"
    )
    assert errors == []
    (one,) = found
    assert (one.number, one.line, one.party_id, one.party) == (1, 5, 1, "CGIL Bologna")
    assert one.due_on == date(2027, 6, 30)
    assert one.title == "Formare 40 delegati alla sicurezza nei cantieri."
    assert one.clause == "\nFormare 40 delegati alla sicurezza nei cantieri.\n\nSecondo paragrafo.\n".strip("\n")


def test_dashes_case_and_spaces_are_accepted():
    text = (
        "### Impegno - cgil bologna - entro 2027-01-15\nA.\n"
        "### impegno – CONFCOMMERCIO  ASCOM bologna – entro 2027-02-01\nB.\n"
        "###   Impegno—Città metropolitana di Bologna—entro 2027-03-01 ###\nC.\n"
    )
    found, errors = parse(text)
    assert errors == []
    assert [(c.party_id, c.due_on, c.title) for c in found] == [
        (1, date(2027, 1, 15), "A."),
        (2, date(2027, 2, 1), "B."),
        (3, date(2027, 3, 1), "C."),
    ]
    assert [c.party for c in found] == ["CGIL Bologna", "Confcommercio Ascom Bologna", "Città metropolitana di Bologna"]


def test_the_due_date_is_optional():
    found, errors = parse("### Impegno — CGIL Bologna\n\nVigilare.\n")
    assert errors == []
    assert found[0].due_on is None


def test_a_party_name_with_a_hyphen():
    found, errors = parse_commitments(
        "### Impegno — Aeroporto G. Marconi-Bologna — entro 2027-01-01\nX.\n", {7: "Aeroporto G. Marconi-Bologna"}
    )
    assert errors == []
    assert found[0].party_id == 7


def test_the_clause_ends_at_the_next_heading_of_level_one_to_three_only():
    text = "### Impegno — CGIL Bologna\nPrimo.\n#### Dettaglio\nAncora.\n### Impegno — CNA\nx\n"
    found, errors = parse_commitments(text, {1: "CGIL Bologna", 2: "CNA"})
    assert errors == []
    assert found[0].clause == "Primo.\n#### Dettaglio\nAncora."
    assert [c.number for c in found] == [1, 2]


def test_headings_in_fenced_code_are_not_commitments():
    text = "```\n### Impegno — Nessuno\n```\n~~~~\n### Impegno\n~~~~\n"
    assert parse(text) == ([], [])


def test_other_headings_and_levels_are_not_commitments():
    text = "## Impegno — Nessuno\n#### Impegno — Nessuno\n### Impegni delle parti\n### Premesse\n"
    assert parse(text) == ([], [])


def test_errors_each_with_its_line():
    text = (
        "# Titolo\n"
        "### Impegno\n"  # 2: no party
        "x\n"
        "### Impegno — Sconosciuti spa — entro 2027-01-01\n"  # 4: unknown party
        "y\n"
        "### Impegno — CGIL Bologna — entro 2027-02-30\n"  # 6: not a day
        "z\n"
        "### Impegno — CGIL Bologna — entro 30/06/2027\n"  # 8: not ISO
        "w\n"
        "### Impegno — CGIL Bologna — entro 2027-01-01\n"  # 10: no clause
        "### Impegno — CGIL Bologna — entro\n"  # 11: empty date
        "ok\n"
    )
    found, errors = parse(text)
    assert found == []
    assert [error.line for error in errors] == [2, 4, 6, 8, 10, 11]
    assert all(isinstance(error, CommitmentError) and error.message for error in errors)
    assert "Sconosciuti spa" in errors[1].message
    assert "2027-02-30" in errors[2].message
    assert "30/06/2027" in errors[3].message


def test_an_unknown_party_and_a_bad_date_are_two_errors_on_one_line():
    _found, errors = parse("### Impegno — Nessuno — entro domani\nx\n")
    assert [error.line for error in errors] == [1, 1]


def test_errors_are_in_italian_for_italian_readers():
    with use_locale("it"):
        _found, errors = parse("### Impegno — Nessuno\nx\n")
    assert "non è una parte" in errors[0].message


def test_the_template_is_an_error_until_filled():
    found, errors = parse(COMMITMENT_TEMPLATE)
    assert found == []
    assert len(errors) == 2  # the placeholder party and date
    filled = COMMITMENT_TEMPLATE.replace("Nome della parte", "CGIL Bologna").replace("AAAA-MM-GG", "2027-05-01")
    found, errors = parse(filled)
    assert errors == []
    assert found[0].due_on == date(2027, 5, 1)


def test_commitment_heading_builds_the_syntax():
    assert commitment_heading("CGIL Bologna", date(2027, 1, 2)) == "### Impegno — CGIL Bologna — entro 2027-01-02"
    assert commitment_heading("CGIL Bologna") == "### Impegno — CGIL Bologna"
    found, errors = parse(commitment_heading("CGIL Bologna", date(2027, 1, 2)) + "\nx\n")
    assert errors == []
    assert found[0].party_id == 1


def test_crlf_text_parses_like_lf():
    found, errors = parse("### Impegno — CGIL Bologna — entro 2027-01-01\r\n\r\nFare.\r\n")
    assert errors == []
    assert found[0].clause == "Fare."


@pytest.mark.parametrize("title_line", ["- Punto elenco", "> Citazione", "**Grassetto**"])
def test_the_title_is_the_first_line_without_markers(title_line):
    found, _errors = parse(f"### Impegno — CGIL Bologna\n\n{title_line}\n")
    assert found[0].title.lstrip("*") in ("Punto elenco", "Citazione", "Grassetto**")


def test_a_long_first_line_is_cut_for_the_title():
    found, _errors = parse("### Impegno — CGIL Bologna\n" + "parola " * 100 + "\n")
    assert len(found[0].title) <= 200
    assert found[0].title.endswith("…")
