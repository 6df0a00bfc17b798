"""Protocols in the domain: creation and drafts by role, parties (the table's organisations and
external ones), annexes, opening for signature (the frozen canonical version, the commitments, every
refusal), back to draft, in force when every party signed (commitments become action items),
adhesion, supersession, expiry, who reaches what, and the text's document binding."""

import asyncio
import hashlib
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.db.models import (
    ActionItem,
    ActionStatus,
    Commitment,
    Document,
    Organisation,
    Protocol,
    ProtocolKind,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Role,
    Signature,
)
from server.domain import documents, protocol_access, protocol_force, protocol_keys, signatures
from server.domain import protocols as p
from server.domain.actions import Actor
from server.domain.documents import DocumentAccess
from server.domain.errors import Forbidden, Invalid, NotFound, Stale
from server.domain.protocol_annexes import add_annex, annexes_of, remove_annex
from server.domain.protocol_commitments import assign_owner, commitments_of, open_commitments_of_table
from server.domain.protocol_parties import (
    add_party,
    parse_party,
    parse_signers,
    remove_party,
    update_party,
)
from server.domain.protocol_text import canonical
from tests.support import PASSWORD

PDF = b"%PDF-1.7\n% un allegato\n%%EOF\n"
TEXT = (
    "# Protocollo appalti\n\nPremesse.\n\n"
    "### Impegno — CGIL Bologna — entro 2027-06-30\n\nFormare i delegati alla sicurezza.\n\n"
    "### Impegno — Confcommercio Ascom Bologna\n\nInformare gli associati.\n"
)


@pytest.fixture
def seed(db_seed):
    return db_seed


@pytest.fixture
def people(board):
    return {
        "chair": Actor(board.chair.id, Role.chair),
        "secretary": Actor(board.secretary.id, Role.secretary),
        "member": Actor(board.member.id, Role.member),
        "observer": Actor(board.observer.id, Role.observer),
        "outsider": Actor(board.outsider.id, None),
    }


@pytest.fixture
def key(tmp_path):
    return protocol_keys.ensure_key_file(tmp_path / "signing.key")[0]


def values(title="Protocollo appalti", **extra):
    fields = {"kind": "procurement", "title": title, **extra}
    return p.parse_protocol(**fields)


def create(seed, board, actor, title="Protocollo appalti", **extra):
    return seed.run(lambda s: p.create_protocol(s, board.table, values(title, **extra), actor=actor))


def fresh(seed, protocol_id):
    return seed.run(lambda s: s.get(Protocol, protocol_id, populate_existing=True))


def document_of(seed, protocol):
    return seed.run(lambda s: p.protocol_document(s, protocol))


def write(seed, protocol, text, user_id=None):
    document = document_of(seed, protocol)

    async def change(session):
        base = await documents.text_of(session, document.id)
        await documents.apply_text(session, document.id, base=base, new=text, user_id=user_id)

    seed.run(change)


def party(seed, board, protocol, actor, *, organisation=None, external="", signatory="", substitute="", position=""):
    wanted = parse_party(
        organisation=str(organisation.id) if organisation else "",
        external_name=external,
        signatory=signatory,
        substitute=substitute,
        position=position,
    )
    return seed.run(lambda s: add_party(s, board.table, protocol.id, wanted, actor=actor))


def open_(seed, board, protocol_id, actor):
    version = fresh(seed, protocol_id).version
    return seed.run(lambda s: p.open_for_signature(s, board.table, protocol_id, version=version, actor=actor))


def reopen(seed, board, protocol_id, actor):
    version = fresh(seed, protocol_id).version
    return seed.run(lambda s: p.back_to_draft(s, board.table, protocol_id, version=version, actor=actor))


def sign(seed, board, protocol_id, party_id, user, key):
    return seed.run(
        lambda s: signatures.sign(
            s, board.table, protocol_id, party_id=party_id, actor_user_id=user.id, password=PASSWORD, key=key
        )
    )


def kinds(board):
    return [e.kind for e in board.events() if e.kind.startswith("protocol.")]


def count(seed, model, *where):
    async def read(session):
        return len((await session.scalars(select(model).where(*where))).all())

    return seed.run(read)


@pytest.fixture
def ready(seed, board, people):
    """A draft with the text above and two parties of the table: CGIL (the member signs) and
    Confcommercio (the chair signs, the secretary substitutes)."""
    protocol = create(seed, board, people["chair"])
    write(seed, protocol, TEXT, board.chair.id)
    cgil = party(seed, board, protocol, people["chair"], organisation=board.cgil, signatory="member@example.org")
    ascom = party(
        seed,
        board,
        protocol,
        people["secretary"],
        organisation=board.ascom,
        signatory="chair@example.org",
        substitute="secretary@example.org",
    )
    return protocol, cgil, ascom


# --- creating and changing a draft ------------------------------------------------------------


