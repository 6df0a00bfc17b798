"""Demo decisions: what each table decided on the items of its past meetings, and where each organisation
present stood, entered by the secretary afterwards with the delegate's name; and on today's meeting of
the commerce and tourism table, a roll call the chair opened and closed, the delegates recording their
organisation's position from their own devices, one of them entered by the secretary once it closed.

Runs after the meetings (their agendas, attendance and clocks) and the proposals (a decision names
the proposal it concerns, and the proposal is linked to its item).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaItem, Decision, Meeting, Position, Proposal, Role, Table
from server.demo.world import DemoWorld
from server.domain import decisions, proposals
from server.domain.actions import Actor


@dataclass(frozen=True)
class Voice:
    """An organisation's position: `who` is the delegate's email local part (during a roll call, they
    record it themselves) or, entered by the secretary, the organisation's key and `delegate` its name."""

    who: str
    kind: str
    reservation: str = ""
    delegate: str = ""


@dataclass(frozen=True)
class DemoDecision:
    meeting: str  # the meeting's title
    item: str  # the agenda item's title
    kind: str  # DecisionKind's value
    text: str
    proposal: str = ""  # the title of the proposal it concerns
    roll_call: tuple[Voice, ...] = ()  # recorded by the delegates while the chair keeps the roll call open
    afterwards: tuple[Voice, ...] = ()  # entered by the secretary, naming the delegate


async def seed(session: AsyncSession, world: DemoWorld) -> None:
    """The decisions of the tables being created, recorded by their secretary."""
    for slug, table in world.tables.items():
        for demo_decision in DECISIONS.get(slug, []):
            await _decision(session, world, table, demo_decision)


async def _decision(session: AsyncSession, world: DemoWorld, table: Table, demo: DemoDecision) -> None:
    seats = world.seats(table.slug)
    chair = Actor(world.users[seats.chair].id, Role.chair)
    secretary = Actor(world.users[seats.secretary].id, Role.secretary)
    found = (
        await session.execute(
            select(Meeting, AgendaItem)
            .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
            .where(
                Meeting.table_id == table.id,
                Meeting.title == demo.meeting,
                AgendaItem.title == demo.item,
                AgendaItem.removed_at.is_(None),
            )
        )
    ).first()
    if found is None:
        raise ValueError(f"the demo decision names {demo.item!r} of {demo.meeting!r}, which {table.slug} lacks")
    meeting, item = found
    proposal_id = None
    if demo.proposal:
        proposal_id = await session.scalar(
            select(Proposal.id).where(Proposal.table_id == table.id, Proposal.title == demo.proposal)
        )
        if proposal_id is not None:
            await proposals.link_item(session, table, proposal_id, item.id, actor=secretary)
    decision = await decisions.record_decision(
        session, table, item.id, kind=demo.kind, text=demo.text, proposal_id=proposal_id, actor=secretary
    )
    if demo.roll_call:
        await decisions.open_roll_call(session, table, decision.id, actor=chair)
        for voice in demo.roll_call:
            role = Role.chair if voice.who == seats.chair else Role.member
            delegate = Actor(world.users[voice.who].id, role)
            await decisions.record_position(
                session,
                table,
                decision.id,
                organisation_id=world.home(voice.who).id,
                kind=voice.kind,
                reservation=voice.reservation,
                actor=delegate,
            )
        await decisions.close_roll_call(session, table, decision.id, actor=chair)
    for voice in demo.afterwards:
        await decisions.record_position(
            session,
            table,
            decision.id,
            organisation_id=world.organisations[voice.who].id,
            kind=voice.kind,
            reservation=voice.reservation,
            delegate=voice.delegate,
            actor=secretary,
        )
    if meeting.closed_at is not None:  # a past meeting: decided during it, positions entered the day after
        await session.execute(
            update(Decision)
            .where(Decision.id == decision.id)
            .values(created_at=meeting.closed_at - timedelta(minutes=30))
        )
        await session.execute(
            update(Position)
            .where(Position.decision_id == decision.id)
            .values(recorded_at=meeting.closed_at + timedelta(days=1, hours=1))
        )


