"""`kill -9` in the middle of a stream of edits loses nothing the server acknowledged.

A real `tavoli serve` process (on the test's database: SQLite, or PostgreSQL with
TAVOLI_TEST_DATABASE_URL), a client speaking y-protocols with `?ack=1` that streams one token
after another without waiting, and records the state vectors the server says it stored (message
100); once some are acknowledged, SIGKILL, while the stream goes on. A new process on the same
database, a fresh client: every acknowledged token is there, exactly once, and the store holds
every acknowledged state vector.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from websockets.exceptions import ConnectionClosed

from tests.documents_support import (
    Closed,
    SocketReplica,
    covers,
    draft_document,
    logs_on_failure,
    stored_text,
    tokens_of,
)
from tests.e2e.conftest import start_server
from tests.live_support import Browser

ACKNOWLEDGED_BEFORE_THE_KILL = 40
WINDOW = 15
MOST_TOKENS = 5_000


async def test_kill_9_loses_no_acknowledged_update(database_url, tmp_path, board):
    document_id = board.seed.run(lambda s: draft_document(s, board.table, board.cgil.slug, board.member.id, "<s1><s2>"))
    server = start_server(database_url, tmp_path)
    writer_browser = Browser(server.url)
    with logs_on_failure(server):
        try:
            await writer_browser.log_in("member@example.org")
            writer = await SocketReplica("w", await writer_browser.socket(f"/ws/docs/{document_id}?ack=1")).start()
            await writer.first_sync()
            assert writer.replica.tokens() == ["<s1>", "<s2>"]

            async def stream() -> None:
                """One token after another, each sent without waiting for its acknowledgement, at
                most WINDOW ahead of the last one acknowledged (so it is still going at the kill)."""
                with contextlib.suppress(ConnectionClosed, Closed):
                    for number in range(1, MOST_TOKENS):
                        writer.replica.insert(f"<w{number}>", number + 1)  # at the end
                        await writer.flush()
                        await writer.until(lambda n=number: n - len(acknowledged(writer)) < WINDOW, 30, "the window")

            streaming = asyncio.create_task(stream())
            await writer.until(
                lambda: len(acknowledged(writer)) >= ACKNOWLEDGED_BEFORE_THE_KILL, 30, "enough acknowledgements"
            )
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            assert server.process.returncode == -signal.SIGKILL
            await streaming
        finally:
            await writer_browser.close()
            server.stop()
    saved = acknowledged(writer)
    vector = writer.replica.acknowledged()
    typed = [w.token for w in writer.replica.written]
    assert len(saved) >= ACKNOWLEDGED_BEFORE_THE_KILL
    assert len(typed) < MOST_TOKENS - 1, "the stream ended before the kill"

    restarted = start_server(database_url, tmp_path)
    reader_browser = Browser(restarted.url)
    with logs_on_failure(restarted):
        try:
            await reader_browser.log_in("member@example.org")
            reader = await SocketReplica("r", await reader_browser.socket(f"/ws/docs/{document_id}?ack=1")).start()
            await reader.first_sync()
        finally:
            await reader_browser.close()
            restarted.stop()
    tokens = reader.replica.tokens()
    assert covers(reader.replica.vector(), vector)
    assert len(tokens) == len(set(tokens)), "a token twice"
    assert tokens[:2] == ["<s1>", "<s2>"]
    assert set(saved) <= set(tokens), f"lost after the kill: {sorted(set(saved) - set(tokens))}"
    assert tokens[2:] == typed[: len(tokens) - 2], "the tokens stored are the first ones typed, in order"
    text, stored_vector = await stored_text(database_url, document_id)
    assert tokens_of(text) == tokens
    assert covers(stored_vector, vector)


def acknowledged(client: SocketReplica) -> list[str]:
    """The tokens this client typed that a state vector from the server covers."""
    vector = client.replica.acknowledged()
    return [w.token for w in client.replica.written if vector.get(w.client, 0) >= w.clock]