def test_chair_and_secretary_create_a_draft_with_its_document(seed, board, people):
    made = create(seed, board, people["secretary"], valid_from="2026-01-01", valid_until="2027-12-31")
    assert made.status is ProtocolStatus.draft
    assert made.kind is ProtocolKind.procurement
    assert (made.valid_from, made.valid_until) == (date(2026, 1, 1), date(2027, 12, 31))
    document = document_of(seed, made)
    assert seed.run(lambda s: documents.text_of(s, document.id)) == "# Protocollo appalti\n\n"
    assert kinds(board) == ["protocol.created"]
    assert board.events("protocol.created")[0].payload["protocol_id"] == made.id


@pytest.mark.parametrize("who", ["member", "observer", "outsider"])
def test_others_cannot_create(seed, board, people, who):
    with pytest.raises(Forbidden):
        create(seed, board, people[who])
    assert count(seed, Protocol) == 0


def test_the_same_form_twice_creates_once(seed, board, people):
    once = seed.run(lambda s: p.create_protocol(s, board.table, values(), actor=people["chair"], client_key="k1"))
    again = seed.run(lambda s: p.create_protocol(s, board.table, values(), actor=people["chair"], client_key="k1"))
    assert once.id == again.id
    assert count(seed, Protocol) == 1


def test_bad_details_are_refused_field_by_field():
    with pytest.raises(Invalid) as refused:
        p.parse_protocol(kind="treaty", title=" ", valid_from="ieri", valid_until="2026-13-01", supersedes="x")
    assert set(refused.value.errors) == {"kind", "title", "valid_from", "valid_until", "supersedes"}
    with pytest.raises(Invalid) as backwards:
        p.parse_protocol(kind="site", title="T", valid_from="2027-01-01", valid_until="2026-01-01")
    assert set(backwards.value.errors) == {"valid_until"}


def test_update_a_draft_and_refusals(seed, board, people):
    made = create(seed, board, people["chair"])
    changed = seed.run(
        lambda s: p.update_protocol(
            s,
            board.table,
            made.id,
            values("Protocollo appalti 2027", kind="site"),
            version=made.version,
            actor=people["secretary"],
        )
    )
    assert (changed.title, changed.kind) == ("Protocollo appalti 2027", ProtocolKind.site)
    with pytest.raises(Stale):
        seed.run(
            lambda s: p.update_protocol(
                s, board.table, made.id, values("Altro"), version=made.version, actor=people["chair"]
            )
        )
    with pytest.raises(Forbidden):
        seed.run(
            lambda s: p.update_protocol(
                s, board.table, made.id, values("Altro"), version=changed.version, actor=people["member"]
            )
        )
    assert fresh(seed, made.id).title == "Protocollo appalti 2027"
    assert kinds(board) == ["protocol.created", "protocol.changed"]


def test_another_tables_protocol_is_not_found(seed, board, people):
    made = create(seed, board, people["chair"])
    with pytest.raises(NotFound):
        seed.run(lambda s: p.get_protocol(s, board.other.id, made.id))


def test_supersedes_only_a_protocol_in_force_of_the_table(seed, board, people):
    draft = create(seed, board, people["chair"])
    with pytest.raises(Invalid) as refused:
        create(seed, board, people["chair"], "Addendum", supersedes=str(draft.id))
    assert set(refused.value.errors) == {"supersedes"}


# --- parties --------------------------------------------------------------------------------------


def test_parties_of_the_table_and_their_order(seed, board, ready):
    protocol, cgil, ascom = ready
    assert (cgil.position, ascom.position) == (1, 2)
    assert not cgil.external
    assert cgil.signatory_id == board.member.id
    assert (ascom.signatory_id, ascom.substitute_id) == (board.chair.id, board.secretary.id)
    listed = seed.run(lambda s: p.parties_of(s, protocol.id))
    assert [x.organisation.name for x in listed] == ["CGIL Bologna", "Confcommercio Ascom Bologna"]
    assert kinds(board).count("protocol.party_added") == 2


def test_an_external_party_is_an_organisation_without_a_seat(seed, board, people):
    protocol = create(seed, board, people["chair"])
    investor = party(
        seed, board, protocol, people["chair"], external="Logistica Nord S.p.A.", signatory="outsider@example.org"
    )
    assert investor.external
    organisation = seed.run(lambda s: s.get(Organisation, investor.organisation_id))
    assert organisation.name == "Logistica Nord S.p.A."
    # the same name again, on another protocol, reuses the organisation
    other = create(seed, board, people["chair"], "Intesa due")
    again = party(seed, board, other, people["chair"], external="logistica nord s.p.a.")
    assert again.organisation_id == investor.organisation_id


