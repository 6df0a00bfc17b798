"""Every step of a protocol, live on every open page: the protocol's page (`?protocollo=<id>`) of
each role, the list (`?elenco=protocolli`) and the table's home (the protocols in force).

Each step is made over HTTP by whom may make it; each open page then receives the regions it
changed: a new signature appears as it happens, and the last one brings the protocol into force
without a reload. Opening the protocol for signature closes its text's sockets (4409).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.config import Settings
from server.db.models import Event, Signature
from server.domain import protocols
from server.domain.protocols import ProtocolEvent
from tests import protocols_support as ps
from tests.live_support import closed_with, crowd, home, message_with, next_message
from tests.support import PASSWORD, css, one


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return ps.protocol_settings(database_url, tmp_path)


def screen(board: Any, protocol_id: int) -> str:
    return f"{home(board)}?protocollo={protocol_id}"


def path(board: Any, protocol_id: int) -> str:
    return f"/tavoli/{board.table.slug}/protocolli/{protocol_id}"


async def until(socket: Any, selector: str, attribute: str, value: str) -> str:
    """The first push in which the element `selector` has `attribute` = `value`."""
    while True:
        message = await message_with(socket, selector.split()[0].lstrip("#"))
        found = css(message, selector)
        if found and found[0].attributes.get(attribute) == value:
            return message


async def test_signatures_appear_as_they_happen_and_the_last_brings_it_into_force(live_board, people):
    protocol, parties = ps.ready(live_board)
    chair, secretary, member, observer = [
        await people(f"{who}@example.org") for who in ("chair", "secretary", "member", "observer")
    ]
    pages = {}
    for name, browser in (("chair", chair), ("secretary", secretary), ("observer", observer)):
        pages[name] = await browser.socket(screen(live_board, protocol.id))
        first = await next_message(pages[name])
        assert one(first, "#protocol").attributes["data-status"] == "open", "the current state comes first"
        assert css(first, "#protocol-parties")
        assert css(first, "#protocol-commitments")
    table_home = await observer.socket(home(live_board))
    assert "protocols-in-force" in await message_with(table_home, 'id="protocols-in-force"')

    signed = await member.post(f"{path(live_board, protocol.id)}/firma", {"party": parties[0].id, "password": PASSWORD})
    assert signed.status_code == 303
    for socket in pages.values():
        pushed = await until(socket, f"#party-{parties[0].id}", "data-signed", "yes")
        assert one(pushed, f"#party-{parties[0].id} .signature-check").attributes["data-check"] == "valid"
        assert one(pushed, f"#party-{parties[1].id}").attributes["data-signed"] == "no"

    last = await secretary.post(
        f"{path(live_board, protocol.id)}/firma", {"party": parties[1].id, "password": PASSWORD}
    )
    assert last.status_code == 303
    in_force_frames = {}
    for name, socket in pages.items():
        in_force_frames[name] = await until(socket, "#protocol", "data-status", "in_force")
    # the commitments' action items come with the same change (in that frame, or the next)
    commitments = in_force_frames["chair"]
    if 'data-state="open"' not in commitments:
        commitments = await message_with(pages["chair"], 'data-state="open"')
    assert len(css(commitments, "#protocol-commitments .protocol-commitment")) == 2
    in_force = await message_with(table_home, f'id="in-force-{protocol.id}"')
    assert one(in_force, f"#in-force-{protocol.id} > a").text() == "Protocollo appalti"
    assert len(css(in_force, f"#in-force-{protocol.id} .open-commitments li")) == 2


async def test_a_new_protocol_appears_on_the_open_list(live_board, people):
    secretary, observer = await people("secretary@example.org"), await people("observer@example.org")
    listing = await observer.socket(f"{home(live_board)}?elenco=protocolli")
    assert "protocols-list" in await next_message(listing)
    created = await secretary.post(
        f"/tavoli/{live_board.table.slug}/protocolli/nuovo", {"kind": "site", "title": "Protocollo di sito Interporto"}
    )
    assert created.status_code == 303
    pushed = await message_with(listing, "Protocollo di sito Interporto")
    assert one(pushed, "#protocols-list .protocol-entry").attributes["data-status"] == "draft"


async def test_opening_closes_the_texts_sockets_and_pushes_the_frozen_text(live_board, people):
    protocol = ps.draft(live_board)
    ps.with_parties(live_board, protocol.id)
    document = live_board.seed.run(lambda s: protocols.protocol_document(s, protocol))
    chair, member = await people("chair@example.org"), await people("member@example.org")
    page = await member.socket(screen(live_board, protocol.id))
    await next_message(page)
    text_socket = await member.socket(f"/ws/docs/{document.id}")
    opened = await chair.post(
        f"{path(live_board, protocol.id)}/apri", {"version": ps.current(live_board, protocol.id).version}
    )
    assert opened.status_code == 303
    assert await closed_with(text_socket) == 4409
    pushed = await message_with(page, "protocol-text-sha256")
    assert len(one(pushed, "#protocol-text .protocol-text-sha256").text()) == 64


async def test_a_refused_step_pushes_nothing_and_says_why(live_board, people):
    protocol = ps.draft(live_board)  # no parties: it cannot open
    chair, observer = await people("chair@example.org"), await people("observer@example.org")
    page = await observer.socket(screen(live_board, protocol.id))
    await next_message(page)
    refused = await chair.post(f"{path(live_board, protocol.id)}/apri", {"version": protocol.version})
    assert refused.status_code == 422
    assert one(refused.text, "#protocol-alert").text().strip()
    # the next change's push is the first one after the refusal: it still shows the draft
    await chair.post(
        f"{path(live_board, protocol.id)}/parti",
        {"organisation": str(live_board.cna.id), "signatory": "secretary@example.org"},
    )
    pushed = await message_with(page, "CNA Bologna")
    assert one(pushed, "#protocol").attributes["data-status"] == "draft"


async def test_fifty_sign_requests_at_once_leave_one_signature_and_one_event(live_board, people):
    protocol, parties = ps.ready(live_board)
    member = await people("member@example.org")
    answers = await crowd(
        member, f"{path(live_board, protocol.id)}/firma", {"party": parties[0].id, "password": PASSWORD}
    )
    assert {answer.status_code for answer in answers} == {303}

    async def counted(session: Any) -> tuple[int, int]:
        signatures = await session.scalar(select(func.count()).select_from(Signature))
        events = await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == ProtocolEvent.signed.value)
        )
        return signatures, events

    assert live_board.seed.run(counted) == (1, 1)
