"""`tavoli demo`: fill the database with the four tables, through the same domain functions as the app.

Idempotent: organisations and accounts are created when missing, and a table that already exists
is left as it is (with everything people did on it since).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    ActionStatus,
    AgendaItem,
    AgendaStatus,
    Meeting,
    Organisation,
    ProposalStatus,
    Role,
    Table,
    User,
)
from server.db.session import Database
from server.demo.data import ACTIONS, ADMIN, DOMAIN, ORGANISATIONS, PEOPLE, PROPOSALS, TABLES, DemoMeeting, DemoTable
from server.domain import accounts, actions, agenda, meetings, proposals, tables
from server.i18n import TIMEZONE


@dataclass
class DemoReport:
    """What `tavoli demo` did, and who can log in as what."""

    created_tables: list[str] = field(default_factory=list)
    kept_tables: list[str] = field(default_factory=list)
    admin: str = ""
    logins: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> role -> email


def email(local: str) -> str:
    return f"{local}@{DOMAIN}"


async def load_demo(database: Database, password: str, *, today: datetime | None = None) -> DemoReport:
    """Create what is missing of the demo; return the logins."""
    accounts.check_password(password)
    today = (today or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
    password_hash = accounts.hash_password(password)
    report = DemoReport(admin=email(ADMIN[0]))
    async with database.transaction() as session:
        organisations = await _organisations(session)
        people = await _people(session, organisations, password_hash)
    for demo in TABLES:
        report.logins[demo.slug] = {
            "chair": email(demo.chair),
            "secretary": email(demo.secretary),
            "member": email(demo.members[0]),
            "observer": email(demo.observer),
        }
        async with database.transaction() as session:
            if await session.scalar(select(Table.id).where(Table.slug == demo.slug)) is not None:
                report.kept_tables.append(demo.slug)
                continue
            await _table(session, demo, organisations, people, today)
            report.created_tables.append(demo.slug)
    return report


async def _organisations(session: AsyncSession) -> dict[str, Organisation]:
    found = {}
    for slug, name in ORGANISATIONS.items():
        organisation = await session.scalar(select(Organisation).where(Organisation.slug == slug))
        found[slug] = organisation or await tables.create_organisation(session, name, slug=slug)
    return found


async def _people(session: AsyncSession, organisations: dict[str, Organisation], password_hash: str) -> dict[str, User]:
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


async def _table(
    session: AsyncSession,
    demo: DemoTable,
    organisations: dict[str, Organisation],
    people: dict[str, User],
    today: datetime,
) -> None:
    admin = people[ADMIN[0]].id
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
        organisation = None if role is Role.observer else organisations[PEOPLE[local][1]]
        await tables.add_member(session, table, people[local], role, organisation=organisation, actor_id=admin)
    for demo_meeting in demo.meetings:
        await _meeting(session, table, demo, demo_meeting, organisations, people, today)
    await _actions(session, table, demo, people, today)
    await _proposals(session, table, demo, organisations, people)


async def _proposals(
    session: AsyncSession,
    table: Table,
    demo: DemoTable,
    organisations: dict[str, Organisation],
    people: dict[str, User],
) -> None:
    """The table's proposals, moved along their path by their authors and the chair."""
    chair = actions.Actor(people[demo.chair].id, Role.chair)
    for demo_proposal in PROPOSALS.get(demo.slug, []):
        author = actions.Actor(people[demo_proposal.by].id, Role.member)
        slugs = [PEOPLE[demo_proposal.by][1], *demo_proposal.also_by]
        text = proposals.parse_text(title=demo_proposal.title, summary=demo_proposal.summary, body=demo_proposal.body)
        proposal = await proposals.create_proposal(
            session, table, text, [organisations[key].slug for key in slugs], actor=author
        )
        if demo_proposal.revised_body:
            proposal = await proposals.update_draft(
                session, table, proposal.id, text, version=proposal.version, actor=author, save_version=True
            )
            revised = proposals.ProposalText(text.title, text.summary, demo_proposal.revised_body)
            proposal = await proposals.update_draft(
                session, table, proposal.id, revised, version=proposal.version, actor=author
            )
        path = {
            "submitted": ["submitted"],
            "under_discussion": ["submitted", "under_discussion"],
            "approved": ["submitted", "under_discussion", "approved"],
            "rejected": ["submitted", "under_discussion", "rejected"],
            "withdrawn": ["withdrawn"],
        }
        for status in path.get(demo_proposal.status, []):
            who = author if status in ("submitted", "withdrawn") else chair
            outcome = demo_proposal.outcome if status in ("approved", "rejected") else ""
            proposal = await proposals.set_status(
                session,
                table,
                proposal.id,
                ProposalStatus(status),
                version=proposal.version,
                actor=who,
                outcome=outcome,
            )
            if status == "submitted":  # before the table: organisations endorse it and members comment
                for local in demo_proposal.endorsed_by:
                    endorser = actions.Actor(people[local].id, Role.member)
                    await proposals.endorse(session, table, proposal.id, actor=endorser)
                for local, comment in demo_proposal.comments:
                    commenter = actions.Actor(people[local].id, Role.chair if local == demo.chair else Role.member)
                    await proposals.add_comment(session, table, proposal.id, comment, actor=commenter)


async def _actions(
    session: AsyncSession, table: Table, demo: DemoTable, people: dict[str, User], today: datetime
) -> None:
    """The table's action items, moved to their status by their owner (cancelled by the chair)."""
    secretary, chair = people[demo.secretary].id, people[demo.chair].id
    items = {
        item.title: item.id
        for item in await session.scalars(
            select(AgendaItem).join(Meeting, Meeting.id == AgendaItem.meeting_id).where(Meeting.table_id == table.id)
        )
    }
    for demo_action in ACTIONS.get(demo.slug, []):
        owner = people[demo_action.owner]
        due = today.date() + timedelta(days=demo_action.due_in_days) if demo_action.due_in_days is not None else None
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


async def _meeting(
    session: AsyncSession,
    table: Table,
    demo: DemoTable,
    demo_meeting: DemoMeeting,
    organisations: dict[str, Organisation],
    people: dict[str, User],
    today: datetime,
) -> None:
    secretary, chair = people[demo.secretary].id, people[demo.chair].id
    day = (today + timedelta(days=demo_meeting.days_from_today)).date()
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
        presenter = str(people[item.presenter].id) if item.presenter else ""
        item_values = agenda.parse_item(
            title=item.title, description=item.description, presenter=presenter, planned_minutes=str(item.minutes or "")
        )
        added.append((await agenda.add_item(session, table, meeting.id, item_values, actor_id=secretary), item))
    # Statuses in the order a chair sets them: what was discussed, then what is being discussed.
    for status in ("done", "deferred", "current"):
        for record, item in added:
            if item.status == status:
                await agenda.set_status(
                    session, table, meeting.id, record.id, AgendaStatus(status), version=record.version, actor_id=chair
                )
    if demo_meeting.present:
        marks = {organisations[key].id: (True, names) for key, names in demo_meeting.present.items()}
        await meetings.record_attendance(session, table, meeting.id, marks, version=0, actor_id=secretary)