def test_party_refusals(seed, board, people):
    protocol = create(seed, board, people["chair"])
    seed.org("Fuori dal tavolo")
    outside = seed.run(lambda s: s.scalar(select(Organisation).where(Organisation.name == "Fuori dal tavolo")))
    with pytest.raises(Invalid) as no_seat:
        party(seed, board, protocol, people["chair"], organisation=outside)
    assert "organisation" in no_seat.value.errors
    with pytest.raises(Invalid) as seated:
        party(seed, board, protocol, people["chair"], external="CGIL Bologna")
    assert "external_name" in seated.value.errors
    with pytest.raises(Invalid) as unknown:
        party(seed, board, protocol, people["chair"], organisation=board.cgil, signatory="nobody@example.org")
    assert "signatory" in unknown.value.errors
    with pytest.raises(Forbidden):
        party(seed, board, protocol, people["member"], organisation=board.cgil)
    party(seed, board, protocol, people["chair"], organisation=board.cgil)
    with pytest.raises(Invalid) as twice:
        party(seed, board, protocol, people["chair"], organisation=board.cgil)
    assert "organisation" in twice.value.errors
    assert count(seed, ProtocolParty) == 1
    with pytest.raises(Invalid) as both:
        parse_party(organisation="1", external_name="X", signatory="", substitute="")
    assert "external_name" in both.value.errors
    with pytest.raises(Invalid) as neither:
        parse_party(organisation="", external_name="", signatory="", substitute="")
    assert "organisation" in neither.value.errors
    with pytest.raises(Invalid) as same:
        parse_signers(signatory="a@example.org", substitute="A@example.org")
    assert "substitute" in same.value.errors


def test_change_and_remove_parties_of_a_draft(seed, board, people, ready):
    protocol, cgil, ascom = ready
    changed = seed.run(
        lambda s: update_party(
            s,
            board.table,
            protocol.id,
            cgil.id,
            parse_signers(signatory="member@example.org", substitute="secretary@example.org", position="3"),
            actor=people["chair"],
        )
    )
    assert (changed.substitute_id, changed.position) == (board.secretary.id, 3)
    seed.run(lambda s: remove_party(s, board.table, protocol.id, ascom.id, actor=people["secretary"]))
    assert count(seed, ProtocolParty) == 1
    assert kinds(board)[-2:] == ["protocol.party_changed", "protocol.party_removed"]


# --- annexes ----------------------------------------------------------------------------------------


def test_annexes_are_pdfs_with_their_hash(seed, board, people, ready):
    protocol = ready[0]
    annex = seed.run(
        lambda s: add_annex(
            s, board.table, protocol.id, name="", filename="C:\\tmp\\Elenco.pdf", data=PDF, actor=people["secretary"]
        )
    )
    assert (annex.name, annex.filename, annex.size) == ("Elenco", "Elenco.pdf", len(PDF))
    assert annex.sha256 == hashlib.sha256(PDF).hexdigest()
    with pytest.raises(Invalid) as not_pdf:
        seed.run(
            lambda s: add_annex(
                s, board.table, protocol.id, name="x", filename="x.pdf", data=b"GIF89a", actor=people["chair"]
            )
        )
    assert "file" in not_pdf.value.errors
    with pytest.raises(Invalid) as large:
        seed.run(
            lambda s: add_annex(
                s,
                board.table,
                protocol.id,
                name="x",
                filename="x.pdf",
                data=PDF + b"0" * 2048,
                actor=people["chair"],
                limit=1024,
            )
        )
    assert "file" in large.value.errors
    with pytest.raises(Forbidden):
        seed.run(
            lambda s: add_annex(
                s, board.table, protocol.id, name="x", filename="x.pdf", data=PDF, actor=people["member"]
            )
        )
    assert len(seed.run(lambda s: annexes_of(s, protocol.id))) == 1
    seed.run(lambda s: remove_annex(s, board.table, protocol.id, annex.id, actor=people["chair"]))
    assert seed.run(lambda s: annexes_of(s, protocol.id)) == []
    assert len(seed.run(lambda s: annexes_of(s, protocol.id, removed=True))) == 1
    assert kinds(board)[-2:] == ["protocol.annex_added", "protocol.annex_removed"]


# --- opening for signature ------------------------------------------------------------------------


