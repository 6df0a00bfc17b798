"""Every step of the minutes, live on every open page: the minutes page (`?verbale=<meeting id>`)
of each role, the meeting page (its minutes' state) and the table's home (the published minutes).

Each step is made over HTTP by the role that may make it; each open page then receives the regions
the step changed, rendered for its role (the chair's redaction panel only for the chair). Sending
the draft for approval closes the document's sockets (4409).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.db.models import Minutes
from tests.live_support import closed_with, home, message_with, messages_until, next_message
from tests.support import css, one


def minutes_screen(board: Any) -> str:
    return f"{home(board)}?verbale={board.meeting.id}"


def base(board: Any) -> str:
    return f"/tavoli/{board.table.slug}/sedute/{board.meeting.id}/verbale"


def status_pushed(message: str) -> str:
    return one(message, "#minutes").attributes["data-status"] or ""


async def until_status(socket: Any, status: str) -> str:
    """The first push of the minutes region in `status` (earlier pushes may show the step before)."""
    while True:
        message = await message_with(socket, 'id="minutes"')
        if status_pushed(message) == status:
            return message


def minutes_row(seed: Any, board: Any) -> Minutes:
    return seed.run(
        lambda s: s.scalar(
            select(Minutes).where(Minutes.meeting_id == board.meeting.id).execution_options(populate_existing=True)
        )
    )


async def test_every_step_of_the_minutes_reaches_every_open_page(live_seed, live_board, people):
    chair, secretary, member, observer = [
        await people(f"{who}@example.org") for who in ("chair", "secretary", "member", "observer")
    ]
    pages = {}
    for name, browser in (("chair", chair), ("secretary", secretary), ("member", member), ("observer", observer)):
        pages[name] = await browser.socket(minutes_screen(live_board))
        first = await next_message(pages[name])
        assert status_pushed(first) == "none", "the page's current state comes first"
        assert 'id="minutes-remarks"' in first
        assert 'id="minutes-record"' in first
    meeting_page = await member.socket(f"{home(live_board)}?seduta={live_board.meeting.id}")
    assert 'id="minutes-state"' in await next_message(meeting_page)
    table_home = await observer.socket(home(live_board))
    await next_message(table_home)

    # Drafting starts: every page leaves the outline for the draft; the meeting page says so.
    assert (await secretary.post(f"{base(live_board)}/avvia", {})).status_code == 303
    for name, socket in pages.items():
        pushed = await until_status(socket, "draft")
        assert "csrf_token" not in pushed, "pushed fragments carry nothing personal"
        sends = css(pushed, "form[action$='/verbale/invia']")
        assert bool(sends) == (name in ("chair", "secretary")), name
    assert "Bozza" in one(await message_with(meeting_page, 'id="minutes-state"'), "#minutes-state").text()
    row = minutes_row(live_seed, live_board)

    # A member's remark on an item, and an action item recorded from the minutes.
    item = live_board.items[0]
    answer = await member.post(f"{base(live_board)}/osservazioni", {"item": str(item.id), "body": "Manca una data."})
    assert answer.status_code == 303
    for socket in pages.values():
        remarks = await message_with(socket, "Manca una data.")
        assert one(remarks, f"#remarks-{item.id}")
    answer = await secretary.post(
        f"{base(live_board)}/azioni",
        {"item": str(item.id), "title": "Proposta di calendario", "owner": "", "due_on": "", "client_key": "a1"},
    )
    assert answer.status_code == 200
    for socket in pages.values():
        record = await message_with(socket, "Proposta di calendario")
        assert "Proposta di calendario" in one(record, f"#minutes-item-{item.id}").text()

    # Sent for approval: the document's sockets close (frozen), every page shows it sent.
    document = await secretary.socket(f"/ws/docs/{row.document_id}")
    assert (await secretary.post(f"{base(live_board)}/invia", {"version": str(row.version)})).status_code == 303
    assert await closed_with(document) == 4409
    for socket in pages.values():
        await until_status(socket, "sent")
    row = minutes_row(live_seed, live_board)

    # Back to draft, and sent again.
    assert (await secretary.post(f"{base(live_board)}/riapri", {"version": str(row.version)})).status_code == 303
    for socket in pages.values():
        await until_status(socket, "draft")
    row = minutes_row(live_seed, live_board)
    assert (await secretary.post(f"{base(live_board)}/invia", {"version": str(row.version)})).status_code == 303
    for socket in pages.values():
        await until_status(socket, "sent")
    row = minutes_row(live_seed, live_board)

    # Approved by the chair: only the chair's page offers to publish and to redact.
    assert (await chair.post(f"{base(live_board)}/approva", {"version": str(row.version)})).status_code == 303
    for name, socket in pages.items():
        pushed = await until_status(socket, "approved")
        assert bool(css(pushed, "form[action$='/verbale/pubblica']")) == (name == "chair"), name
        redaction = one(pushed, "#minutes-redaction")
        assert bool(css(redaction.html or "", "form")) == (name == "chair"), name
    row = minutes_row(live_seed, live_board)

    # The chair leaves a name out of the public copy: the panel follows.
    answer = await chair.post(
        f"{base(live_board)}/omissis", {"version": str(row.version), "passage": "Saldi invernali"}
    )
    assert answer.status_code == 303
    panel = await message_with(pages["chair"], "minutes-redactions")
    assert "Saldi invernali" in one(panel, ".minutes-redactions").text()

    # Published: every page shows it, the meeting page links to it, the home lists it.
    assert (await chair.post(f"{base(live_board)}/pubblica", {"version": str(row.version)})).status_code == 303
    for socket in pages.values():
        pushed = await until_status(socket, "published")
        assert (
            one(pushed, ".minutes-versions a")
            .attributes["href"]
            .startswith(f"/tavoli/{live_board.table.slug}/verbali/")
        )
    state = await message_with(meeting_page, "Pubblicato")
    assert one(state, "#minutes-state a[href*='/verbali/']")
    listed = await message_with(table_home, 'id="published-minutes"')
    link = one(listed, "#published-minutes a[href*='/verbali/']").attributes["href"] or ""

    # An erratum: the minutes are a draft again, on every page.
    assert (await chair.post(f"{link}/errata", {})).status_code == 303
    for socket in pages.values():
        await until_status(socket, "draft")
    assert "Bozza" in one(await message_with(meeting_page, 'id="minutes-state"'), "#minutes-state").text()


async def test_a_change_of_another_meetings_minutes_leaves_the_page_alone(live_seed, live_board, people):
    from server.domain import meetings

    other = live_seed.run(
        lambda s: meetings.create_meeting(
            s,
            live_board.table,
            meetings.parse_meeting(
                title="Seduta straordinaria", day="2031-12-20", hour="10:00", place="Sala", online_url=""
            ),
            actor_id=live_board.chair.id,
        )
    )
    secretary = await people("secretary@example.org")
    socket = await secretary.socket(minutes_screen(live_board))
    await next_message(socket)
    other_base = f"/tavoli/{live_board.table.slug}/sedute/{other.id}/verbale"
    assert (await secretary.post(f"{other_base}/avvia", {})).status_code == 303
    assert (await secretary.post(f"{base(live_board)}/avvia", {})).status_code == 303
    *before, own = await messages_until(socket, 'data-status="draft"')
    for message in before:
        assert css(message, "#minutes, #minutes-record, #minutes-remarks") == [], "the other minutes reached this page"
    assert status_pushed(own) == "draft"
