"""Demo proposals: what the organisations bring to the tables, endorsed, commented and in every state."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Proposal, ProposalStatus, Role, Table
from server.demo.world import DemoWorld
from server.domain import actions, documents, proposal_bodies, proposals


@dataclass(frozen=True)
class DemoProposal:
    title: str
    summary: str
    body: str
    by: str  # who brings it (email local part); their organisation co-authors it
    also_by: list[str] = field(default_factory=list)  # other co-authoring organisations (keys)
    status: str = "draft"
    outcome: str = ""
    endorsed_by: list[str] = field(default_factory=list)  # people endorsing for their organisation
    comments: list[tuple[str, str]] = field(default_factory=list)  # (person, text)
    revised_body: str = ""  # a second text kept as a version before submission
    # Edits of a draft's body by its co-authors, in turn: (person, text replaced, its replacement).
    edits: list[tuple[str, str, str]] = field(default_factory=list)


async def seed(session: AsyncSession, world: DemoWorld) -> None:
    """The proposals of the tables being created."""
    for slug, table in world.tables.items():
        for demo_proposal in PROPOSALS.get(slug, []):
            await _proposal(session, world, table, demo_proposal)


# The statuses a proposal goes through to reach its own.
PATH = {
    "submitted": ["submitted"],
    "under_discussion": ["submitted", "under_discussion"],
    "approved": ["submitted", "under_discussion", "approved"],
    "rejected": ["submitted", "under_discussion", "rejected"],
    "withdrawn": ["withdrawn"],
}


async def _proposal(session: AsyncSession, world: DemoWorld, table: Table, demo_proposal: DemoProposal) -> None:
    """One proposal, moved along its path by its author and the chair."""
    demo = world.seats(table.slug)
    chair = actions.Actor(world.users[demo.chair].id, Role.chair)
    author = actions.Actor(world.users[demo_proposal.by].id, Role.member)
    keys = [world.home(demo_proposal.by).slug, *demo_proposal.also_by]
    text = proposals.parse_text(title=demo_proposal.title, summary=demo_proposal.summary, body=demo_proposal.body)
    proposal = await proposals.create_proposal(
        session, table, text, [world.organisations[key].slug for key in keys], actor=author
    )
    if demo_proposal.revised_body:
        proposal = await proposals.update_draft(
            session, table, proposal.id, text, version=proposal.version, actor=author, save_version=True
        )
        revised = proposals.ProposalText(text.title, text.summary, demo_proposal.revised_body)
        proposal = await proposals.update_draft(
            session, table, proposal.id, revised, version=proposal.version, actor=author
        )
    for local, old, new in demo_proposal.edits:
        await _edit(session, world, proposal, local, old, new)
    for status in PATH.get(demo_proposal.status, []):
        who = author if status in ("submitted", "withdrawn") else chair
        outcome = demo_proposal.outcome if status in ("approved", "rejected") else ""
        proposal = await proposals.set_status(
            session, table, proposal.id, ProposalStatus(status), version=proposal.version, actor=who, outcome=outcome
        )
        if status == "submitted":  # before the table: organisations endorse it and members comment
            for local in demo_proposal.endorsed_by:
                endorser = actions.Actor(world.users[local].id, Role.member)
                await proposals.endorse(session, table, proposal.id, actor=endorser)
            for local, comment in demo_proposal.comments:
                commenter = actions.Actor(world.users[local].id, Role.chair if local == demo.chair else Role.member)
                await proposals.add_comment(session, table, proposal.id, comment, actor=commenter)


async def _edit(session: AsyncSession, world: DemoWorld, proposal: Proposal, local: str, old: str, new: str) -> None:
    """A co-author's edit of the body's document: one real Yjs update (the difference, as pycrdt
    makes it), stored with its author; then rendered and recorded as the live room does."""
    editor = world.users[local].id
    document = await proposal_bodies.document_of(session, proposal)
    current = await documents.text_of(session, document.id)
    if old not in current:
        raise ValueError(f"the demo edit by {local} replaces {old!r}, which the text does not hold")
    await documents.apply_text(session, document.id, base=current, new=current.replace(old, new, 1), user_id=editor)
    text = await documents.text_of(session, document.id)
    await proposal_bodies.body_changed(session, document, text, frozenset({editor}))


# What the organisations bring to the tables, in every state of a proposal.
PROPOSALS: dict[str, list[DemoProposal]] = {
    "commercio-turismo": [
        DemoProposal(
            "Saldi invernali con una data di inizio comune",
            "Una sola data per l'avvio dei saldi in tutto il territorio metropolitano.",
            "Le associazioni del commercio propongono che i saldi invernali comincino **il primo sabato "
            "di gennaio** in tutti i comuni della Città metropolitana, per evitare concorrenza tra "
            "centri vicini e dare ai consumatori una data chiara.",
            "luca.cavina",
            ["confesercenti"],
            "under_discussion",
            endorsed_by=["andrea.poggi", "irene.stagni"],
            comments=[
                ("marco.zanotti", "Chiediamo di accompagnare la data con un accordo sugli orari del personale."),
                ("luca.cavina", "D'accordo: lo inseriamo nella versione che porteremo alla Regione."),
            ],
            revised_body="Le associazioni del commercio propongono che i saldi invernali comincino **il primo "
            "sabato di gennaio** in tutti i comuni della Città metropolitana, con un accordo sugli orari "
            "del personale nelle giornate festive.",
        ),
        DemoProposal(
            "Bando per i Distretti del commercio nelle Unioni dei Comuni",
            "Candidature coordinate delle Unioni al bando regionale.",
            "Le Unioni propongono una regia metropolitana delle candidature, per non disperdere le risorse.",
            "irene.stagni",
            ["unione-appennino"],
            "submitted",
            endorsed_by=["luca.cavina"],
        ),
        DemoProposal(
            "Promozione turistica dell'Appennino nella stagione invernale",
            "Un calendario comune di eventi e una campagna metropolitana.",
            "## Obiettivo\n\nBozza in preparazione con gli operatori della montagna.\n\n"
            "## Azioni\n\n- un calendario comune degli eventi invernali\n",
            "giorgio.bernardi",
            ["unione-reno-galliera", "ascom"],
            edits=[
                (
                    "giorgio.bernardi",
                    "Bozza in preparazione con gli operatori della montagna.",
                    "Portare in Appennino, da dicembre a marzo, i visitatori della città e i turisti di "
                    "passaggio a Bologna, con un'offerta costruita insieme agli operatori della montagna.",
                ),
                (
                    "irene.stagni",
                    "- un calendario comune degli eventi invernali",
                    "- un calendario comune degli eventi invernali\n"
                    "- navette nei fine settimana dalle stazioni della pianura",
                ),
                (
                    "luca.cavina",
                    "- navette nei fine settimana dalle stazioni della pianura",
                    "- navette nei fine settimana dalle stazioni della pianura\n"
                    "- **vetrine dell'Appennino** nei negozi del centro di Bologna",
                ),
            ],
        ),
    ],
    "sicurezza-lavoro": [
        DemoProposal(
            "Pause e orari nei cantieri nelle giornate di caldo estremo",
            "Indicazioni comuni per imprese e lavoratori quando scatta l'allerta caldo.",
            "Sospensione delle lavorazioni più faticose dalle 12.30 alle 16 nei giorni di allerta, acqua e "
            "zone d'ombra in ogni cantiere, informazione ai lavoratori stranieri nella loro lingua.",
            "marco.zanotti",
            ["cisl", "uil"],
            "approved",
            outcome="Approvata dal tavolo: diventa l'allegato tecnico del protocollo per l'estate.",
            endorsed_by=["alessandro.nanni", "anna.bonfiglioli"],
        ),
        DemoProposal(
            "Patente a crediti per tutte le imprese in subappalto",
            "Estendere i controlli a ogni livello della catena degli appalti.",
            "Proposta di chiedere la patente a crediti a ogni impresa in subappalto nei cantieri pubblici.",
            "davide.tugnoli",
            status="rejected",
            outcome="Non accolta: la materia è di competenza nazionale; il tavolo ne farà oggetto di una "
            "lettera al Ministero.",
        ),
        DemoProposal(
            "Formazione sulla sicurezza per i lavoratori stagionali",
            "Un percorso breve e comune prima del primo giorno di lavoro.",
            "I lavoratori stagionali dell'agricoltura e del turismo ricevono una formazione di base "
            "sulla sicurezza prima di cominciare.\n",
            "francesca.gamberini",
            ["cgil", "uil"],
            edits=[
                (
                    "marco.zanotti",
                    "prima di cominciare.",
                    "prima di cominciare, **nella loro lingua** e retribuita come orario di lavoro.",
                ),
                (
                    "davide.tugnoli",
                    "retribuita come orario di lavoro.",
                    "retribuita come orario di lavoro.\n\nL'attestato vale per tutte le imprese "
                    "del territorio metropolitano nella stessa stagione.",
                ),
                (
                    "francesca.gamberini",
                    "I lavoratori stagionali dell'agricoltura e del turismo ricevono",
                    "Proponiamo che i lavoratori stagionali dell'agricoltura e del turismo ricevano",
                ),
            ],
        ),
    ],
    "inclusione": [
        DemoProposal(
            "Punteggio premiale per le aziende iscritte all'Albo",
            "Un vantaggio negli appalti dei comuni per le aziende inclusive.",
            "Le cooperative propongono un punteggio premiale nei bandi comunali per le aziende iscritte "
            "all'Albo metropolitano delle aziende inclusive.",
            "valentina.draghetti",
            ["legacoop"],
            "submitted",
            endorsed_by=["martina.pirazzoli"],
            comments=[("lucia.montanari", "Serve un parere dell'ufficio appalti sulla compatibilità con il codice.")],
        ),
        DemoProposal(
            "Sportello unico per i tirocini di inclusione",
            "Un solo punto di contatto per imprese e servizi sociali.",
            "Proposta superata dal nuovo accordo con i centri per l'impiego.",
            "matteo.guidi",
            status="withdrawn",
        ),
    ],
    "salvaguardia": [
        DemoProposal(
            "Impegni occupazionali nell'intesa per il polo logistico",
            "Contratti, orari e appalti per i lavoratori del nuovo polo all'Interporto.",
            "Le organizzazioni sindacali propongono che l'intesa preveda il contratto nazionale della "
            "logistica per tutti, il divieto di appalti a cooperative spurie e la precedenza nelle "
            "assunzioni ai lavoratori della Meccanica Savena.",
            "marco.zanotti",
            ["cisl", "uil"],
            "under_discussion",
            endorsed_by=["nicola.serra"],
        ),
    ],
}
