"""Comparing two versions of a proposal: block by block, then word by word, as the reader sees the
text (no Markdown marks), with a bounded amount of work however long and different the versions are.

The tests measure work (the comparison's counter), never time."""

import random

import pytest

from server.db.models import ProposalVersion
from server.domain.plain_text import blocks as _blocks
from server.domain.proposal_versions import compare_versions
from server.domain.text_diff import PAIR_LIMIT, WORK_LIMIT, Work, compare_text
from tests.support import css, field_value, login, post_form, texts

TEXT_LIMIT = 200_000  # BODY_LIMIT: the longest text a version can have


def body_diff(old, new, work=None):
    return compare_text(old, new, work or Work(), markdown=True)


def sides(diff):
    """Each text as the comparison shows it: the blocks of the old one, and of the new one."""
    old = ["".join(t for op, t in block if op != "added") for block in diff.blocks]
    new = ["".join(t for op, t in block if op != "removed") for block in diff.blocks]
    return [b for b in old if b], [b for b in new if b]


def version(title="Titolo", summary="", body=""):
    return ProposalVersion(title=title, summary=summary, body=body)


# --- what the comparison shows ------------------------------------------------------------------------


def test_the_comparison_shows_the_text_people_read_without_markdown_marks():
    old = "# Saldi *invernali*\n\nIl **testo** con un [collegamento](https://example.org/a).\n\n- uno\n- due"
    new = "# Saldi *invernali*\n\nIl testo con un [collegamento](https://example.org/b) nuovo.\n\n- uno\n- tre"
    diff = body_diff(old, new)
    shown = "".join(t for block in diff.blocks for _, t in block)
    assert "**" not in shown
    assert "*" not in shown
    assert "https://" not in shown, "addresses are not part of the text"
    assert diff.blocks[0] == (("same", "Saldi invernali"),)
    assert diff.blocks[1] == (
        ("same", "Il testo con un "),
        ("removed", "collegamento."),
        ("added", "collegamento nuovo."),
    )
    assert diff.blocks[2] == (("same", "• uno"),)
    assert diff.blocks[3] == (("same", "• "), ("removed", "due"), ("added", "tre"))


def test_code_escapes_entities_and_other_blocks_read_as_shown():
    text = (
        "1. uno\n1. due\n\n> citata **forte**\n\n```\nx = *y*\n```\n\n"
        "Titolo\n======\n\n`a*b*` \\*non\\* &amp; snake_case __init__ ![foto *bella*](f.png)\n\n---"
    )
    assert _blocks(text, True) == (
        "1. uno",
        "2. due",
        "citata forte",
        "x = *y*",
        "Titolo",
        "a*b* *non* & snake_case init foto bella",
        "—",
    )


