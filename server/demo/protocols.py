"""Demo protocols: the *Protocollo appalti* in force with all its parties' signatures and its
commitments' action items, the site protocol of the Interporto open for signature with some parties
signed, and an *Intesa per la buona occupazione* in draft with a new investor as external party.

The protocols are those the Città metropolitana's mandate report names (Protocollo appalti, the site
protocols, the Intese per la buona occupazione); the company, its people and the clauses are
invented. Everything goes through the domain: the signatures are sealed by
`server.domain.signatures.sign` with the server's key (TAVOLI_SIGNING_KEY_FILE, made when missing)
after the same password check as in the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db.models import Organisation, Role, Table, User
from server.demo import qualified as demo_qualified
from server.demo.world import DOMAIN, DemoWorld
from server.domain import accounts, documents, protocol_keys, protocols, signatures
from server.domain.actions import Actor
from server.domain.protocol_annexes import add_annex
from server.domain.protocol_keys import ServerKey
from server.domain.protocol_parties import add_party, parse_party
from server.domain.tables import create_organisation


@dataclass(frozen=True)
class DemoParty:
    organisation: str  # key of ORGANISATIONS (a seat on the table), or an external organisation's name
    signatory: str  # email local part
    substitute: str = ""
    external: bool = False
    signs: bool = False  # signs in the demo


@dataclass(frozen=True)
class DemoProtocol:
    kind: str
    title: str
    text: str
    parties: list[DemoParty]
    status: str  # "draft", "open" or "in_force"
    started_days_ago: int = 0  # validity from (today minus); 0: no start date
    valid_years: int = 0  # validity until (start plus); 0: no end date
    annexes: list[tuple[str, bytes]] = field(default_factory=list)


# An external party's person: an account that reaches the Intesa only.
INVESTOR = ("Nordlog Italia S.r.l.", "marta.cenacchi", "Marta Cenacchi")


def _pdf(title: str) -> bytes:
    """A small valid PDF with one page naming the annex."""
    stream = f"BT /F1 14 Tf 72 770 Td ({title}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start)
    return bytes(out)


APPALTI = """# Protocollo appalti

Protocollo d'intesa per la legalità, la qualità del lavoro e la sicurezza negli appalti pubblici di
lavori, servizi e forniture nel territorio della Città metropolitana di Bologna.

## Premesse

Le parti firmatarie riconoscono negli appalti pubblici una leva per la qualità del lavoro: il
rispetto dei contratti collettivi sottoscritti dalle organizzazioni comparativamente più
rappresentative, la sicurezza nei cantieri e la trasparenza della filiera dei subappalti.

## Ambito

Il protocollo si applica agli appalti della Città metropolitana e dei Comuni che vi aderiscono, di
importo pari o superiore alle soglie indicate nell'allegato.

### Impegno — Città metropolitana di Bologna — entro {due_cm}

Inserire nei bandi tipo la clausola sociale e l'obbligo di applicare il contratto collettivo del
settore, e pubblicare ogni trimestre l'elenco dei subappalti autorizzati.

### Impegno — CGIL Bologna — entro {due_unions}

Segnalare al tavolo, con cadenza semestrale, le criticità rilevate nei cantieri sulle condizioni di
lavoro e sulla sicurezza, nel rispetto della riservatezza dei lavoratori coinvolti.

### Impegno — Confindustria Emilia Area Centro — entro {due_confindustria}

Promuovere presso le imprese associate la formazione dei preposti alla sicurezza prevista dal
protocollo, e riferire al tavolo il numero di persone formate.

## Durata

Il protocollo vale tre anni dalla firma dell'ultima parte e può essere rinnovato o integrato da un
addendum.
"""

INTERPORTO = """# Protocollo di sito per l'Interporto di Bologna

Protocollo di sito per la qualità del lavoro, la sicurezza e la mobilità delle persone che lavorano
nelle aziende insediate all'Interporto di Bologna (Bentivoglio e San Giorgio di Piano).