def test_open_freezes_one_canonical_version(seed, board, people, ready):
    protocol, cgil, ascom = ready
    write(seed, protocol, TEXT.replace("\n", "\r\n") + "\n\n", board.chair.id)
    kept = seed.run(
        lambda s: add_annex(
            s, board.table, protocol.id, name="Elenco", filename="e.pdf", data=PDF, actor=people["chair"]
        )
    )
    gone = seed.run(
        lambda s: add_annex(
            s, board.table, protocol.id, name="Vecchio", filename="v.pdf", data=PDF + b"x", actor=people["chair"]
        )
    )
    seed.run(lambda s: remove_annex(s, board.table, protocol.id, gone.id, actor=people["chair"]))
    moved = open_(seed, board, protocol.id, people["chair"])
    assert moved.protocol.status is ProtocolStatus.open
    assert moved.protocol.opened_at is not None
    version = seed.run(lambda s: p.current_version(s, protocol.id))
    assert version.number == 1
    assert version.current
    assert version.text == canonical(TEXT) == TEXT.encode()
    assert version.text_sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    assert version.annexes == [{"annex_id": kept.id, "name": "Elenco", "sha256": kept.sha256, "size": len(PDF)}]
    document = seed.run(lambda s: s.get(Document, moved.document_id, populate_existing=True))
    assert document.frozen_at is not None
    states = seed.run(lambda s: commitments_of(s, protocol.id))
    assert [(c.commitment.number, c.commitment.party_id, c.commitment.due_on, c.action) for c in states] == [
        (1, cgil.id, date(2027, 6, 30), None),
        (2, ascom.id, None, None),
    ]
    assert states[0].commitment.title == "Formare i delegati alla sicurezza."
    assert kinds(board)[-1] == "protocol.opened"
    # frozen: nothing changes the draft any more
    with pytest.raises(Invalid):
        seed.run(
            lambda s: add_annex(
                s, board.table, protocol.id, name="x", filename="x.pdf", data=PDF, actor=people["chair"]
            )
        )
    with pytest.raises(Invalid):
        seed.run(
            lambda s: p.update_protocol(
                s, board.table, protocol.id, values("Nuovo"), version=moved.protocol.version, actor=people["chair"]
            )
        )
    with pytest.raises(Invalid):
        party(seed, board, protocol, people["chair"], external="Nuova parte")
    with pytest.raises(Invalid):
        seed.run(lambda s: remove_party(s, board.table, protocol.id, cgil.id, actor=people["chair"]))


def test_only_the_chair_opens(seed, board, people, ready):
    protocol = ready[0]
    for who in ("secretary", "member", "observer"):
        with pytest.raises(Forbidden):
            open_(seed, board, protocol.id, people[who])
    assert fresh(seed, protocol.id).status is ProtocolStatus.draft


def test_open_refused_without_parties_or_signatories(seed, board, people):
    protocol = create(seed, board, people["chair"])
    with pytest.raises(Invalid) as none:
        open_(seed, board, protocol.id, people["chair"])
    assert "parties" in none.value.errors
    party(seed, board, protocol, people["chair"], organisation=board.cgil)
    with pytest.raises(Invalid) as unsigned:
        open_(seed, board, protocol.id, people["chair"])
    assert "CGIL Bologna" in unsigned.value.errors["parties"]
    assert fresh(seed, protocol.id).status is ProtocolStatus.draft
    assert count(seed, ProtocolVersion) == 0
    assert document_of(seed, protocol).frozen_at is None


def test_open_refused_listing_every_commitment_error(seed, board, people, ready):
    protocol = ready[0]
    write(seed, protocol, TEXT + "\n### Impegno — Nessuno — entro 2027-02-30\nx\n### Impegno\ny\n", board.chair.id)
    errors = seed.run(lambda s: p.commitment_errors(s, protocol))
    assert [e.line for e in errors] == [13, 13, 15]
    with pytest.raises(p.CommitmentsInvalid) as refused:
        open_(seed, board, protocol.id, people["chair"])
    assert [e.line for e in refused.value.commitment_errors] == [13, 13, 15]
    assert " 13: " in refused.value.errors["text"]
    assert " 15: " in refused.value.errors["text"]
    assert fresh(seed, protocol.id).status is ProtocolStatus.draft
    assert count(seed, ProtocolVersion) == 0
    assert count(seed, Commitment) == 0
    assert document_of(seed, protocol).frozen_at is None


def test_opening_twice_is_a_no_op_and_stale_is_refused(seed, board, people, ready):
    protocol = ready[0]
    before = fresh(seed, protocol.id).version
    open_(seed, board, protocol.id, people["chair"])
    seed.run(lambda s: p.open_for_signature(s, board.table, protocol.id, version=before, actor=people["chair"]))
    assert count(seed, ProtocolVersion) == 1
    assert kinds(board).count("protocol.opened") == 1
    with pytest.raises(Stale):
        seed.run(lambda s: p.back_to_draft(s, board.table, protocol.id, version=before, actor=people["chair"]))


# --- back to draft ----------------------------------------------------------------------------------


def test_back_to_draft_keeps_the_version_and_reopens_the_text(seed, board, people, ready):
    protocol = ready[0]
    open_(seed, board, protocol.id, people["chair"])
    with pytest.raises(Forbidden):
        reopen(seed, board, protocol.id, people["secretary"])
    moved = reopen(seed, board, protocol.id, people["chair"])
    assert moved.protocol.status is ProtocolStatus.draft
    assert document_of(seed, protocol).frozen_at is None
    assert seed.run(lambda s: p.current_version(s, protocol.id)) is None
    (kept,) = seed.run(lambda s: p.versions_of(s, protocol.id))
    assert kept.number == 1
    assert not kept.current
    write(seed, protocol, TEXT + "\nAggiunta.\n", board.chair.id)
    open_(seed, board, protocol.id, people["chair"])
    assert [v.number for v in seed.run(lambda s: p.versions_of(s, protocol.id))] == [1, 2]
    assert kinds(board)[-3:] == ["protocol.opened", "protocol.reopened", "protocol.opened"]


