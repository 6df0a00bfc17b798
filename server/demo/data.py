"""The content of `tavoli demo`: the four tables of the Città metropolitana di Bologna.

Organisations and subjects are those of the end-of-mandate report (`../shared/seed/`); the people,
companies and figures are invented. Written in Italian, the language of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
class Item:
    title: str
    description: str = ""
    presenter: str | None = None
    minutes: int | None = None
    status: str = "pending"


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


@dataclass(frozen=True)
class DemoAction:
    title: str
    owner: str  # email local part; their organisation on the table is the one they act for
    due_in_days: int | None  # from today; negative: the due date has passed
    status: str = "open"
    description: str = ""
    notes: list[str] = field(default_factory=list)  # progress notes by the owner
    origin: str | None = None  # the title of the agenda item where it was decided


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
    meetings: list[DemoMeeting]


PALAZZO = "Palazzo Malvezzi, via Zamboni 13, Bologna – Sala del Consiglio"

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
        meetings=[
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
                    ),
                    Item(
                        "Tassa di soggiorno e promozione turistica metropolitana",
                        "Proposta di destinare una quota del gettito a campagne comuni tra i Comuni.",
                        "sara.monti",
                        25,
                        "done",
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
                    Item("Approvazione del verbale della seduta precedente", "", "paolo.ferri", 5, "done"),
                    Item(
                        "Saldi invernali e aperture festive",
                        "Calendario condiviso dei **saldi** e delle aperture nelle festività, con attenzione "
                        "agli orari di lavoro del personale.",
                        "luca.cavina",
                        30,
                        "current",
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
        meetings=[
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
        meetings=[
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
        meetings=[
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
    ),
]

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
            "Bozza in preparazione con gli operatori della montagna.",
            "giorgio.bernardi",
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
