"""Collaborative documents in the domain: seeded once, loaded from the log, the difference applied,
the log compacted without losing what another writer appended, frozen, bounded."""

import pycrdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.db.models import DocumentKind, DocumentUpdate
from server.domain import document_diff, documents
from server.domain.errors import Stale


@pytest.fixture
def seed(db_seed):
    return db_seed


@pytest.fixture
def table(seed):
    return seed.table("commercio-turismo")


def make(seed, table, text="# Titolo\n\nPrimo paragrafo.\n", record_id=1):
    return seed.run(
        lambda s: documents.create(
            s, table_id=table.id, kind=DocumentKind.proposal_body, record_id=record_id, text=text, user_id=None
        )
    )


def rows(seed, document_id):
    return seed.run(lambda s: documents.stored(s, document_id))


def text(seed, document_id):
    return seed.run(lambda s: documents.text_of(s, document_id))


def client_edit(seed, document_id, change):
    """What a browser would send: an update made on a replica loaded from the store."""
    doc = seed.run(lambda s: documents.load(s, document_id))
    before = doc.get_state()
    change(doc.get(documents.TEXT, type=pycrdt.Text))
    return doc.get_update(before)


def test_a_document_is_seeded_once_by_one_stored_update(seed, table):
    document = make(seed, table)
    assert len(rows(seed, document.id)) == 1
    assert text(seed, document.id) == "# Titolo\n\nPrimo paragrafo.\n"
    assert seed.run(lambda s: documents.find(s, DocumentKind.proposal_body, 1)).id == document.id
    assert seed.run(lambda s: documents.get(s, document.id)).record_id == 1
    assert seed.run(lambda s: documents.find(s, DocumentKind.proposal_body, 2)) is None
    # Loading twice (two tabs reconnecting) never duplicates the text: it comes from the log.
    first = seed.run(lambda s: documents.load(s, document.id))
    second = seed.run(lambda s: documents.load(s, document.id))
    first.apply_update(second.get_update())
    assert documents.text_in(first) == "# Titolo\n\nPrimo paragrafo.\n"


def test_an_empty_text_is_still_one_stored_update(seed, table):
    document = make(seed, table, text="")
    assert len(rows(seed, document.id)) == 1
    assert text(seed, document.id) == ""


def test_appended_updates_make_the_text(seed, table):
    document = make(seed, table, text="ciao")
    update = client_edit(seed, document.id, lambda t: t.insert(4, " mondo"))
    row_id = seed.run(lambda s: documents.append(s, document.id, update, None))
    assert row_id > rows(seed, document.id)[0].id
    assert text(seed, document.id) == "ciao mondo"
    assert seed.run(lambda s: documents.stored_update(s, document.id, row_id)) == update


def test_a_malformed_update_stores_nothing(seed, table):
    document = make(seed, table)
    with pytest.raises(ValueError, match="decode"):
        seed.run(lambda s: documents.append(s, document.id, b"\x01\x05\x00\x00", None))
    assert len(rows(seed, document.id)) == 1


def test_the_size_limit_refuses_and_stores_nothing(seed, table):
    document = make(seed, table, text="x" * 100)
    size = seed.run(lambda s: documents.stored_size(s, document.id))
    assert size > 100
    update = client_edit(seed, document.id, lambda t: t.insert(0, "y" * 200))
    with pytest.raises(documents.DocumentTooLarge):
        seed.run(lambda s: documents.append(s, document.id, update, None, limit=size + 100))
    assert len(rows(seed, document.id)) == 1
    seed.run(lambda s: documents.append(s, document.id, update, None, limit=size + len(update)))
    assert text(seed, document.id).startswith("y" * 200)


