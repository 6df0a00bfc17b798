"""Demo action items: the work between meetings, in every state, some overdue, some decided in a meeting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import ActionStatus, AgendaItem, Meeting, Role, Table
from server.demo.world import DemoWorld
from server.domain import actions


@dataclass(frozen=True)
class DemoAction:
    title: str
    owner: str  # email local part; their organisation on the table is the one they act for
    due_in_days: int | None  # from today; negative: the due date has passed
    status: str = "open"
    description: str = ""
    notes: list[str] = field(default_factory=list)  # progress notes by the owner
    origin: str | None = None  # the title of the agenda item where it was decided


async def seed(session: AsyncSession, world: DemoWorld) -> None:
    """The action items of the tables being created (after their meetings, whose agenda items they come from)."""
    for slug, table in world.tables.items():
        await _actions(session, world, table, ACTIONS.get(slug, []))


async def _actions(session: AsyncSession, world: DemoWorld, table: Table, demo_actions: list[DemoAction]) -> None:
    """The table's action items, moved to their status by their owner (cancelled by the chair)."""
    demo = world.seats(table.slug)
    secretary, chair = world.users[demo.secretary].id, world.users[demo.chair].id
    items = {
        item.title: item.id
        for item in await session.scalars(
            select(AgendaItem).join(Meeting, Meeting.id == AgendaItem.meeting_id).where(Meeting.table_id == table.id)
        )
    }
    for demo_action in demo_actions:
        owner = world.users[demo_action.owner]
        due = (
            world.today.date() + timedelta(days=demo_action.due_in_days)
            if demo_action.due_in_days is not None
            else None
        )
        values = actions.parse_action(
            title=demo_action.title,
            description=demo_action.description,
            owner=str(owner.id),
            due_on=due.isoformat() if due else "",
        )
        origin = items.get(demo_action.origin) if demo_action.origin else None
        action = await actions.create_action(session, table, values, actor_id=secretary, origin_item_id=origin)
        mover = actions.Actor(owner.id, Role.member)
        for note in demo_action.notes:
            await actions.add_note(session, table, action.id, note, actor=mover)
        path = {"in_progress": ["in_progress"], "done": ["in_progress", "done"], "cancelled": ["cancelled"]}
        for status in path.get(demo_action.status, []):
            who = actions.Actor(chair, Role.chair) if status == "cancelled" else mover
            action = await actions.set_status(
                session, table, action.id, ActionStatus(status), version=action.version, actor=who
            )


# The work between meetings, in the tables' own words (written from the facts of the seed).
ACTIONS: dict[str, list[DemoAction]] = {
    "commercio-turismo": [
        DemoAction(
            "Raccogliere i dati sulle presenze turistiche dell'estate in Appennino",
            "giorgio.bernardi",
            -12,
            "in_progress",
            "Dati per comune e per tipo di struttura ricettiva, da confrontare con il 2025.",
            ["Ricevuti i dati di otto comuni su dodici; mancano quelli delle strutture extralberghiere."],
            origin="Dati della stagione estiva nelle località dell'Appennino",
        ),
        DemoAction(
            "Proposta condivisa sul calendario dei saldi invernali",
            "luca.cavina",
            -3,
            "open",
            "Una data di inizio comune per tutto il territorio metropolitano, da portare alla Regione.",
        ),
        DemoAction(
            "Censimento dei negozi sfitti nei centri storici delle Unioni",
            "irene.stagni",
            30,
            "in_progress",
            "Mappa dei locali vuoti da proporre per nuove aperture nei **Distretti del commercio**.",
            ["Avviato il censimento a Castel Maggiore e Argelato con la polizia locale."],
        ),
        DemoAction(
            "Nota sull'impatto delle aperture domenicali sui lavoratori del commercio",
            "marco.zanotti",
            45,
            "open",
        ),
        DemoAction(
            "Scheda sulla tassa di soggiorno e sulla promozione turistica metropolitana",
            "sara.monti",
            -30,
            "done",
            notes=["Scheda inviata alla segreteria e discussa con gli assessori al turismo."],
        ),
        DemoAction("Aggiornare l'elenco dei referenti SUAP delle Unioni", "simone.ricci", None, "cancelled"),
    ],
    "sicurezza-lavoro": [
        DemoAction(
            "Mappa dei cantieri esposti al caldo estremo per la prossima estate",
            "federica.mazza",
            -20,
            "open",
            "Elenco dei cantieri e delle aziende agricole da visitare in via prioritaria.",
            origin="Ordinanze sul caldo estremo: applicazione nei cantieri e in agricoltura",
        ),
        DemoAction(
            "Dati 2025 sugli infortuni in itinere per distretto",
            "tommaso.vitali",
            -40,
            "done",
            notes=["Dati consegnati e allegati al verbale della seduta."],
        ),
        DemoAction(
            "Calendario dei corsi per i rappresentanti dei lavoratori per la sicurezza",
            "francesca.gamberini",
            14,
            "in_progress",
        ),
        DemoAction("Schema di controllo congiunto negli appalti e nei subappalti", "anna.bonfiglioli", 25, "open"),
    ],
    "inclusione": [
        DemoAction(
            "Testo dei criteri di iscrizione all'Albo delle aziende inclusive",
            "lucia.montanari",
            -15,
            "done",
            notes=["Criteri approvati e pubblicati sul sito della Città metropolitana."],
            origin="Criteri di iscrizione all'Albo metropolitano delle aziende inclusive",
        ),
        DemoAction(
            "Campagna verso le imprese per le prime iscrizioni all'Albo",
            "valentina.draghetti",
            -2,
            "in_progress",
            "Incontri con le associazioni di impresa e una lettera alle aziende già coinvolte in "
            "*Insieme per il lavoro*.",
            ["Prima lettera inviata a 140 imprese."],
        ),
        DemoAction("Elenco dei tirocini di inclusione disponibili nelle cooperative", "matteo.guidi", 35, "open"),
    ],
    "salvaguardia": [
        DemoAction(
            "Richiesta alla proprietà della Meccanica Savena del piano industriale completo",
            "marco.zanotti",
            -8,
            "open",
            origin="Piano industriale presentato dalla proprietà",
        ),
        DemoAction(
            "Verifica degli ammortizzatori sociali disponibili per i lavoratori",
            "nicola.serra",
            7,
            "in_progress",
            notes=["Avviato il confronto con l'INPS sulla cassa integrazione straordinaria."],
        ),
        DemoAction(
            "Bozza degli impegni dell'investitore per l'intesa sul polo logistico",
            "alessandro.nanni",
            5,
            "open",
            "Contratti applicati, orari, appalti e subappalti, assunzioni dal territorio.",
        ),
    ],
}