## Premesse

L'Interporto è uno dei principali poli logistici del Paese: vi lavorano migliaia di persone, molte
con contratti di appalto e di somministrazione. Le parti intendono garantire condizioni di lavoro
regolari lungo tutta la filiera e collegamenti adeguati con i turni.

### Impegno — Città metropolitana di Bologna — entro {due_cm}

Convocare ogni sei mesi il comitato di sito con le aziende insediate e presentare un rapporto sui
collegamenti del trasporto pubblico con i turni di lavoro.

### Impegno — Legacoop Bologna — entro {due_legacoop}

Promuovere presso le cooperative associate che operano nel sito l'applicazione dei contratti
collettivi di settore e la formazione sulla sicurezza dei carrellisti.

## Verifica

Il comitato di sito verifica ogni anno l'attuazione degli impegni e ne riferisce al tavolo.
"""

INTESA = """# Intesa per la buona occupazione — Polo logistico di Altedo

Intesa tra la Città metropolitana di Bologna, l'Unione Reno Galliera, le organizzazioni sindacali e
Nordlog Italia S.r.l. per il nuovo insediamento logistico nell'area produttiva di Altedo, in
coerenza con il Piano territoriale metropolitano (PTM).

## Premesse

L'investimento prevede a regime circa 250 addetti. Le parti definiscono impegni specifici sulla
qualità del lavoro, sulla formazione e sul reclutamento attraverso i Centri per l'impiego.

### Impegno — Nordlog Italia S.r.l. — entro {due_investor}

Applicare ai dipendenti diretti e a quelli delle imprese appaltatrici il contratto collettivo
nazionale della logistica, trasporto merci e spedizione, e riservare almeno il 60% delle nuove
assunzioni a tempo indeterminato.

### Impegno — Unione Reno Galliera — entro {due_union}

Attivare con l'Agenzia regionale per il lavoro un percorso di preselezione dedicato alle persone
residenti nei Comuni dell'Unione.

## Monitoraggio

Le parti si incontrano al Tavolo di salvaguardia ogni sei mesi per verificare l'attuazione
dell'intesa.
"""


def _catalogue(world: DemoWorld) -> dict[str, list[DemoProtocol]]:
    today = world.today.date()

    def due(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    return {
        "sicurezza-lavoro": [
            DemoProtocol(
                kind="procurement",
                title="Protocollo appalti",
                text=APPALTI.format(due_cm=due(60), due_unions=due(150), due_confindustria=due(-10)),
                parties=[
                    DemoParty("cm", "elena.bassi", "chiara.lolli", signs=True),
                    DemoParty("cgil", "marco.zanotti", signs=True),
                    DemoParty("cisl", "francesca.gamberini", signs=True),
                    DemoParty("uil", "davide.tugnoli", signs=True),
                    DemoParty("confindustria", "alessandro.nanni", signs=True),
                ],
                status="in_force",
                started_days_ago=120,
                valid_years=3,
                annexes=[("Soglie di importo e clausola sociale tipo", _pdf("Protocollo appalti - Allegato 1"))],
            ),
            DemoProtocol(
                kind="site",
                title="Protocollo di sito per l'Interporto di Bologna",
                text=INTERPORTO.format(due_cm=due(180), due_legacoop=due(120)),
                parties=[
                    DemoParty("cm", "elena.bassi", "chiara.lolli", signs=True),
                    DemoParty("cgil", "marco.zanotti", signs=True),
                    DemoParty("cisl", "francesca.gamberini"),
                    DemoParty("uil", "davide.tugnoli"),
                    DemoParty("legacoop", "matteo.guidi"),
                ],
                status="open",
                annexes=[("Planimetria del sito", _pdf("Interporto di Bologna - Planimetria"))],
            ),
        ],
        "salvaguardia": [
            DemoProtocol(
                kind="employment",
                title="Intesa per la buona occupazione — Polo logistico di Altedo",
                text=INTESA.format(due_investor=due(365), due_union=due(90)),
                parties=[
                    DemoParty("cm", "giulia.marchetti", "paolo.ferri"),
                    DemoParty("cgil", "marco.zanotti"),
                    DemoParty("cisl", "francesca.gamberini"),
                    DemoParty("uil", "davide.tugnoli"),
                    DemoParty("unione-reno-galliera", "irene.stagni"),
                    DemoParty(INVESTOR[0], INVESTOR[1], external=True),
                ],
                status="draft",
            ),
        ],
    }


async def seed(session: AsyncSession, world: DemoWorld) -> None:
    """The protocols of the tables being created."""
    catalogue = _catalogue(world)
    wanted = [(table, catalogue.get(slug, [])) for slug, table in world.tables.items()]
    if not any(demo for _table, demo in wanted):
        return
    key, _created = protocol_keys.ensure_key_file(Settings.from_env().signing_key_file)
    for table, demo_protocols in wanted:
        for demo in demo_protocols:
            await _protocol(session, world, table, demo, key)


async def _investor(session: AsyncSession, world: DemoWorld) -> User:
    """The investor's person: an account of an organisation with no seat on any table."""
    name, local, person = INVESTOR
    email = f"{local}@{DOMAIN}"
    user = await session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user
    organisation = await session.scalar(select(Organisation).where(func.lower(Organisation.name) == name.lower()))
    if organisation is None:
        organisation = await create_organisation(session, name)
    some = next(iter(world.users.values()))
    return await accounts.create_user(
        session, email=email, name=person, password_hash=some.password_hash, organisation=organisation
    )