@pytest.mark.parametrize("unit", ["![", "[", "](", "[a](", "`", "` `` ", "> ", "- ", "# a\n", "*a_ ", "<a:", "\\*"])
def test_markdown_that_is_slow_to_render_is_read_in_one_pass(unit):
    """The renderer's worst cases (an unmatched `[` or `![` scans what follows it) are read here in
    one pass: the longest text made of them is split into its blocks like any other."""
    text = unit * (TEXT_LIMIT // len(unit))
    work = Work()
    diff = body_diff(text, text + " fine", work)
    assert work.comparisons <= WORK_LIMIT
    assert sides(diff)[1] == list(_blocks(text + " fine", True))


def test_bold_added_to_a_word_is_no_difference():
    assert body_diff("Il testo.", "Il **testo**.").same
    assert not body_diff("Il testo.", "Il testo!").same


def test_blocks_are_aligned_before_their_words():
    """A paragraph added before an edited one is shown added whole; the edited one word by word."""
    old = "Primo paragrafo che resta.\n\nI saldi iniziano il 5 gennaio in tutta la provincia."
    new = (
        "Primo paragrafo che resta.\n\nUn paragrafo del tutto nuovo, su altro.\n\n"
        "I saldi iniziano il primo sabato di gennaio in tutta la provincia."
    )
    diff = body_diff(old, new)
    assert diff.blocks[0] == (("same", "Primo paragrafo che resta."),)
    assert diff.blocks[1] == (("added", "Un paragrafo del tutto nuovo, su altro."),)
    assert ("removed", "5") in diff.blocks[2]
    assert ("added", "primo sabato di") in diff.blocks[2]
    assert sides(diff) == (list(_blocks(old, True)), list(_blocks(new, True)))


def test_removed_and_moved_blocks_keep_both_texts_whole():
    old = "Uno.\n\nDue.\n\nTre.\n\nQuattro."
    new = "Quattro.\n\nUno.\n\nTre."
    diff = body_diff(old, new)
    assert sides(diff) == (["Uno.", "Due.", "Tre.", "Quattro."], ["Quattro.", "Uno.", "Tre."])


def test_the_title_and_summary_are_plain_text_compared_by_paragraph():
    work = Work()
    diff = compare_text("Una data **comune**.\n\nSecondo.", "Una data **unica**.\n\nSecondo.", work)
    assert diff.blocks[0] == (("same", "Una data "), ("removed", "**comune**."), ("added", "**unica**."))
    assert diff.blocks[1] == (("same", "Secondo."),)


def test_identical_versions_are_no_difference():
    text = "Il testo.\n\n- uno\n- due"
    comparison = compare_versions(version(body=text), version(body=text))
    assert comparison.same
    assert not compare_versions(version(title="A"), version(title="B")).same


def test_random_edits_always_keep_both_texts():
    rng = random.Random(7)
    words = ["saldi", "gennaio", "il", "**data**", "comune", "tavolo", "-", "1."]
    for _ in range(300):

        def text(r=rng):
            return "\n\n".join(
                " ".join(r.choice(words) for _ in range(r.randint(1, 8))) for _ in range(r.randint(0, 5))
            )

        old, new = text(), text()
        for limit in (WORK_LIMIT, 40, 0):
            diff = body_diff(old, new, Work(limit))
            assert sides(diff) == (list(_blocks(old, True)), list(_blocks(new, True))), (old, new, limit)


# --- the work is bounded ---------------------------------------------------------------------------------


def random_words(rng, count):
    vocabulary = [f"parola{i}" for i in range(3_000)]
    return " ".join(rng.choice(vocabulary) for _ in range(count))


def cut(text):
    return text[:TEXT_LIMIT]


LARGE = {
    "different paragraphs": lambda rng: (
        cut("\n\n".join(random_words(rng, 25) for _ in range(1_200))),
        cut("\n\n".join(random_words(rng, 25) for _ in range(1_200))),
    ),
    "one long paragraph each": lambda rng: (cut(random_words(rng, 30_000)), cut(random_words(rng, 30_000))),
    "the same word over and over": lambda rng: (cut("a " * 100_000), cut("b a " * 50_000)),
    "many tiny blocks": lambda rng: (cut("a\n\n" * 66_667), cut("b\n\n" * 66_667)),
    "list items with marks": lambda rng: (
        cut("\n".join(f"- **{random_words(rng, 4)}**" for _ in range(4_000))),
        cut("\n".join(f"- **{random_words(rng, 4)}**" for _ in range(4_000))),
    ),
}


@pytest.mark.parametrize("case", LARGE)
def test_two_versions_of_the_longest_text_take_a_bounded_number_of_comparisons(case):
    old, new = LARGE[case](random.Random(case))
    assert len(old) > TEXT_LIMIT * 0.9
    comparison = compare_versions(version(body=old), version(body=new))
    assert comparison.comparisons <= WORK_LIMIT
    assert sides(comparison.body) == (list(_blocks(old, True)), list(_blocks(new, True)))


def test_past_the_limit_a_block_is_shown_replaced_keeping_its_common_ends():
    rng = random.Random(3)
    old = "Inizio comune. " + random_words(rng, 3_000) + " Fine comune."
    new = "Inizio comune. " + random_words(rng, 3_000) + " Fine comune."
    work = Work()
    diff = body_diff(old, new, work)
    assert work.comparisons <= PAIR_LIMIT + 10
    (block,) = diff.blocks
    assert [op for op, _ in block] == ["same", "removed", "added", "same"]
    assert block[0][1].startswith("Inizio comune.")
    assert block[-1][1].endswith("Fine comune.")


def test_a_small_edit_in_a_long_text_is_found_word_by_word_cheaply():
    rng = random.Random(5)
    paragraphs = [random_words(rng, 25) for _ in range(1_000)]
    edited = list(paragraphs)
    edited[500] = edited[500].replace(edited[500].split()[10], "CAMBIATA", 1)
    work = Work()
    diff = body_diff("\n\n".join(paragraphs), "\n\n".join(edited), work)
    assert work.comparisons < 5_000
    changed = [block for block in diff.blocks if any(op != "same" for op, _ in block)]
    assert len(changed) == 1
    assert ("added", "CAMBIATA") in changed[0]


def test_the_6000_character_versions_that_took_seconds_take_few_comparisons():
    rng = random.Random(11)
    old = " ".join(random_words(rng, 1) for _ in range(700))[:6_000]
    new = " ".join(w if i % 7 else "nuova" for i, w in enumerate(old.split()))
    work = Work()
    diff = body_diff(old, new, work)
    assert work.comparisons < PAIR_LIMIT, "found word by word, within the limit of one block"
    assert any(piece == ("added", "nuova") for piece in diff.blocks[0])


# --- through the page -------------------------------------------------------------------------------------


def proposal_with_two_versions(client, board, first, second):
    login(client, "member@example.org")
    base = f"/tavoli/{board.table.slug}/proposte"
    key = field_value(client.get(f"{base}/nuova").text, "client_key")
    draft = {"title": "Saldi invernali", "summary": "Una data comune.", "body": first}
    created = post_form(client, base, {**draft, "authors": [board.cgil.slug], "client_key": key})
    url = created.headers["location"]
    assert post_form(client, url, {**draft, "version": "1", "save_version": "on"}).status_code == 303
    assert (
        post_form(
            client, url, {**draft, "body": second, "version": "1", "base": first, "save_version": "on"}
        ).status_code
        == 303
    )
    return url


def test_the_page_shows_the_changes_as_text_escaped(client, board):
    url = proposal_with_two_versions(
        client, board, "Il **testo** <b>grassetto</b>.", "Il **testo** <script>alert(1)</script>."
    )
    page = client.get(url, params={"da": "1", "a": "2"}).text
    (section,) = css(page, "#diff")
    assert "<script>" not in section.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;." in section.html
    assert "**" not in section.text()
    assert texts(page, "#diff ins") == ["[aggiunto: <script>alert(1)</script>.]"]
    assert texts(page, "#diff del") == ["[tolto: <b>grassetto</b>.]"]
    assert texts(page, "#diff .proposal-diff p")[-1].startswith("Il testo")


def test_the_page_says_when_there_is_no_difference(client, board):
    url = proposal_with_two_versions(client, board, "Il testo.", "Il **testo**.")
    page = client.get(url, params={"da": "1", "a": "2"}).text
    assert texts(page, "#diff p") == ["Nessuna differenza"]
    same = client.get(url, params={"da": "2", "a": "2"}).text
    assert texts(same, "#diff p") == ["Nessuna differenza"]