def test_back_to_draft_refused_once_someone_signed(seed, board, people, ready, key):
    protocol, cgil, _ascom = ready
    open_(seed, board, protocol.id, people["chair"])
    sign(seed, board, protocol.id, cgil.id, board.member, key)
    with pytest.raises(Invalid) as refused:
        reopen(seed, board, protocol.id, people["chair"])
    assert "status" in refused.value.errors
    assert fresh(seed, protocol.id).status is ProtocolStatus.open
    assert document_of(seed, protocol).frozen_at is not None


# --- signatures: in force, commitments, adhesion, supersession ----------------------------------------


def test_in_force_when_every_party_signed_and_commitments_become_action_items(seed, board, people, ready, key):
    protocol, cgil, ascom = ready
    open_(seed, board, protocol.id, people["chair"])
    sign(seed, board, protocol.id, cgil.id, board.member, key)
    assert fresh(seed, protocol.id).status is ProtocolStatus.open
    assert count(seed, ActionItem) == 0
    sign(seed, board, protocol.id, ascom.id, board.secretary, key)  # the substitute signs
    now = fresh(seed, protocol.id)
    assert now.status is ProtocolStatus.in_force
    assert now.in_force_at is not None
    states = seed.run(lambda s: commitments_of(s, protocol.id))
    first, second = (state.action for state in states)
    assert (first.owner_id, first.organisation_id, first.due_on, first.status) == (
        board.member.id,
        board.cgil.id,
        date(2027, 6, 30),
        ActionStatus.open,
    )
    assert first.title == "Formare i delegati alla sicurezza."
    assert "Formare i delegati" in first.description
    assert (second.owner_id, second.organisation_id, second.due_on) == (board.chair.id, board.ascom.id, None)
    assert all(state.is_open for state in states)
    assert kinds(board)[-3:] == ["protocol.signed", "protocol.signed", "protocol.in_force"]
    created = board.events("action.created")
    assert [e.payload["protocol_id"] for e in created] == [protocol.id, protocol.id]
    signed = board.events("protocol.signed")
    assert [e.payload["organisation"] for e in signed] == ["CGIL Bologna", "Confcommercio Ascom Bologna"]
    assert signed[1].payload["role"] == "substitute"
    listed = seed.run(lambda s: open_commitments_of_table(s, board.table.id))
    assert [(x.id, len(states)) for x, states in listed] == [(protocol.id, 2)]


def test_party_states_say_who_has_signed(seed, board, people, ready, key):
    protocol, cgil, ascom = ready
    assert [(x.party.id, x.signature) for x in seed.run(lambda s: p.party_states(s, protocol))] == [
        (cgil.id, None),
        (ascom.id, None),
    ]
    open_(seed, board, protocol.id, people["chair"])
    made = sign(seed, board, protocol.id, ascom.id, board.chair, key)
    states = seed.run(lambda s: p.party_states(s, protocol))
    assert [(x.party.organisation.name, x.signature.id if x.signature else None) for x in states] == [
        ("CGIL Bologna", None),
        ("Confcommercio Ascom Bologna", made.id),
    ]


def test_the_chair_assigns_a_commitment_to_someone_else(seed, board, people, ready, key):
    protocol, cgil, ascom = ready
    open_(seed, board, protocol.id, people["chair"])
    sign(seed, board, protocol.id, cgil.id, board.member, key)
    sign(seed, board, protocol.id, ascom.id, board.chair, key)
    state = seed.run(lambda s: commitments_of(s, protocol.id))[1]  # Confcommercio's
    with pytest.raises(Forbidden):
        seed.run(
            lambda s: assign_owner(
                s, board.table, protocol.id, state.commitment.id, board.secretary.id, actor=people["secretary"]
            )
        )
    with pytest.raises(Invalid):  # the member acts for CGIL, not for Confcommercio
        seed.run(
            lambda s: assign_owner(
                s, board.table, protocol.id, state.commitment.id, board.member.id, actor=people["chair"]
            )
        )
    action = seed.run(
        lambda s: assign_owner(
            s, board.table, protocol.id, state.commitment.id, board.secretary.id, actor=people["chair"]
        )
    )
    assert action.owner_id == board.secretary.id
    assert board.events("action.updated")[-1].payload["commitment_id"] == state.commitment.id


def test_signers_change_while_the_signature_is_due_only(seed, board, people, ready, key):
    protocol, cgil, ascom = ready
    open_(seed, board, protocol.id, people["chair"])
    sign(seed, board, protocol.id, cgil.id, board.member, key)
    with pytest.raises(Invalid):
        seed.run(
            lambda s: update_party(
                s,
                board.table,
                protocol.id,
                cgil.id,
                parse_signers(signatory="chair@example.org", substitute=""),
                actor=people["chair"],
            )
        )
    changed = seed.run(
        lambda s: update_party(
            s,
            board.table,
            protocol.id,
            ascom.id,
            parse_signers(signatory="chair@example.org", substitute=""),
            actor=people["chair"],
        )
    )
    assert changed.substitute_id is None
    with pytest.raises(Invalid) as order:
        seed.run(
            lambda s: update_party(
                s,
                board.table,
                protocol.id,
                ascom.id,
                parse_signers(signatory="chair@example.org", substitute="", position="9"),
                actor=people["chair"],
            )
        )
    assert "position" in order.value.errors


