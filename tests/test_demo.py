"""`tavoli demo`: the four tables of the seed, built through the domain, idempotent."""

from concurrent.futures import ThreadPoolExecutor

from click.testing import CliRunner
from sqlalchemy import func, select

from server.cli import cli
from server.db.models import AgendaItem, AgendaStatus, Attendance, Event, Meeting, Membership, Role, Table
from server.db.session import Database


def run_demo(database_url, password="una-password-demo-lunga"):
    """Run the real command; in a thread of its own, since it starts its own event loop."""
    env = {"TAVOLI_DATABASE_URL": database_url, "TAVOLI_DEMO_PASSWORD": password}
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(CliRunner().invoke, cli, ["demo"], env=env).result()


async def count(database, model, *where):
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_demo_fills_the_four_tables_and_prints_the_logins(database_url, database):
    result = run_demo(database_url)
    assert result.exit_code == 0, result.output
    assert "Tavoli della demo creati: commercio-turismo, sicurezza-lavoro, inclusione, salvaguardia." in result.output
    assert "password: una-password-demo-lunga" in result.output
    assert "giulia.marchetti@tavoli.example" in result.output
    async with database.read() as session:
        slugs = set((await session.scalars(select(Table.slug))).all())
        roles = {
            (t, r)
            for t, r in await session.execute(
                select(Table.slug, Membership.role).join(Membership, Membership.table_id == Table.id)
            )
        }
    assert slugs == {"commercio-turismo", "sicurezza-lavoro", "inclusione", "salvaguardia"}
    for slug in slugs:
        for role in Role:
            assert (slug, role) in roles, f"{slug} has no {role}"
    assert await count(database, Meeting) >= 8
    assert await count(database, AgendaItem) >= 25
    assert await count(database, AgendaItem, AgendaItem.status == AgendaStatus.current) == 1
    assert await count(database, AgendaItem, AgendaItem.status == AgendaStatus.done) >= 5
    assert await count(database, Attendance, Attendance.present) >= 20
    assert await count(database, Event, Event.kind == "agenda.item_added") == await count(database, AgendaItem)


async def test_demo_is_idempotent_and_keeps_what_people_did(database_url, database):
    run_demo(database_url)
    events = await count(database, Event)
    second = run_demo(database_url)
    assert second.exit_code == 0, second.output
    assert "già presenti, lasciati come sono" in second.output
    assert await count(database, Event) == events


async def test_demo_accounts_log_in_with_the_demo_password(database_url, settings):
    from starlette.testclient import TestClient

    from server.app import create_app
    from tests.conftest import BASE_URL
    from tests.support import login

    run_demo(database_url, "password-della-demo")
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        assert login(client, "paolo.ferri@tavoli.example", "password-della-demo").status_code == 303
        page = client.get("/tavoli/commercio-turismo").text
        assert "Saldi invernali e aperture festive" in page
        assert "Sedute passate" in page


def test_a_short_demo_password_is_refused(database_url):
    result = run_demo(database_url, "corta")
    assert result.exit_code == 1
    assert "almeno 12 caratteri" in result.output


async def test_demo_tables_have_past_and_upcoming_meetings(database_url):
    from server.domain.meetings import meetings_of

    run_demo(database_url)
    database = Database(database_url)
    try:
        async with database.read() as session:
            for table in (await session.scalars(select(Table))).all():
                listing = await meetings_of(session, table.id)
                assert listing.upcoming, table.slug
                assert listing.past, table.slug
    finally:
        await database.dispose()


async def test_demo_tables_have_action_items_in_every_state_some_overdue(database_url):
    from server.db.models import ActionItem, ActionNote, ActionStatus
    from server.domain.actions import actions_of, is_overdue

    run_demo(database_url)
    database = Database(database_url)
    try:
        async with database.read() as session:
            every = []
            for table in (await session.scalars(select(Table))).all():
                found = await actions_of(session, table.id)
                assert found, table.slug
                every += found
            assert {a.status for a in every} == set(ActionStatus)
            assert any(is_overdue(a) for a in every)
            assert all(a.owner_id and a.organisation_id for a in every)
            assert any(a.origin_item_id for a in every)
            assert await count(database, ActionNote) > 0
            assert await count(database, Event, Event.kind == "action.created") == await count(database, ActionItem)
    finally:
        await database.dispose()


async def test_demo_tables_have_proposals_in_every_state(database_url):
    from server.db.models import Endorsement, Proposal, ProposalComment, ProposalStatus, ProposalVersion

    run_demo(database_url)
    database = Database(database_url)
    try:
        async with database.read() as session:
            statuses = set((await session.scalars(select(Proposal.status))).all())
        assert statuses == set(ProposalStatus)
        assert await count(database, Endorsement) > 0
        assert await count(database, ProposalComment) > 0
        assert await count(database, ProposalVersion) > await count(database, Proposal, Proposal.status != "draft") - 1
    finally:
        await database.dispose()
