"""Helpers shared by the tests: seeding through the domain, logging in through the real endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from selectolax.lexbor import LexborHTMLParser, LexborNode
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from server.db.models import Membership, Organisation, Role, Table, User
from server.db.session import Database
from server.domain import accounts, tables

T = TypeVar("T")
PASSWORD = "password-for-tests-only"
Change = Callable[[AsyncSession], Awaitable[Any]]


async def in_transaction(database: Database, change: Change) -> Any:
    async with database.transaction() as session:
        return await change(session)


class Seed:
    """Creates test data through the domain functions, in write transactions on a real database.

    `run` executes a coroutine on the loop that owns the database: the TestClient's portal for web
    tests, the live server's loop for live tests, a loop of its own (`db_seed`) for domain and
    browser tests.
    """

    def __init__(self, run: Callable[[Change], Any], password_hash: str) -> None:
        self.run = run
        self.password_hash = password_hash

    def org(self, name: str) -> Organisation:
        return self.run(lambda s: tables.create_organisation(s, name))  # type: ignore[no-any-return]

    def table(
        self, slug: str = "commercio-turismo", name: str | None = None, *, public: bool = False, purpose: str = ""
    ) -> Table:
        return self.run(
            lambda s: tables.create_table(  # type: ignore[no-any-return]
                s, slug=slug, name=name or slug.replace("-", " ").title(), is_public=public, purpose=purpose
            )
        )

    def user(
        self, email: str, name: str | None = None, *, admin: bool = False, organisation: Organisation | None = None
    ) -> User:
        return self.run(
            lambda s: accounts.create_user(  # type: ignore[no-any-return]
                s,
                email=email,
                name=name or email.split("@")[0].title(),
                password_hash=self.password_hash,
                is_admin=admin,
                organisation=organisation,
            )
        )

    def member(self, table: Table, user: User, role: Role, organisation: Organisation | None = None) -> Membership:
        return self.run(lambda s: tables.add_member(s, table, user, role, organisation=organisation))  # type: ignore[no-any-return]

    def person(
        self, table: Table, role: Role, email: str | None = None, organisation: Organisation | None = None
    ) -> User:
        """A new account with `role` on `table`."""
        created = self.user(email or f"{role.value}.{table.slug}@example.org", organisation=organisation)
        self.member(table, created, role, organisation)
        return created


def css(html: str, selector: str) -> list[LexborNode]:
    """The elements of a page or pushed fragment that match a CSS selector."""
    return list(LexborHTMLParser(html).css(selector))


def one(html: str, selector: str) -> LexborNode:
    """The one element that matches `selector` (none, or several, fails)."""
    found = css(html, selector)
    assert len(found) == 1, f"{len(found)} elements match {selector!r}"
    return found[0]


def texts(html: str, selector: str) -> list[str]:
    """The text of every element matching `selector`, whitespace collapsed."""
    return [" ".join(node.text(deep=True).split()) for node in css(html, selector)]


def field_value(html: str, name: str) -> str:
    """The value of the first form field called `name`."""
    field = LexborHTMLParser(html).css_first(f'input[name="{name}"]')
    assert field is not None, f"no field {name!r} in the page"
    value = field.attributes.get("value")
    assert value, f"the field {name!r} has no value"
    return value


def csrf_of(html: str) -> str:
    return field_value(html, "csrf_token")


def login(client: TestClient, email: str, password: str = PASSWORD, next_url: str = "/") -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )


def post_form(client: TestClient, path: str, data: dict[str, Any], *, page: str = "/", **kwargs: Any) -> Any:
    """POST a form with the CSRF token read from `page`, as a browser without JavaScript would."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False, **kwargs)