@pytest.fixture
def in_force(seed, board, people, ready, key):
    protocol, cgil, ascom = ready
    open_(seed, board, protocol.id, people["chair"])
    sign(seed, board, protocol.id, cgil.id, board.member, key)
    sign(seed, board, protocol.id, ascom.id, board.chair, key)
    return fresh(seed, protocol.id)


def test_a_party_adheres_to_a_protocol_in_force(seed, board, people, in_force, key):
    investor = party(
        seed, board, in_force, people["chair"], external="Logistica Nord S.p.A.", signatory="outsider@example.org"
    )
    assert investor.adhering
    assert investor.external
    version = seed.run(lambda s: p.current_version(s, in_force.id))
    signature = sign(seed, board, in_force.id, investor.id, board.outsider, key)
    assert signature.version_id == version.id
    assert fresh(seed, in_force.id).status is ProtocolStatus.in_force
    assert kinds(board)[-2:] == ["protocol.party_added", "protocol.adhered"]
    assert count(seed, Signature) == 3
    with pytest.raises(Invalid):  # signed: it stays
        seed.run(lambda s: remove_party(s, board.table, in_force.id, investor.id, actor=people["chair"]))


def test_an_adhering_party_not_yet_signed_can_be_removed(seed, board, people, in_force):
    investor = party(seed, board, in_force, people["chair"], external="Logistica Nord S.p.A.")
    seed.run(lambda s: remove_party(s, board.table, in_force.id, investor.id, actor=people["chair"]))
    assert count(seed, ProtocolParty, ProtocolParty.protocol_id == in_force.id) == 2


def test_an_addendum_in_force_supersedes_the_old_protocol(seed, board, people, in_force, key):
    addendum = create(seed, board, people["chair"], "Addendum al protocollo appalti", supersedes=str(in_force.id))
    write(seed, addendum, "# Addendum\n\n### Impegno — CGIL Bologna — entro 2028-01-31\n\nRinnovare.\n")
    cgil = party(seed, board, addendum, people["chair"], organisation=board.cgil, signatory="member@example.org")
    open_(seed, board, addendum.id, people["chair"])
    assert fresh(seed, in_force.id).status is ProtocolStatus.in_force
    sign(seed, board, addendum.id, cgil.id, board.member, key)
    old, new = fresh(seed, in_force.id), fresh(seed, addendum.id)
    assert (old.status, new.status) == (ProtocolStatus.superseded, ProtocolStatus.in_force)
    assert old.ended_at is not None
    assert seed.run(lambda s: p.superseded_by(s, old.id)).id == new.id
    assert new.supersedes_id == old.id
    assert kinds(board)[-2:] == ["protocol.in_force", "protocol.superseded"]
    assert board.events("protocol.superseded")[0].payload["superseded_by"] == new.id
    # the old protocol's action items stay
    assert all(state.action is not None for state in seed.run(lambda s: commitments_of(s, old.id)))
    assert count(seed, ActionItem) == 3


# --- expiry -------------------------------------------------------------------------------------------


def test_expiry_ends_protocols_whose_validity_ended(seed, board, people, in_force):
    end = date(2027, 12, 31)

    async def set_end(session):
        row = await session.get(Protocol, in_force.id)
        row.valid_until = end

    seed.run(set_end)
    assert seed.run(lambda s: protocol_force.expire_due(s, end)) == []
    assert fresh(seed, in_force.id).status is ProtocolStatus.in_force
    expired = seed.run(lambda s: protocol_force.expire_due(s, end + timedelta(days=1)))
    assert [x.id for x in expired] == [in_force.id]
    assert fresh(seed, in_force.id).status is ProtocolStatus.expired
    assert seed.run(lambda s: protocol_force.expire_due(s, end + timedelta(days=2))) == []
    assert kinds(board).count("protocol.expired") == 1
    assert count(seed, ActionItem) == 2  # kept


def test_a_protocol_without_end_never_expires(seed, board, in_force):
    assert seed.run(lambda s: protocol_force.expire_due(s, date(2999, 1, 1))) == []


# --- who reaches what ----------------------------------------------------------------------------------


def access_of(seed, protocol, user, role, is_admin=False):
    async def read(session):
        row = await session.get(Protocol, protocol.id, populate_existing=True)
        return await protocol_access.protocol_access(session, row, user.id if user else None, role, is_admin=is_admin)

    return seed.run(read)


