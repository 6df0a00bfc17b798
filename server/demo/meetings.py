"""Demo meetings: each table's past, current and upcoming meetings, their agendas and who was present.

Past meetings were opened and closed by their chair, each discussed item with the organisations
that spoke and for how long; today's meeting of the commerce and tourism table is in progress
(check-in open, an item under discussion, one organisation speaking and others waiting); the
tables' quorum is half of their member organisations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaItem, AgendaStatus, Meeting, Speaker, Table
from server.db.types import utcnow
from server.demo.world import DemoWorld
from server.domain import agenda, meeting_life, meetings, quorum, speakers


@dataclass(frozen=True)
class Item:
    title: str
    description: str = ""
    presenter: str | None = None
    minutes: int | None = None
    status: str = "pending"
    # Who spoke on it (organisation key, seconds), in order; on the item under discussion today,
    # the last one is still speaking and `waiting` ask for the floor (a leading "!" for a point of order).
    spoke: tuple[tuple[str, int], ...] = ()
    waiting: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoMeeting:
    title: str
    days_from_today: int
    hour: str
    place: str
    items: list[Item]
    online_url: str = ""
    # email local part of the delegates present, by organisation key (past meetings only)
    present: dict[str, str] = field(default_factory=dict)


async def seed(session: AsyncSession, world: DemoWorld) -> None:
    """The meetings of the tables being created, called by their secretary and chaired by their chair."""
    for slug, table in world.tables.items():
        await quorum.set_quorum(session, table, quorum.QuorumRule(percent=50), actor_id=None)
        for demo_meeting in MEETINGS.get(slug, []):
            await _meeting(session, world, table, demo_meeting)


async def _meeting(session: AsyncSession, world: DemoWorld, table: Table, demo_meeting: DemoMeeting) -> None:
    demo = world.seats(table.slug)
    secretary, chair = world.users[demo.secretary].id, world.users[demo.chair].id
    day = (world.today + timedelta(days=demo_meeting.days_from_today)).date()
    values = meetings.parse_meeting(
        title=demo_meeting.title,
        day=day.isoformat(),
        hour=demo_meeting.hour,
        place=demo_meeting.place,
        online_url=demo_meeting.online_url,
    )
    meeting = await meetings.create_meeting(session, table, values, actor_id=secretary)
    added = []
    for item in demo_meeting.items:
        presenter = str(world.users[item.presenter].id) if item.presenter else ""
        item_values = agenda.parse_item(
            title=item.title, description=item.description, presenter=presenter, planned_minutes=str(item.minutes or "")
        )
        added.append((await agenda.add_item(session, table, meeting.id, item_values, actor_id=secretary), item))
    if demo_meeting.present:
        marks = {world.organisations[key].id: (True, names) for key, names in demo_meeting.present.items()}
        await meetings.record_attendance(session, table, meeting.id, marks, version=0, actor_id=secretary)
    ran = any(item.status != "pending" for item in demo_meeting.items)
    if not ran:
        return
    await meeting_life.open_meeting(session, table, meeting.id, actor_id=chair)
    # The items in the order a chair takes them: what was discussed, then what is being discussed.
    for status in ("done", "deferred", "current"):
        for record, item in added:
            if item.status != status:
                continue
            if status != "deferred":
                await _set(session, table, meeting.id, record, AgendaStatus.current, chair)
                await _speak(session, world, table, meeting.id, record, item, chair)
            if status != "current":
                await _set(session, table, meeting.id, record, AgendaStatus(status), chair)
    past = demo_meeting.days_from_today < 0
    if past:
        await meeting_life.close_meeting(session, table, meeting.id, actor_id=chair)
    else:
        await meeting_life.set_check_in(session, table, meeting.id, True, actor_id=chair)
    await _clocks(session, meeting, [(record, item) for record, item in added if item.status != "pending"], past)


async def _set(
    session: AsyncSession, table: Table, meeting_id: int, record: AgendaItem, status: AgendaStatus, chair: int
) -> None:
    await agenda.set_status(session, table, meeting_id, record.id, status, version=record.version, actor_id=chair)


async def _speak(
    session: AsyncSession, world: DemoWorld, table: Table, meeting_id: int, record: AgendaItem, item: Item, chair: int
) -> None:
    """The chair gives the floor to each organisation in turn; today's last one is still speaking."""
    for index, (key, _seconds) in enumerate(item.spoke):
        speaker = await speakers.add(session, table, meeting_id, record.id, world.organisations[key].id, actor_id=chair)
        await speakers.start(session, table, meeting_id, speaker.id, actor_id=chair)
        if item.status != "current" or index < len(item.spoke) - 1:
            await speakers.stop(session, table, meeting_id, speaker.id, actor_id=chair)
    for key in item.waiting:
        organisation = world.organisations[key.lstrip("!")]
        await speakers.add(
            session, table, meeting_id, record.id, organisation.id, actor_id=chair, point_of_order=key.startswith("!")
        )


