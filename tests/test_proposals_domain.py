"""Proposals in the domain: authors, drafts and versions, the status path, endorsements, comments."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from server.db.models import ActionItem, Endorsement, Proposal, ProposalComment, ProposalStatus, Role
from server.db.types import utcnow
from server.domain import actions, proposals
from server.domain.errors import Forbidden, Invalid, NotFound, Stale


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


TEXT = proposals.parse_text(
    title="Saldi invernali in una data unica",
    summary="Una data comune per tutto il territorio metropolitano.",
    body="Le associazioni propongono che i saldi invernali comincino il primo sabato di gennaio.",
)


def actor(user, role):
    return actions.Actor(user.id, role)


def draft(board, seed, authors=None, who=None):
    who = who or actor(board.member, Role.member)
    return seed.run(
        lambda s: proposals.create_proposal(
            s, board.table, TEXT, [board.cgil.slug] if authors is None else authors, actor=who
        )
    )


def move(board, seed, proposal, status, who, version=None, outcome=""):
    return seed.run(
        lambda s: proposals.set_status(
            s,
            board.table,
            proposal.id,
            status,
            version=proposal.version if version is None else version,
            actor=who,
            outcome=outcome,
        )
    )


# --- creating and editing ---------------------------------------------------------------------------


def test_a_member_brings_a_proposal_for_organisations_including_their_own(board, seed):
    proposal = draft(board, seed, authors=[board.cgil.slug, board.ascom.slug])
    assert proposal.status is ProposalStatus.draft
    names = [o.name for o in seed.run(lambda s: proposals.authors_of(s, proposal.id))]
    assert names == ["CGIL Bologna", "Confcommercio Ascom Bologna"]
    assert len(board.events("proposal.created")) == 1


@pytest.mark.parametrize(
    ("authors", "error"),
    [([], Invalid), (["inesistente"], Invalid), (["cna"], Forbidden)],
)
def test_bad_authors_are_refused(board, seed, authors, error):
    slugs = [board.cna.slug if a == "cna" else a for a in authors]
    with pytest.raises(error):
        draft(board, seed, authors=slugs)
    assert board.events("proposal.created") == []


def test_co_authors_must_have_a_seat_on_the_table(board, seed):
    """An organisation that no member of the table represents co-authors none of its proposals: neither
    one that sits only on another table nor one that sits nowhere."""
    nowhere = seed.org("Legacoop Bologna")
    elsewhere = seed.org("Coldiretti Bologna")
    seed.person(board.other, Role.member, "elsewhere@example.org", elsewhere)
    for outside in (nowhere, elsewhere):
        with pytest.raises(Invalid) as caught:
            draft(board, seed, authors=[board.cgil.slug, outside.slug])
        assert outside.name in caught.value.errors["authors"]
    assert board.events("proposal.created") == []
    assert seed.run(lambda s: s.scalars(select(Proposal))).all() == []


def test_observers_bring_no_proposal(board, seed):
    with pytest.raises(Forbidden):
        draft(board, seed, who=actor(board.observer, Role.observer))


def test_bad_text_is_reported_beside_its_field():
    with pytest.raises(Invalid) as caught:
        proposals.parse_text(title=" ", summary="x" * 2_001, body="")
    assert set(caught.value.errors) == {"title", "summary"}


def test_only_co_authors_edit_the_draft_with_version_checks(board, seed):
    proposal = draft(board, seed)
    changed = proposals.parse_text(title="Saldi dal primo sabato di gennaio", summary="", body="Testo nuovo.")
    with pytest.raises(Forbidden):
        seed.run(
            lambda s: proposals.update_draft(
                s, board.table, proposal.id, changed, version=1, actor=actor(board.chair, Role.chair)
            )
        )

    def edit(text, version=1, save=False):
        return seed.run(
            lambda s: proposals.update_draft(
                s,
                board.table,
                proposal.id,
                text,
                version=version,
                actor=actor(board.member, Role.member),
                save_version=save,
            )
        )

    edit(changed)
    edit(changed)  # the same text again: nothing happens
    assert len(board.events("proposal.updated")) == 1
    with pytest.raises(Stale):
        edit(TEXT)  # from a form still on version 1
    edit(changed, version=2, save=True)
    edit(changed, version=2, save=True)  # the same version is not saved twice
    # The first draft is version 1; the changed text, saved, is version 2.
    assert [v.number for v in seed.run(lambda s: proposals.versions_of(s, proposal.id))] == [1, 2]


# --- the status path ----------------------------------------------------------------------------------


def test_the_path_from_draft_to_approval_keeps_a_version_at_submission(board, seed):
    proposal = draft(board, seed)
    chair = actor(board.chair, Role.chair)
    with pytest.raises(Forbidden):
        move(board, seed, proposal, ProposalStatus.submitted, chair)  # the authors submit
    proposal = move(board, seed, proposal, ProposalStatus.submitted, actor(board.member, Role.member))
    assert [v.kind for v in seed.run(lambda s: proposals.versions_of(s, proposal.id))] == ["submitted"]
    with pytest.raises(Forbidden):
        move(board, seed, proposal, ProposalStatus.under_discussion, actor(board.member, Role.member))
    proposal = move(board, seed, proposal, ProposalStatus.under_discussion, chair)
    with pytest.raises(Invalid) as caught:
        move(board, seed, proposal, ProposalStatus.approved, chair)
    assert "outcome" in caught.value.errors
    proposal = move(board, seed, proposal, ProposalStatus.approved, chair, outcome="Approvata all'unanimità.")
    assert proposal.outcome == "Approvata all'unanimità."
    statuses = [e.payload["status"] for e in board.events("proposal.status")]
    assert statuses == ["submitted", "under_discussion", "approved"]


@pytest.mark.parametrize("closed", [ProposalStatus.rejected, ProposalStatus.withdrawn])
def test_a_closed_proposal_goes_nowhere(board, seed, closed):
    proposal = draft(board, seed)
    member, chair = actor(board.member, Role.member), actor(board.chair, Role.chair)
    proposal = move(board, seed, proposal, ProposalStatus.submitted, member)
    if closed is ProposalStatus.rejected:
        proposal = move(board, seed, proposal, ProposalStatus.under_discussion, chair)
        proposal = move(board, seed, proposal, closed, chair, outcome="Non condivisa.")
    else:
        proposal = move(board, seed, proposal, closed, member)
    events = len(board.events())
    for target in (ProposalStatus.draft, ProposalStatus.submitted, ProposalStatus.approved):
        with pytest.raises(Invalid):
            move(board, seed, proposal, target, chair, outcome="x")
    assert board.current(Proposal, proposal.id).status is closed
    assert len(board.events()) == events


def test_a_repeated_status_is_a_no_op_and_a_stale_one_is_refused(board, seed):
    proposal = draft(board, seed)
    member = actor(board.member, Role.member)
    move(board, seed, proposal, ProposalStatus.submitted, member, version=1)
    move(board, seed, proposal, ProposalStatus.submitted, member, version=1)
    assert len(board.events("proposal.status")) == 1
    with pytest.raises(Stale):
        move(board, seed, proposal, ProposalStatus.withdrawn, member, version=1)


def test_a_proposal_of_another_table_is_not_found(board, seed):
    proposal = draft(board, seed)
    with pytest.raises(NotFound):
        seed.run(lambda s: proposals.get_proposal(s, board.other.id, proposal.id))


# --- endorsements ----------------------------------------------------------------------------------------


def submitted(board, seed):
    return move(board, seed, draft(board, seed), ProposalStatus.submitted, actor(board.member, Role.member))


def test_open_proposals_read_their_authors_and_endorsements_in_three_queries(board, seed):
    first = submitted(board, seed)
    second = draft(board, seed, authors=[board.cgil.slug, board.ascom.slug])
    seed.run(lambda s: proposals.endorse(s, board.table, first.id, actor=actor(board.chair, Role.chair)))
    selects = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    async def listed(session):
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            return await proposals.open_proposals(session, board.table.id)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    found = seed.run(listed)
    assert [(p.id, names, endorsed) for p, names, endorsed in found] == [
        (second.id, ["CGIL Bologna", "Confcommercio Ascom Bologna"], 0),
        (first.id, ["CGIL Bologna"], 1),
    ]
    assert len(selects) == 3
    authors = seed.run(lambda s: proposals.authors_of_many(s, [first.id, 999_999]))
    assert {k: [o.name for o in v] for k, v in authors.items()} == {first.id: ["CGIL Bologna"], 999_999: []}


def test_one_endorsement_per_organisation_withdrawable(board, seed):
    proposal = submitted(board, seed)
    chair = actor(board.chair, Role.chair)  # represents Confcommercio Ascom here

    def endorse(who=chair):
        return seed.run(lambda s: proposals.endorse(s, board.table, proposal.id, actor=who))

    first, again = endorse(), endorse()
    assert first.id == again.id
    assert [e.organisation.name for e in seed.run(lambda s: proposals.endorsements_of(s, proposal.id))] == [
        "Confcommercio Ascom Bologna"
    ]
    with pytest.raises(Forbidden):
        endorse(actor(board.observer, Role.observer))
    seed.run(lambda s: proposals.withdraw_endorsement(s, board.table, proposal.id, actor=chair))
    seed.run(lambda s: proposals.withdraw_endorsement(s, board.table, proposal.id, actor=chair))
    assert seed.run(lambda s: proposals.endorsements_of(s, proposal.id)) == []
    assert len(board.events("proposal.endorsed")) == 1
    assert len(board.events("proposal.endorsement_withdrawn")) == 1


def test_a_draft_cannot_be_endorsed(board, seed):
    proposal = draft(board, seed)
    with pytest.raises(Invalid):
        seed.run(lambda s: proposals.endorse(s, board.table, proposal.id, actor=actor(board.chair, Role.chair)))


async def test_fifty_identical_endorsements_at_once_leave_one_row_and_one_event(board, seed, database):
    proposal = submitted(board, seed)
    chair = actor(board.chair, Role.chair)
    table = board.table

    async def endorse():
        async with database.transaction() as session:
            await proposals.endorse(session, table, proposal.id, actor=chair)

    await asyncio.gather(*(endorse() for _ in range(50)))
    async with database.read() as session:
        rows = (await session.scalars(select(Endorsement).where(Endorsement.proposal_id == proposal.id))).all()
    assert len(rows) == 1
    assert len(board.events("proposal.endorsed")) == 1


# --- comments ---------------------------------------------------------------------------------------------


def test_comments_thread_one_level_and_their_author_edits_them_for_fifteen_minutes(board, seed):
    proposal = submitted(board, seed)
    member, chair = actor(board.member, Role.member), actor(board.chair, Role.chair)

    def comment(body, who=member, parent=None, key=None):
        return seed.run(
            lambda s: proposals.add_comment(
                s, board.table, proposal.id, body, actor=who, parent_id=parent, client_key=key
            )
        )

    first = comment("Serve il parere delle Unioni.", key="c1")
    assert comment("Serve il parere delle Unioni.", key="c1").id == first.id
    reply = comment("Lo chiediamo noi.", who=chair, parent=first.id)
    reply_to_reply = comment("Grazie.", parent=reply.id)
    assert reply_to_reply.parent_id == first.id, "replies are not nested further"
    threads = seed.run(lambda s: proposals.comments_of(s, proposal.id))
    assert [(c.body, [r.body for r in rs]) for c, rs in threads] == [
        ("Serve il parere delle Unioni.", ["Lo chiediamo noi.", "Grazie."])
    ]
    with pytest.raises(Forbidden):
        comment("Io leggo soltanto.", who=actor(board.observer, Role.observer))
    with pytest.raises(Invalid):
        comment("   ")

    def edit(body, who=member):
        return seed.run(lambda s: proposals.edit_comment(s, board.table, proposal.id, first.id, body, actor=who))

    assert edit("Serve il parere delle Unioni dei Comuni.").edited_at is not None
    with pytest.raises(Forbidden):
        edit("Non è mio.", who=chair)
    seed.run(
        lambda s: s.execute(
            update(ProposalComment)
            .where(ProposalComment.id == first.id)
            .values(created_at=utcnow() - timedelta(minutes=16))
        )
    )
    with pytest.raises(Forbidden):
        edit("Troppo tardi.")


def test_the_chair_hides_a_comment_with_a_reason(board, seed):
    proposal = submitted(board, seed)
    member, chair = actor(board.member, Role.member), actor(board.chair, Role.chair)
    comment = seed.run(lambda s: proposals.add_comment(s, board.table, proposal.id, "Fuori tema.", actor=member))

    def hide(reason, who=chair):
        return seed.run(lambda s: proposals.hide_comment(s, board.table, proposal.id, comment.id, reason, actor=who))

    with pytest.raises(Forbidden):
        hide("No.", who=actor(board.secretary, Role.secretary))
    with pytest.raises(Invalid):
        hide("  ")
    assert hide("Non riguarda la proposta.").hidden_reason == "Non riguarda la proposta."
    with pytest.raises(Forbidden):
        seed.run(lambda s: proposals.edit_comment(s, board.table, proposal.id, comment.id, "Ci riprovo.", actor=member))
    assert len(board.events("proposal.comment_hidden")) == 1


# --- links, actions, versions -----------------------------------------------------------------------------


def test_an_approved_proposal_links_its_agenda_items_and_becomes_action_items(board, seed):
    proposal = submitted(board, seed)
    chair, secretary = actor(board.chair, Role.chair), actor(board.secretary, Role.secretary)
    seed.run(lambda s: proposals.link_item(s, board.table, proposal.id, board.items[0].id, actor=secretary))
    seed.run(lambda s: proposals.link_item(s, board.table, proposal.id, board.items[0].id, actor=secretary))
    assert len(board.events("proposal.linked")) == 1
    with pytest.raises(NotFound):
        seed.run(lambda s: proposals.link_item(s, board.table, proposal.id, board.other_item.id, actor=secretary))
    values = actions.parse_action(title="Lettera alla Regione", description="", owner="", due_on="")
    with pytest.raises(Invalid):
        seed.run(lambda s: proposals.action_from(s, board.table, proposal.id, values, actor=secretary))
    proposal = move(board, seed, proposal, ProposalStatus.under_discussion, chair)
    move(board, seed, proposal, ProposalStatus.approved, chair, outcome="Approvata.")
    action = seed.run(lambda s: proposals.action_from(s, board.table, proposal.id, values, actor=secretary))
    assert board.current(ActionItem, action.id).origin_proposal_id == proposal.id


def test_word_diff_marks_removed_and_added_words():
    pieces = proposals.word_diff("i saldi iniziano il 5 gennaio", "i saldi iniziano il primo sabato di gennaio")
    assert ("removed", "5") in pieces
    assert ("added", "primo sabato di") in pieces
    assert "".join(text for op, text in pieces if op != "removed") == "i saldi iniziano il primo sabato di gennaio"
    assert "".join(text for op, text in pieces if op != "added") == "i saldi iniziano il 5 gennaio"


def test_the_first_draft_is_version_1_and_an_unchanged_text_is_no_new_version(board, seed):
    author = actor(board.member, Role.member)
    text = proposals.parse_text(title="Saldi in una data unica", summary="", body="Il testo.")
    proposal = seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=author))
    seed.run(
        lambda s: proposals.update_draft(s, board.table, proposal.id, text, version=1, actor=author, save_version=True)
    )
    seed.run(
        lambda s: proposals.set_status(s, board.table, proposal.id, ProposalStatus.submitted, version=1, actor=author)
    )
    versions = seed.run(lambda s: proposals.versions_of(s, proposal.id))
    assert [(v.number, v.kind) for v in versions] == [(1, "submitted")], "one text, one version: the submitted one"