def test_the_text_save_applies_the_difference_and_keeps_concurrent_edits(seed, table):
    base = "Uno due tre.\nQuattro cinque.\nSei.\n"
    document = make(seed, table, text=base)
    # Someone types at the end through the editor while another person edits the form.
    concurrent = client_edit(seed, document.id, lambda t: t.insert(len(base.encode()), "Sette.\n"))
    # The form's save is computed from the text it was based on, before the concurrent edit landed.
    doc = seed.run(lambda s: documents.load(s, document.id))
    state = doc.get_state()
    update = seed.run(
        lambda s: documents.apply_text(
            s, document.id, base=base, new="Uno DUE tre.\r\nQuattro cinque.\r\nSei è.\r\n", user_id=None
        )
    )
    assert update is not None
    seed.run(lambda s: documents.append(s, document.id, concurrent, None))
    assert text(seed, document.id) == "Uno DUE tre.\nQuattro cinque.\nSei è.\nSette.\n"
    # The save deleted "due" and "" only: the replica that had the old text merges with it.
    doc.apply_update(update)
    assert documents.text_in(doc) == "Uno DUE tre.\nQuattro cinque.\nSei è.\n"
    assert doc.get_update(state) != b""


def test_a_stale_text_save_is_refused_with_the_current_text(seed, table):
    document = make(seed, table, text="prima")
    with pytest.raises(Stale) as refused:
        seed.run(lambda s: documents.apply_text(s, document.id, base="altro", new="nuovo", user_id=None))
    assert refused.value.current == "prima"
    assert len(rows(seed, document.id)) == 1
    assert seed.run(lambda s: documents.apply_text(s, document.id, base="prima", new="prima", user_id=None)) is None
    assert len(rows(seed, document.id)) == 1


@settings(max_examples=60, deadline=None)
@given(
    base=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    new=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
)
def test_the_difference_turns_any_text_into_any_other(base, new):
    base, new = document_diff.clean(base), document_diff.clean(new)
    doc = documents.new_doc()
    shared = doc.get(documents.TEXT, type=pycrdt.Text)
    shared.insert(0, base)
    offsets = document_diff.Utf8Offsets(base)
    with doc.transaction():
        for tag, i1, i2, j1, j2 in reversed(document_diff.edits(base, new)):
            start = offsets.at(i1)
            if tag in ("replace", "delete"):
                del shared[start : offsets.at(i2)]
            if tag in ("replace", "insert"):
                shared.insert(start, new[j1:j2])
    assert str(shared) == new


def test_compaction_merges_the_log_into_one_snapshot(seed, table):
    document = make(seed, table, text="a")
    for letter in "bcd":
        update = client_edit(seed, document.id, lambda t, x=letter: t.insert(len(t), x))
        seed.run(lambda s, u=update: documents.append(s, document.id, u, None))
    assert len(rows(seed, document.id)) == 4
    # An update made on a replica before the compaction still applies after it.
    late = client_edit(seed, document.id, lambda t: t.insert(len(t), "e"))
    seed.run(lambda s: documents.compact(s, document.id))
    assert len(rows(seed, document.id)) == 1
    assert text(seed, document.id) == "abcd"
    seed.run(lambda s: documents.append(s, document.id, late, None))
    assert text(seed, document.id) == "abcde"
    seed.run(lambda s: documents.compact(s, document.id))
    assert len(rows(seed, document.id)) == 1
    assert text(seed, document.id) == "abcde"


def test_compaction_deletes_only_the_ids_it_merged(seed, table):
    document = make(seed, table, text="a")
    update = client_edit(seed, document.id, lambda t: t.insert(1, "b"))
    seed.run(lambda s: documents.append(s, document.id, update, None))
    before = [row.id for row in rows(seed, document.id)]

    async def compact_then_someone_appends(session):
        await documents.compact(session, document.id)
        # A row added in the same breath (as another instance would) survives, and counts.
        session.add(DocumentUpdate(document_id=document.id, data=late, user_id=None))

    late = client_edit(seed, document.id, lambda t: t.insert(2, "c"))
    seed.run(compact_then_someone_appends)
    remaining = [row.id for row in rows(seed, document.id)]
    assert not set(before) & set(remaining)
    assert len(remaining) == 2
    assert text(seed, document.id) == "abc"