def test_who_reaches_a_draft(seed, board, people, ready):
    protocol = ready[0]
    chair = access_of(seed, protocol, board.chair, Role.chair)
    assert chair.reads
    assert chair.manages
    assert chair.chairs
    assert chair.edits_text
    assert chair.level == "manage"
    secretary = access_of(seed, protocol, board.secretary, Role.secretary)
    assert secretary.manages
    assert not secretary.chairs
    assert secretary.signs_for
    member = access_of(seed, protocol, board.member, Role.member)  # CGIL is a party
    assert member.reads
    assert member.edits_text
    assert not member.manages
    assert member.level == "edit"
    observer = access_of(seed, protocol, board.observer, Role.observer)
    assert observer.reads
    assert not observer.edits_text
    assert observer.level == "read"
    admin = access_of(seed, protocol, board.admin, None, is_admin=True)
    assert admin.reads
    assert not admin.edits_text
    assert not admin.external
    outsider = access_of(seed, protocol, board.outsider, None)
    assert outsider.level == "none"
    assert not outsider.reads
    assert access_of(seed, protocol, None, None).level == "none"


def test_a_member_whose_organisation_is_not_a_party_only_reads(seed, board, people):
    protocol = create(seed, board, people["chair"])
    party(seed, board, protocol, people["chair"], organisation=board.ascom)
    member = access_of(seed, protocol, board.member, Role.member)
    assert member.reads
    assert not member.edits_text


def test_nobody_edits_the_text_once_open(seed, board, people, ready):
    protocol = ready[0]
    open_(seed, board, protocol.id, people["chair"])
    for user, role in ((board.chair, Role.chair), (board.member, Role.member)):
        assert not access_of(seed, protocol, user, role).edits_text


def test_an_external_partys_signer_reaches_that_protocol_only(seed, board, people):
    first = create(seed, board, people["chair"], "Intesa per la buona occupazione")
    investor = party(
        seed, board, first, people["chair"], external="Logistica Nord S.p.A.", signatory="outsider@example.org"
    )
    second = create(seed, board, people["chair"], "Protocollo di sito")
    reach = access_of(seed, first, board.outsider, None)
    assert reach.reads
    assert reach.external
    assert reach.signs_for == frozenset({investor.id})
    assert reach.level == "sign"
    assert not reach.edits_text
    assert not reach.manages
    assert access_of(seed, second, board.outsider, None).level == "none"
    assert seed.run(lambda s: protocol_access.reachable_protocols(s, board.table.id, board.outsider.id)) == frozenset(
        {first.id}
    )
    assert seed.run(lambda s: protocol_access.reachable_protocols(s, board.other.id, board.outsider.id)) == frozenset()


def test_the_public_sees_public_tables_protocols_once_in_force(seed, board, people, ready, key):
    protocol, cgil, ascom = ready
    table = board.table
    table.is_public = True
    assert not protocol_access.is_public(table, fresh(seed, protocol.id))
    open_(seed, board, protocol.id, people["chair"])
    assert not protocol_access.is_public(table, fresh(seed, protocol.id))
    sign(seed, board, protocol.id, cgil.id, board.member, key)
    sign(seed, board, protocol.id, ascom.id, board.chair, key)
    assert protocol_access.is_public(table, fresh(seed, protocol.id))
    table.is_public = False
    assert not protocol_access.is_public(table, fresh(seed, protocol.id))


def test_labels():
    from server.i18n import use_locale

    with use_locale("en"):
        assert p.protocol_kind_label("employment") == "Agreement for good employment"
        assert p.protocol_status_label(ProtocolStatus.open) == "Open for signature"
    with use_locale("it"):
        assert p.protocol_kind_label(ProtocolKind.employment) == "Intesa per la buona occupazione"
        assert p.protocol_status_label("in_force") == "In vigore"


# --- the text's document --------------------------------------------------------------------------------


def doc_access(seed, document, user, role, is_admin=False):
    return seed.run(
        lambda s: protocol_access.document_access(
            s, document, role=role, is_admin=is_admin, user_id=user.id if user else None
        )
    )


def test_document_access_follows_the_protocol(seed, board, people):
    protocol = create(seed, board, people["chair"])
    party(seed, board, protocol, people["chair"], organisation=board.cgil, signatory="member@example.org")
    party(seed, board, protocol, people["chair"], external="Logistica Nord S.p.A.", signatory="outsider@example.org")
    document = document_of(seed, protocol)
    assert doc_access(seed, document, board.chair, Role.chair) is DocumentAccess.edit
    assert doc_access(seed, document, board.member, Role.member) is DocumentAccess.edit
    assert doc_access(seed, document, board.observer, Role.observer) is DocumentAccess.read
    assert doc_access(seed, document, board.outsider, None) is DocumentAccess.read  # the investor's signatory
    assert doc_access(seed, document, board.admin, None, is_admin=True) is DocumentAccess.read
    assert doc_access(seed, document, None, None) is DocumentAccess.none
    stranger = seed.user("stranger@example.org")
    assert doc_access(seed, document, stranger, None) is DocumentAccess.none