SEASON = "Bilancio della stagione turistica"

DECISIONS: dict[str, list[DemoDecision]] = {
    "commercio-turismo": [
        DemoDecision(
            SEASON,
            "Dati della stagione estiva nelle località dell'Appennino",
            "information",
            "Il tavolo prende atto dei dati presentati dall'Unione dei Comuni dell'Appennino Bolognese: presenze "
            "in crescita nei comuni del crinale, pernottamenti in calo nelle strutture extralberghiere. I dati "
            "completi, comune per comune, saranno raccolti per la prossima seduta.",
        ),
        DemoDecision(
            SEASON,
            "Tassa di soggiorno e promozione turistica metropolitana",
            "agreed_reserved",
            "Il tavolo condivide la proposta di destinare una quota del gettito dell'**imposta di soggiorno** a "
            "campagne di promozione comuni tra i Comuni del territorio metropolitano.\n\n"
            "La Città metropolitana predispone una bozza di accordo da sottoporre alle Unioni dei Comuni entro "
            "la fine dell'anno.",
            afterwards=(
                Voice("cm", "favourable", delegate="Giulia Marchetti"),
                Voice("ascom", "favourable", delegate="Luca Cavina"),
                Voice("confesercenti", "favourable", delegate="Sara Monti"),
                Voice(
                    "cna",
                    "reservation",
                    "Una parte delle risorse vada alla promozione delle botteghe artigiane dei centri storici.",
                    delegate="Andrea Poggi",
                ),
                Voice(
                    "cgil",
                    "reservation",
                    "Le campagne non si traducano in nuove aperture festive senza un accordo sugli orari del "
                    "personale.",
                    delegate="Marco Zanotti",
                ),
                Voice("cisl", "favourable", delegate="Francesca Gamberini"),
                Voice("unione-appennino", "favourable", delegate="Giorgio Bernardi"),
                Voice("circondario-imolese", "abstains", delegate="Simone Ricci"),
            ),
        ),
        DemoDecision(
            SEASON,
            "Aperture domenicali dei negozi nei centri storici",
            "postponed",
            "Il punto è rinviato alla seduta sul programma di lavoro 2027, su richiesta delle organizzazioni "
            "sindacali, per raccogliere prima i dati sugli orari del personale.",
        ),
        DemoDecision(
            "Saldi, Distretti del commercio e negozi di vicinato",
            "Approvazione del verbale della seduta precedente",
            "agreed",
            "Il verbale della seduta sul bilancio della stagione turistica è approvato senza modifiche.",
            roll_call=(
                Voice("giulia.marchetti", "favourable"),
                Voice("luca.cavina", "favourable"),
                Voice("sara.monti", "favourable"),
                Voice("andrea.poggi", "favourable"),
                Voice("marco.zanotti", "favourable"),
                Voice("francesca.gamberini", "favourable"),
                Voice("roberta.selva", "abstains"),
                Voice("irene.stagni", "abstains"),
            ),
            afterwards=(Voice("uil", "favourable", delegate="Davide Tugnoli"),),
        ),
    ],
    "sicurezza-lavoro": [
        DemoDecision(
            "Caldo estremo e cantieri",
            "Ordinanze sul caldo estremo: applicazione nei cantieri e in agricoltura",
            "agreed_reserved",
            "Il tavolo approva le indicazioni comuni per le giornate di allerta caldo: sospensione delle "
            "lavorazioni più faticose dalle 12.30 alle 16, acqua e zone d'ombra in ogni cantiere, informazione "
            "ai lavoratori stranieri nella loro lingua.\n\n"
            "Le indicazioni diventano l'allegato tecnico del protocollo per l'estate.",
            proposal="Pause e orari nei cantieri nelle giornate di caldo estremo",
            afterwards=(
                Voice("cm", "favourable", delegate="Elena Bassi"),
                Voice("cgil", "favourable", delegate="Marco Zanotti"),
                Voice("cisl", "favourable", delegate="Francesca Gamberini"),
                Voice("uil", "favourable", delegate="Davide Tugnoli"),
                Voice("ausl", "favourable", delegate="Anna Bonfiglioli"),
                Voice("inail", "favourable", delegate="Tommaso Vitali"),
                Voice(
                    "confindustria",
                    "reservation",
                    "Per le lavorazioni urgenti nei cantieri stradali servono deroghe, da concordare caso per "
                    "caso con l'AUSL.",
                    delegate="Alessandro Nanni",
                ),
            ),
        ),
        DemoDecision(
            "Caldo estremo e cantieri",
            "Infortuni in itinere: dati 2025",
            "information",
            "Il tavolo prende atto dei dati INAIL sugli infortuni in itinere del 2025 e chiede per la prossima "
            "seduta un approfondimento sugli incidenti in bicicletta e in monopattino.",
        ),
    ],
    "inclusione": [
        DemoDecision(
            "L'Albo delle aziende inclusive",
            "Criteri di iscrizione all'Albo metropolitano delle aziende inclusive",
            "agreed",
            "Il tavolo approva i criteri di iscrizione all'**Albo metropolitano delle aziende inclusive**: almeno "
            "un inserimento lavorativo di una persona in condizione di fragilità nell'ultimo anno, un tutor "
            "aziendale formato, il rispetto dei contratti collettivi.",
            afterwards=(
                Voice("cm", "favourable", delegate="Stefano Righi"),
                Voice("comune", "favourable", delegate="Lucia Montanari"),
                Voice("arl", "favourable", delegate="Nicola Serra"),
                Voice(
                    "terzo-settore",
                    "reservation",
                    "Le cooperative sociali di inserimento lavorativo siano iscritte all'Albo d'ufficio.",
                    delegate="Martina Pirazzoli",
                ),
                Voice("arcidiocesi", "favourable", delegate="Carlo Venturi"),
                Voice("legacoop", "favourable", delegate="Matteo Guidi"),
                Voice("unione-valli-reno", "abstains", delegate="Laura Fabbri"),
            ),
        ),
        DemoDecision(
            "L'Albo delle aziende inclusive",
            "Insieme per il lavoro: oltre mille inserimenti in quattro anni",
            "information",
            "Il tavolo prende atto dei risultati di *Insieme per il lavoro*, oltre mille inserimenti in quattro "
            "anni, e della sua estensione a donne e giovani usciti dal lavoro durante la pandemia.",
        ),
    ],
    "salvaguardia": [
        DemoDecision(
            "Crisi della Meccanica Savena (nome di fantasia)",
            "Piano industriale presentato dalla proprietà",
            "agreed",
            "Il tavolo chiede alla proprietà di ritirare la procedura per 80 esuberi e di presentare entro "
            "trenta giorni un piano che salvaguardi l'occupazione, anche con gli ammortizzatori sociali. La "
            "Città metropolitana convoca l'azienda e le organizzazioni sindacali entro due settimane.",
            afterwards=(
                Voice("cm", "favourable", delegate="Giulia Marchetti"),
                Voice("cgil", "favourable", delegate="Marco Zanotti"),
                Voice("cisl", "favourable", delegate="Francesca Gamberini"),
                Voice("uil", "favourable", delegate="Davide Tugnoli"),
                Voice("arl", "favourable", delegate="Nicola Serra"),
                Voice("confindustria", "abstains", delegate="Alessandro Nanni"),
            ),
        ),
        DemoDecision(
            "Crisi della Meccanica Savena (nome di fantasia)",
            "Ammortizzatori sociali e ricollocazione",
            "postponed",
            "Rinviato alla prossima seduta, in attesa della risposta della proprietà sul piano industriale.",
        ),
    ],
}