def test_a_frozen_document_takes_no_more_updates(seed, table):
    document = make(seed, table, text="testo")
    update = client_edit(seed, document.id, lambda t: t.insert(5, "!"))
    seed.run(lambda s: documents.append(s, document.id, update, None))
    frozen = seed.run(lambda s: documents.freeze(s, document.id))
    assert frozen == "testo!"
    assert seed.run(lambda s: documents.get(s, document.id)).frozen_at is not None
    late = client_edit(seed, document.id, lambda t: t.insert(0, "no"))
    with pytest.raises(documents.DocumentFrozen):
        seed.run(lambda s: documents.append(s, document.id, late, None))
    with pytest.raises(documents.DocumentFrozen):
        seed.run(lambda s: documents.apply_text(s, document.id, base="testo!", new="altro", user_id=None))
    assert text(seed, document.id) == "testo!"
    assert seed.run(lambda s: documents.freeze(s, document.id)) == "testo!"


def test_compaction_keeps_the_rows_whose_dependencies_have_not_arrived(seed, table):
    """A client's first update was lost on the way: its later insert and its deletion of the lost
    text wait in the log (pending). Compacting keeps them, so that they apply when the lost
    update comes back (a reconnecting client sends it again)."""
    document = make(seed, table, text="")
    writer = pycrdt.Doc(client_id=7)
    shared = writer.get(documents.TEXT, type=pycrdt.Text)
    updates = []
    for change in (
        lambda: shared.insert(0, "hello"),
        lambda: shared.insert(5, " world"),
        lambda: shared.__delitem__(slice(0, 2)),
    ):
        before = writer.get_state()
        change()
        updates.append(writer.get_update(before))
    lost, pending_insert, pending_delete = updates
    other = client_edit(seed, document.id, lambda t: t.insert(0, "X"))
    for update in (other, pending_insert, pending_delete):
        seed.run(lambda s, u=update: documents.append(s, document.id, u, None))
    assert text(seed, document.id) == "X"
    seed.run(lambda s: documents.compact(s, document.id))
    remaining = rows(seed, document.id)
    assert len(remaining) == 3  # the snapshot of what loads, and the two rows still waiting
    assert {row.data for row in remaining} >= {pending_insert, pending_delete}
    seed.run(lambda s: documents.append(s, document.id, lost, None))
    reference = seed.run(lambda s: documents.load(s, document.id))
    reference.apply_update(writer.get_update())
    assert sorted(text(seed, document.id)) == sorted("Xllo world")
    assert text(seed, document.id) == documents.text_in(reference)
    seed.run(lambda s: documents.compact(s, document.id))
    assert len(rows(seed, document.id)) == 1
    assert text(seed, document.id) == documents.text_in(reference)


def test_compaction_of_a_document_written_by_many_people_leaves_one_row(seed, table):
    """A snapshot's state vector may list its clients in another order than the log's: compared
    decoded, a document written by a hundred replicas compacts (compared as bytes, it never did)."""
    document = make(seed, table)
    start = seed.run(lambda s: documents.load(s, document.id))
    updates = []
    for writer in range(100):
        replica = documents.new_doc()
        replica.apply_update(start.get_update())
        before = replica.get_state()
        shared = replica.get(documents.TEXT, type=pycrdt.Text)
        shared.insert(writer % (len(str(shared)) + 1), f"<{writer}>")
        updates.append(replica.get_update(before))

    async def append_all(session):
        for update in updates:
            await documents.append(session, document.id, update, None)

    seed.run(append_all)
    expected = text(seed, document.id)
    seed.run(lambda s: documents.compact(s, document.id))
    assert len(rows(seed, document.id)) == 1
    assert text(seed, document.id) == expected
    assert all(f"<{writer}>" in expected for writer in range(100))