def test_document_changed_records_one_edit_per_session(seed, board, people):
    protocol = create(seed, board, people["chair"])
    document = document_of(seed, protocol)
    start = p.utcnow()
    for minutes in (0, 5, 30):
        seed.run(
            lambda s, m=minutes: protocol_access.document_changed(
                s, document, "", frozenset({board.chair.id}), now=start + timedelta(minutes=m)
            )
        )
    seed.run(lambda s: protocol_access.document_changed(s, document, "", frozenset({board.member.id}), now=start))
    edited = board.events("protocol.edited")
    assert [e.actor_id for e in edited] == [board.chair.id, board.chair.id, board.member.id]
    assert all(e.payload["protocol_id"] == protocol.id for e in edited)


def test_signing_stays_the_signatures_module_but_the_hook_is_idempotent_in_force(seed, board, people, in_force):
    """A hook called again for a signature of a protocol already in force changes nothing more."""

    async def again(session):
        signature = await session.scalar(select(Signature).limit(1))
        return await protocol_force.record_signature_hook(session, signature, actor_id=None)

    seed.run(again)
    assert fresh(seed, in_force.id).status is ProtocolStatus.in_force
    assert count(seed, ActionItem) == 2
    assert kinds(board).count("protocol.in_force") == 1


# --- the demo ---------------------------------------------------------------------------------------------


async def test_the_demo_has_a_protocol_in_force_one_open_and_an_intesa_in_draft(database, tmp_path, monkeypatch):
    from server.demo import load_demo

    monkeypatch.setenv("TAVOLI_SIGNING_KEY_FILE", str(tmp_path / "demo-signing.key"))
    await load_demo(database, "una-password-demo-lunga", seeders=["server.demo.protocols"])
    async with database.read() as session:
        found = {row.title: row for row in (await session.scalars(select(Protocol))).all()}
        appalti = found["Protocollo appalti"]
        interporto = found["Protocollo di sito per l'Interporto di Bologna"]
        intesa = found["Intesa per la buona occupazione — Polo logistico di Altedo"]
        assert appalti.status is ProtocolStatus.in_force
        assert interporto.status is ProtocolStatus.open
        assert intesa.status is ProtocolStatus.draft
        version = await p.current_version(session, appalti.id)
        sealed = await p.signatures_of(session, version.id)
        assert len(sealed) == 5
        checks = await signatures.check_signatures(session, appalti.id)
        assert [check.check.valid for check in checks] == [True] * 5
        states = await commitments_of(session, appalti.id)
        assert len(states) == 3
        assert all(state.action is not None for state in states)
        open_version = await p.current_version(session, interporto.id)
        assert len(await p.signatures_of(session, open_version.id)) == 2
        parties = await p.parties_of(session, intesa.id)
        investor = next(x for x in parties if x.external)
        assert investor.organisation.name == "Nordlog Italia S.r.l."
        assert investor.signatory is not None
        reach = await protocol_access.reachable_protocols(session, intesa.table_id, investor.signatory_id)
        assert reach == frozenset({intesa.id})
        assert await p.commitment_errors(session, intesa) == []


# --- many at once ---------------------------------------------------------------------------------------


async def test_the_last_two_parties_signing_at_once_bring_it_into_force_once(seed, board, people, ready, key, database):
    protocol, cgil, ascom = ready
    open_(seed, board, protocol.id, people["chair"])
    table = board.table

    async def press(party_id, user):
        async with database.transaction() as session:
            await signatures.sign(
                session, table, protocol.id, party_id=party_id, actor_user_id=user.id, password=PASSWORD, key=key
            )

    await asyncio.gather(
        *(press(cgil.id, board.member) for _ in range(5)), *(press(ascom.id, board.chair) for _ in range(5))
    )
    assert fresh(seed, protocol.id).status is ProtocolStatus.in_force
    assert kinds(board).count("protocol.signed") == 2
    assert kinds(board).count("protocol.in_force") == 1
    assert count(seed, ActionItem) == 2
    assert count(seed, Signature) == 2


async def test_opening_many_times_at_once_makes_one_version(seed, board, people, ready, database):
    protocol = ready[0]
    version = fresh(seed, protocol.id).version

    async def press():
        try:
            async with database.transaction() as session:
                await p.open_for_signature(session, board.table, protocol.id, version=version, actor=people["chair"])
            return "opened"
        except Stale:
            return "stale"

    outcomes = await asyncio.gather(*(press() for _ in range(10)))
    assert "opened" in outcomes
    assert count(seed, ProtocolVersion) == 1
    assert count(seed, Commitment) == 2
    assert kinds(board).count("protocol.opened") == 1


async def test_expiry_run_by_several_instances_at_once_expires_once(seed, board, in_force, database):
    async def set_end(session):
        row = await session.get(Protocol, in_force.id)
        row.valid_until = date(2027, 1, 1)

    seed.run(set_end)

    async def run():
        async with database.transaction() as session:
            return [x.id for x in await protocol_force.expire_due(session, date(2027, 1, 2))]

    outcomes = await asyncio.gather(*(run() for _ in range(4)))
    assert sorted(outcomes, key=len) == [[], [], [], [in_force.id]]
    assert kinds(board).count("protocol.expired") == 1