class Board:
    """A table with a person in every role, a meeting with three items, and a second table.

    The second table has its own meeting and item, to try ids that belong elsewhere.
    """

    def __init__(self, seed: Seed) -> None:
        from server.domain import agenda, meetings

        self.seed = seed
        self.cgil = seed.org("CGIL Bologna")
        self.ascom = seed.org("Confcommercio Ascom Bologna")
        self.cna = seed.org("CNA Bologna")
        self.table = seed.table(
            "commercio-turismo",
            "Tavolo metropolitano per il commercio e le attività turistiche",
            purpose="Coordinamento per la **ripartenza** di commercio e turismo.",
        )
        self.chair = seed.person(self.table, Role.chair, "chair@example.org", self.ascom)
        self.secretary = seed.person(self.table, Role.secretary, "secretary@example.org", self.cna)
        self.member = seed.person(self.table, Role.member, "member@example.org", self.cgil)
        self.observer = seed.person(self.table, Role.observer, "observer@example.org")
        self.outsider = seed.user("outsider@example.org", "Olga Esterna")
        self.admin = seed.user("admin@example.org", "Amministrazione", admin=True)
        self.other = seed.table("salvaguardia", "Tavolo di salvaguardia")
        seed.person(self.other, Role.chair, "other.chair@example.org", self.cgil)
        self.meeting = seed.run(
            lambda s: meetings.create_meeting(
                s,
                self.table,
                meetings.parse_meeting(
                    title="Seduta di dicembre", day="2031-12-09", hour="15:00", place="Palazzo Malvezzi", online_url=""
                ),
                actor_id=self.chair.id,
            )
        )
        self.items = [
            seed.run(
                lambda s, t=title: agenda.add_item(
                    s,
                    self.table,
                    self.meeting.id,
                    agenda.parse_item(title=t, description="", presenter="", planned_minutes="15"),
                    actor_id=self.chair.id,
                )
            )
            for title in ("Saldi invernali", "Distretti del commercio", "Varie ed eventuali")
        ]
        self.other_meeting = seed.run(
            lambda s: meetings.create_meeting(
                s,
                self.other,
                meetings.parse_meeting(
                    title="Crisi aziendale", day="2031-11-20", hour="10:00", place="Via Zamboni 13", online_url=""
                ),
                actor_id=None,
            )
        )
        self.other_item = seed.run(
            lambda s: agenda.add_item(
                s,
                self.other,
                self.other_meeting.id,
                agenda.parse_item(title="Tavolo con l'azienda", description="", presenter="", planned_minutes=""),
                actor_id=None,
            )
        )

    def action(self) -> Any:
        """The table's action item owned by the chair, recorded the first time it is asked for."""
        from server.domain import actions

        if getattr(self, "_action", None) is None:
            values = actions.parse_action(
                title="Calendario dei saldi", description="", owner=str(self.chair.id), due_on="2031-12-31"
            )
            self._action = self.seed.run(
                lambda s: actions.create_action(s, self.table, values, actor_id=self.secretary.id)
            )
        return self._action

    def proposal(self) -> Any:
        """A proposal of the chair's organisation, submitted, with one comment by the chair."""
        from server.db.models import ProposalStatus
        from server.domain import proposals
        from server.domain.actions import Actor

        if getattr(self, "_proposal", None) is None:
            chair = Actor(self.chair.id, Role.chair)
            text = proposals.parse_text(title="Saldi in una data unica", summary="", body="Il testo.")

            async def bring(session: AsyncSession) -> Any:
                proposal = await proposals.create_proposal(session, self.table, text, [self.ascom.slug], actor=chair)
                proposal = await proposals.set_status(
                    session, self.table, proposal.id, ProposalStatus.submitted, version=1, actor=chair
                )
                comment = await proposals.add_comment(session, self.table, proposal.id, "Un commento.", actor=chair)
                return proposal, comment

            self._proposal, self._comment = self.seed.run(bring)
        return self._proposal

    def comment(self) -> Any:
        self.proposal()
        return self._comment

    @property
    def meeting_url(self) -> str:
        return f"/tavoli/{self.table.slug}/sedute/{self.meeting.id}"

    def item_url(self, index: int) -> str:
        return f"{self.meeting_url}/punti/{self.items[index].id}"

    def membership_id(self, user: User) -> int:
        from sqlalchemy import select

        return self.seed.run(
            lambda s: s.scalar(
                select(Membership.id).where(  # type: ignore[no-any-return]
                    Membership.table_id == self.table.id, Membership.user_id == user.id
                )
            )
        )

    def current(self, model: Any, record_id: int) -> Any:
        """A fresh copy of a record, as the database has it now."""
        return self.seed.run(lambda s: s.get(model, record_id, populate_existing=True))

    def events(self, kind: str | None = None) -> list[Any]:
        from sqlalchemy import select

        from server.db.models import Event

        query = select(Event).where(Event.table_id == self.table.id).order_by(Event.seq)
        if kind:
            query = query.where(Event.kind == kind)

        async def read(session: AsyncSession) -> list[Any]:
            return list((await session.scalars(query)).all())

        return self.seed.run(read)  # type: ignore[no-any-return]