async def _clocks(session: AsyncSession, meeting: Meeting, items: list[tuple[AgendaItem, Item]], past: bool) -> None:
    """The times the meeting would have taken, written over those of this run (which took no time):
    a past meeting from its start; today's as if opened forty minutes ago."""
    now = utcnow()
    start: datetime = meeting.starts_at if past else now - timedelta(minutes=40)
    moment = start + timedelta(minutes=5)
    for record, item in items:
        if item.status == "deferred":
            continue
        if item.status == "current":
            spoken = sum(seconds for _key, seconds in item.spoke[:-1])
            began = now - timedelta(seconds=spoken + 150)
            await session.execute(
                update(AgendaItem)
                .where(AgendaItem.id == record.id)
                .values(discussion_started_at=began, discussed_seconds=0)
            )
            moment = began + timedelta(seconds=60)
        else:
            began = moment
        for speaker_id, seconds in await _speeches(session, record.id, item):
            ended = None if item.status == "current" and seconds is None else moment + timedelta(seconds=seconds or 0)
            await session.execute(
                update(Speaker)
                .where(Speaker.id == speaker_id)
                .values(asked_at=moment - timedelta(minutes=1), started_at=moment, ended_at=ended, seconds=seconds)
            )
            moment = ended or moment
        if item.status != "current":
            discussed = int((moment - began).total_seconds()) + 120
            await session.execute(
                update(AgendaItem).where(AgendaItem.id == record.id).values(discussed_seconds=discussed)
            )
            moment += timedelta(seconds=120)
    closed = moment + timedelta(minutes=5) if past else None
    await session.execute(update(Meeting).where(Meeting.id == meeting.id).values(opened_at=start, closed_at=closed))


async def _speeches(session: AsyncSession, item_id: int, item: Item) -> list[tuple[int, int | None]]:
    """The item's speeches in order, each with the seconds it took (None: still speaking)."""
    from sqlalchemy import select

    ids = (
        await session.scalars(
            select(Speaker.id)
            .where(Speaker.item_id == item_id, Speaker.started_at.is_not(None))
            .order_by(Speaker.started_at, Speaker.id)
        )
    ).all()
    seconds: list[int | None] = [s for _key, s in item.spoke]
    if item.status == "current" and seconds:
        seconds[-1] = None
    return list(zip(ids, seconds, strict=True))


PALAZZO = "Palazzo Malvezzi, via Zamboni 13, Bologna – Sala del Consiglio"

