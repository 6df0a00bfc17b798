"""Helpers shared by the tests: seeding through the domain, logging in through the real endpoints."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
    tests, a private runner for browser tests.
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


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


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