async def _protocol(session: AsyncSession, world: DemoWorld, table: Table, demo: DemoProtocol, key: ServerKey) -> None:
    seats = world.seats(table.slug)
    chair = Actor(world.users[seats.chair].id, Role.chair)
    today = world.today.date()
    start = today - timedelta(days=demo.started_days_ago) if demo.started_days_ago else None
    end = start.replace(year=start.year + demo.valid_years) if start and demo.valid_years else None
    values = protocols.parse_protocol(
        kind=demo.kind,
        title=demo.title,
        valid_from=start.isoformat() if start else "",
        valid_until=end.isoformat() if end else "",
    )
    protocol = await protocols.create_protocol(session, table, values, actor=chair)
    document = await protocols.protocol_document(session, protocol)
    assert document is not None
    base = await documents.text_of(session, document.id)
    await documents.apply_text(session, document.id, base=base, new=demo.text, user_id=chair.user_id)
    signers: list[tuple[int, User]] = []
    for demo_party in demo.parties:
        if demo_party.external:
            signatory = await _investor(session, world)
            organisation, external = "", demo_party.organisation
        else:
            signatory = world.users[demo_party.signatory]
            organisation, external = str(world.organisations[demo_party.organisation].id), ""
        substitute = world.users[demo_party.substitute].email if demo_party.substitute else ""
        made = await add_party(
            session,
            table,
            protocol.id,
            parse_party(
                organisation=organisation, external_name=external, signatory=signatory.email, substitute=substitute
            ),
            actor=chair,
        )
        if demo_party.signs:
            signers.append((made.id, signatory))
    for name, data in demo.annexes:
        await add_annex(session, table, protocol.id, name=name, filename=f"{name}.pdf", data=data, actor=chair)
    if demo.status == "draft":
        return
    await protocols.open_for_signature(session, table, protocol.id, version=protocol.version, actor=chair)
    await demo_qualified.sign_protocol(session, world, table, protocol.id, key)  # one party's firma digitale
    for party_id, signer in signers:
        await signatures.sign(
            session, table, protocol.id, party_id=party_id, actor_user_id=signer.id, password=world.password, key=key
        )