MEETINGS: dict[str, list[DemoMeeting]] = {
    "commercio-turismo": [
        DemoMeeting(
            title="Bilancio della stagione turistica",
            days_from_today=-48,
            hour="15:00",
            place=PALAZZO,
            items=[
                Item(
                    "Dati della stagione estiva nelle località dell'Appennino",
                    "Presenze e pernottamenti a confronto con il 2025, a cura dell'Unione dell'Appennino.",
                    "giorgio.bernardi",
                    30,
                    "done",
                    spoke=(("unione-appennino", 540), ("ascom", 170), ("cgil", 195), ("circondario-imolese", 120)),
                ),
                Item(
                    "Tassa di soggiorno e promozione turistica metropolitana",
                    "Proposta di destinare una quota del gettito a campagne comuni tra i Comuni.",
                    "sara.monti",
                    25,
                    "done",
                    spoke=(("confesercenti", 240), ("cna", 150), ("cisl", 210)),
                ),
                Item("Aperture domenicali dei negozi nei centri storici", "", "luca.cavina", 20, "deferred"),
            ],
            present={
                "cm": "Giulia Marchetti, Paolo Ferri",
                "ascom": "Luca Cavina",
                "confesercenti": "Sara Monti",
                "cna": "Andrea Poggi",
                "cgil": "Marco Zanotti",
                "cisl": "Francesca Gamberini",
                "unione-appennino": "Giorgio Bernardi",
                "circondario-imolese": "Simone Ricci",
            },
        ),
        DemoMeeting(
            title="Saldi, Distretti del commercio e negozi di vicinato",
            days_from_today=0,
            hour="15:00",
            place=PALAZZO,
            online_url="https://videoconferenza.tavoli.example/commercio-turismo",
            items=[
                Item(
                    "Approvazione del verbale della seduta precedente",
                    "",
                    "paolo.ferri",
                    5,
                    "done",
                    spoke=(("cm", 60),),
                ),
                Item(
                    "Saldi invernali e aperture festive",
                    "Calendario condiviso dei **saldi** e delle aperture nelle festività, con attenzione "
                    "agli orari di lavoro del personale.",
                    "luca.cavina",
                    30,
                    "current",
                    spoke=(("ascom", 420), ("cgil", 185), ("confesercenti", 0)),
                    waiting=("cisl", "!uil", "cna"),
                ),
                Item(
                    "Distretti del commercio: bando regionale e candidature delle Unioni",
                    "Stato delle candidature e supporto della Città metropolitana alla progettazione.",
                    "irene.stagni",
                    30,
                ),
                Item(
                    "Commercio di vicinato nei centri dell'Appennino",
                    "Misure per i negozi di prossimità nei comuni montani: botteghe multiservizio e "
                    "semplificazioni SUAP.",
                    "giorgio.bernardi",
                    20,
                ),
                Item("Varie ed eventuali", minutes=10),
            ],
            present={
                "cm": "Giulia Marchetti, Paolo Ferri",
                "ascom": "Luca Cavina",
                "confesercenti": "Sara Monti",
                "cna": "Andrea Poggi",
                "confartigianato": "Roberta Selva",
                "cgil": "Marco Zanotti",
                "cisl": "Francesca Gamberini",
                "uil": "Davide Tugnoli",
                "unione-reno-galliera": "Irene Stagni",
            },
        ),
        DemoMeeting(
            title="Programma di lavoro 2027",
            days_from_today=63,
            hour="10:00",
            place=PALAZZO,
            items=[
                Item("Programma di lavoro del tavolo per il 2027", "", "giulia.marchetti", 40),
                Item(
                    "Aperture domenicali dei negozi nei centri storici",
                    "Punto rinviato dalla seduta sul bilancio della stagione turistica.",
                    "luca.cavina",
                    30,
                ),
            ],
        ),
    ],
    "sicurezza-lavoro": [
        DemoMeeting(
            title="Caldo estremo e cantieri",
            days_from_today=-75,
            hour="09:30",
            place=PALAZZO,
            items=[
                Item(
                    "Ordinanze sul caldo estremo: applicazione nei cantieri e in agricoltura",
                    "Resoconto dei controlli estivi e delle pause nelle ore più calde.",
                    "anna.bonfiglioli",
                    30,
                    "done",
                ),
                Item("Infortuni in itinere: dati 2025", "", "tommaso.vitali", 20, "done"),
            ],
            present={
                "cm": "Elena Bassi, Chiara Lolli",
                "cgil": "Marco Zanotti",
                "cisl": "Francesca Gamberini",
                "uil": "Davide Tugnoli",
                "ausl": "Anna Bonfiglioli",
                "inail": "Tommaso Vitali",
                "confindustria": "Alessandro Nanni",
            },
        ),
        DemoMeeting(
            title="Appalti e formazione",
            days_from_today=16,
            hour="09:30",
            place=PALAZZO,
            items=[
                Item(
                    "Controlli negli appalti e nei subappalti",
                    "Raccordo con il **Protocollo appalti**: verifiche congiunte nei cantieri pubblici.",
                    "federica.mazza",
                    30,
                ),
                Item(
                    "Formazione dei rappresentanti dei lavoratori per la sicurezza (RLS)",
                    "Calendario dei corsi 2027 proposto dalle organizzazioni sindacali.",
                    "marco.zanotti",
                    25,
                ),
                Item(
                    "Bilancio dei protocolli di sicurezza adottati dalle imprese dopo il 2020",
                    "",
                    "andrea.poggi",
                    20,
                ),
            ],
        ),
    ],
    "inclusione": [
        DemoMeeting(
            title="L'Albo delle aziende inclusive",
            days_from_today=-34,
            hour="14:30",
            place="Sede della CTSS, via Castiglione 29, Bologna",
            items=[
                Item(
                    "Criteri di iscrizione all'Albo metropolitano delle aziende inclusive",
                    "",
                    "stefano.righi",
                    40,
                    "done",
                ),
                Item(
                    "Insieme per il lavoro: oltre mille inserimenti in quattro anni",
                    "Presentazione dei risultati e dei nuovi destinatari: donne e giovani usciti dal lavoro "
                    "durante la pandemia.",
                    "don.carlo.venturi",
                    30,
                    "done",
                ),
            ],
            present={
                "cm": "Stefano Righi, Chiara Lolli",
                "comune": "Lucia Montanari",
                "arl": "Nicola Serra",
                "terzo-settore": "Martina Pirazzoli",
                "arcidiocesi": "Carlo Venturi",
                "legacoop": "Matteo Guidi",
                "unione-valli-reno": "Laura Fabbri",
            },
        ),
        DemoMeeting(
            title="Tirocini e rete dell'apprendimento permanente",
            days_from_today=42,
            hour="14:30",
            place="Sede della CTSS, via Castiglione 29, Bologna",
            online_url="https://videoconferenza.tavoli.example/inclusione",
            items=[
                Item("Prime iscrizioni all'Albo e campagna verso le imprese", "", "nicola.serra", 30),
                Item("Tirocini di inclusione nelle cooperative sociali", "", "valentina.draghetti", 25),
                Item("Raccordo con la Rete metropolitana dell'apprendimento permanente", "", "laura.fabbri", 20),
            ],
        ),
    ],
    "salvaguardia": [
        DemoMeeting(
            title="Crisi della Meccanica Savena (nome di fantasia)",
            days_from_today=-20,
            hour="11:00",
            place=PALAZZO,
            items=[
                Item(
                    "Piano industriale presentato dalla proprietà",
                    "La proprietà annuncia 80 esuberi su 230 addetti; le organizzazioni sindacali chiedono "
                    "il ritiro della procedura.",
                    "alessandro.nanni",
                    45,
                    "done",
                    spoke=(("confindustria", 600), ("cgil", 300), ("cisl", 240), ("uil", 200), ("cm", 180)),
                ),
                Item("Ammortizzatori sociali e ricollocazione", "", "nicola.serra", 30, "deferred"),
            ],
            present={
                "cm": "Giulia Marchetti, Paolo Ferri",
                "cgil": "Marco Zanotti",
                "cisl": "Francesca Gamberini",
                "uil": "Davide Tugnoli",
                "confindustria": "Alessandro Nanni",
                "arl": "Nicola Serra",
            },
        ),
        DemoMeeting(
            title="Intesa per la buona occupazione: nuovo polo logistico all'Interporto",
            days_from_today=9,
            hour="11:00",
            place=PALAZZO,
            items=[
                Item(
                    "Impegni dell'investitore su contratti, orari e appalti",
                    "Bozza di intesa: applicazione dei contratti nazionali anche negli appalti, clausola "
                    "sociale, formazione del personale assunto.",
                    "giulia.marchetti",
                    40,
                ),
                Item("Protocollo di sito dell'Interporto: aggiornamento", "", "marco.zanotti", 20),
                Item(
                    "Ammortizzatori sociali e ricollocazione dei lavoratori della Meccanica Savena",
                    "Punto rinviato dalla seduta precedente.",
                    "nicola.serra",
                    30,
                ),
            ],
        ),
    ],
}
