"""What every area of the demo stands on: the organisations, the people, the tables and their seats.

Organisations and subjects are those of the Città metropolitana di Bologna's tables; the people,
companies and figures are invented. Written in Italian, the language of the tables.

An area adds its own demo content in a module of its own, `server/demo/<area>.py`, with its data per
table slug and `async def seed(session, world)`; `load_demo` calls the seeders it is given, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Organisation, Role, Table, User
from server.domain import accounts, tables

DOMAIN = "tavoli.example"  # RFC 2606: never a real mailbox

ORGANISATIONS = {
    "cm": "Città metropolitana di Bologna",
    "comune": "Comune di Bologna",
    "cgil": "CGIL Bologna",
    "cisl": "CISL Area Metropolitana Bolognese",
    "uil": "UIL Emilia-Romagna e Bologna",
    "ascom": "Confcommercio Ascom Bologna",
    "confesercenti": "Confesercenti Area Metropolitana Bologna",
    "cna": "CNA Bologna",
    "confartigianato": "Confartigianato Imprese Bologna Metropolitana",
    "legacoop": "Legacoop Bologna",
    "confcooperative": "Confcooperative Bologna",
    "confindustria": "Confindustria Emilia Area Centro",
    "unione-reno-galliera": "Unione Reno Galliera",
    "unione-appennino": "Unione dei Comuni dell'Appennino Bolognese",
    "unione-valli-reno": "Unione dei Comuni Valli del Reno, Lavino e Samoggia",
    "circondario-imolese": "Nuovo Circondario Imolese",
    "ausl": "AUSL di Bologna",
    "inail": "INAIL Direzione territoriale di Bologna",
    "itl": "Ispettorato territoriale del lavoro di Bologna",
    "arl": "Agenzia regionale per il lavoro – Centri per l'impiego",
    "terzo-settore": "Forum metropolitano del Terzo settore",
    "arcidiocesi": "Fondazione San Petronio – Arcidiocesi di Bologna",
}

# email local part -> (name, home organisation)
PEOPLE = {
    "giulia.marchetti": ("Giulia Marchetti", "cm"),
    "paolo.ferri": ("Paolo Ferri", "cm"),
    "elena.bassi": ("Elena Bassi", "cm"),
    "stefano.righi": ("Stefano Righi", "cm"),
    "chiara.lolli": ("Chiara Lolli", "cm"),
    "marco.zanotti": ("Marco Zanotti", "cgil"),
    "francesca.gamberini": ("Francesca Gamberini", "cisl"),
    "davide.tugnoli": ("Davide Tugnoli", "uil"),
    "luca.cavina": ("Luca Cavina", "ascom"),
    "sara.monti": ("Sara Monti", "confesercenti"),
    "andrea.poggi": ("Andrea Poggi", "cna"),
    "roberta.selva": ("Roberta Selva", "confartigianato"),
    "matteo.guidi": ("Matteo Guidi", "legacoop"),
    "valentina.draghetti": ("Valentina Draghetti", "confcooperative"),
    "alessandro.nanni": ("Alessandro Nanni", "confindustria"),
    "irene.stagni": ("Irene Stagni", "unione-reno-galliera"),
    "giorgio.bernardi": ("Giorgio Bernardi", "unione-appennino"),
    "laura.fabbri": ("Laura Fabbri", "unione-valli-reno"),
    "simone.ricci": ("Simone Ricci", "circondario-imolese"),
    "anna.bonfiglioli": ("Anna Bonfiglioli", "ausl"),
    "tommaso.vitali": ("Tommaso Vitali", "inail"),
    "federica.mazza": ("Federica Mazza", "itl"),
    "nicola.serra": ("Nicola Serra", "arl"),
    "martina.pirazzoli": ("Martina Pirazzoli", "terzo-settore"),
    "don.carlo.venturi": ("Carlo Venturi", "arcidiocesi"),
    "lucia.montanari": ("Lucia Montanari", "comune"),
    "osservatorio": ("Osservatorio sul lavoro (sola lettura)", "cm"),
}

ADMIN = ("amministrazione", "Segreteria generale – Amministrazione Tavoli", "cm")


@dataclass(frozen=True)
class DemoTable:
    slug: str
    name: str
    established: str
    purpose: str
    public: bool
    chair: str
    secretary: str
    members: list[str]
    observer: str


TABLES = [
    DemoTable(
        slug="commercio-turismo",
        name="Tavolo metropolitano per il commercio e le attività turistiche",
        established="Febbraio 2021",
        purpose=(
            "Luogo di coordinamento e di co-progettazione delle azioni che sostengono la **ripartenza delle "
            "imprese del commercio e del turismo**, i due settori più colpiti dalla crisi pandemica.\n\n"
            "Vi siedono tutte le parti sociali e le Unioni dei Comuni del territorio metropolitano. Il tavolo "
            "lavora anche sulla rete del commercio di vicinato e con il coordinamento degli Sportelli unici "
            "per le attività produttive (SUAP)."
        ),
        public=True,
        chair="giulia.marchetti",
        secretary="paolo.ferri",
        members=[
            "luca.cavina",
            "sara.monti",
            "andrea.poggi",
            "roberta.selva",
            "marco.zanotti",
            "francesca.gamberini",
            "davide.tugnoli",
            "irene.stagni",
            "giorgio.bernardi",
            "simone.ricci",
        ],
        observer="osservatorio",
    ),
    DemoTable(
        slug="sicurezza-lavoro",
        name="Tavolo metropolitano per la sicurezza sui luoghi di lavoro",
        established="Primavera 2020, dopo il lockdown",
        purpose=(
            "Nato per assistere il tessuto economico e produttivo nella delicata fase della **ripresa delle "
            "attività** e per sostenere le imprese nell'adozione dei protocolli di sicurezza contro la diffusione "
            "del virus negli ambienti di lavoro.\n\n"
            "Oggi il tavolo segue la prevenzione degli infortuni, la formazione e i controlli negli appalti, "
            "con l'AUSL, l'INAIL e l'Ispettorato del lavoro."
        ),
        public=False,
        chair="elena.bassi",
        secretary="chiara.lolli",
        members=[
            "marco.zanotti",
            "francesca.gamberini",
            "davide.tugnoli",
            "alessandro.nanni",
            "andrea.poggi",
            "matteo.guidi",
            "anna.bonfiglioli",
            "tommaso.vitali",
            "federica.mazza",
        ],
        observer="osservatorio",
    ),
    DemoTable(
        slug="inclusione",
        name="Tavolo metropolitano per l'inclusione socio-lavorativa",
        established="Nell'ambito della Conferenza territoriale sociale e sanitaria metropolitana (CTSS)",
        purpose=(
            "Luogo di raccordo e coordinamento per promuovere l'**inserimento lavorativo delle persone in "
            "condizione di fragilità**, a partire dall'Albo metropolitano delle aziende inclusive e in "
            "collegamento con la Rete metropolitana dell'apprendimento permanente.\n\n"
            "Collabora con il progetto *Insieme per il lavoro* di Comune, Città metropolitana e Arcidiocesi."
        ),
        public=True,
        chair="stefano.righi",
        secretary="chiara.lolli",
        members=[
            "lucia.montanari",
            "nicola.serra",
            "martina.pirazzoli",
            "don.carlo.venturi",
            "matteo.guidi",
            "valentina.draghetti",
            "anna.bonfiglioli",
            "laura.fabbri",
            "marco.zanotti",
        ],
        observer="osservatorio",
    ),
    DemoTable(
        slug="salvaguardia",
        name="Tavolo di Salvaguardia del patrimonio produttivo",
        established="Attivo da più mandati; dal 2020 anche con la sezione dedicata alla ripresa",
        purpose=(
            "Gestisce le **crisi e le trasformazioni aziendali** del territorio metropolitano per salvaguardare "
            "l'occupazione e il patrimonio produttivo.\n\n"
            "Con la sezione dedicata alla ripresa segue le riconversioni dopo la crisi economica e sociale "
            "post-pandemica, e prepara con i nuovi investitori le *Intese per la buona occupazione*."
        ),
        public=False,
        chair="giulia.marchetti",
        secretary="paolo.ferri",
        members=[
            "marco.zanotti",
            "francesca.gamberini",
            "davide.tugnoli",
            "alessandro.nanni",
            "andrea.poggi",
            "matteo.guidi",
            "nicola.serra",
            "irene.stagni",
        ],
        observer="osservatorio",
    ),
]


@dataclass
class DemoReport:
    """What `tavoli demo` did, and who can log in as what."""

    created_tables: list[str] = field(default_factory=list)
    kept_tables: list[str] = field(default_factory=list)
    admin: str = ""
    logins: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> role -> email


@dataclass
class DemoWorld:
    """What a seeder builds on: organisations and users by key, and the tables being created, by slug."""

    organisations: dict[str, Organisation]  # by key of ORGANISATIONS
    users: dict[str, User]  # by email local part (PEOPLE and the administrator)
    tables: dict[str, Table]  # the tables created in this transaction: the seeders fill these, and only these
    today: datetime
    report: DemoReport
    # The demo accounts' password: the demo's protocols are signed through the same check as the app's.
    password: str = ""

    def seats(self, slug: str) -> DemoTable:
        """Who chairs, keeps the minutes of, sits at and observes the table `slug`."""
        return TABLES_BY_SLUG[slug]

    def home(self, local: str) -> Organisation:
        """The organisation a person belongs to (and acts for on the tables)."""
        return self.organisations[PEOPLE[local][1]]


TABLES_BY_SLUG = {demo.slug: demo for demo in TABLES}


def email(local: str) -> str:
    return f"{local}@{DOMAIN}"


def logins(demo: DemoTable) -> dict[str, str]:
    """One login per role of the table, for the report."""
    return {
        "chair": email(demo.chair),
        "secretary": email(demo.secretary),
        "member": email(demo.members[0]),
        "observer": email(demo.observer),
    }


async def organisations(session: AsyncSession) -> dict[str, Organisation]:
    """The demo organisations, created when missing."""
    found = {}
    for slug, name in ORGANISATIONS.items():
        organisation = await session.scalar(select(Organisation).where(Organisation.slug == slug))
        found[slug] = organisation or await tables.create_organisation(session, name, slug=slug)
    return found


async def people(session: AsyncSession, organisations: dict[str, Organisation], password_hash: str) -> dict[str, User]:
    """The demo accounts (the administrator too), created when missing."""
    found = {}
    for local, (name, organisation) in {**PEOPLE, ADMIN[0]: (ADMIN[1], ADMIN[2])}.items():
        user = await session.scalar(select(User).where(User.email == email(local)))
        found[local] = user or await accounts.create_user(
            session,
            email=email(local),
            name=name,
            password_hash=password_hash,
            is_admin=local == ADMIN[0],
            organisation=organisations[organisation],
        )
    return found


async def create_table(session: AsyncSession, world: DemoWorld, demo: DemoTable) -> Table:
    """The table and its seats, set up by the administrator; observers sit for no organisation."""
    admin = world.users[ADMIN[0]].id
    table = await tables.create_table(
        session,
        slug=demo.slug,
        name=demo.name,
        purpose=demo.purpose,
        established=demo.established,
        is_public=demo.public,
        actor_id=admin,
    )
    seats = [
        (demo.chair, Role.chair),
        (demo.secretary, Role.secretary),
        *((member, Role.member) for member in demo.members),
        (demo.observer, Role.observer),
    ]
    for local, role in seats:
        organisation = None if role is Role.observer else world.home(local)
        await tables.add_member(session, table, world.users[local], role, organisation=organisation, actor_id=admin)
    return table
