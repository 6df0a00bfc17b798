"""Shared helpers of the protocols' web, live and upload tests: a signing key in the test's folder,
and protocols made through the domain (drafted, with parties, opened) on the Board's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db.models import Organisation, Protocol, Role
from server.domain import documents, protocol_keys, protocol_parties, protocols
from server.domain.actions import Actor
from tests.conftest import BASE_URL, SECRET

TEXT = (
    "# Protocollo appalti\n\n"
    "Le parti concordano quanto segue.\n\n"
    "### Impegno — CGIL Bologna — entro 2027-03-31\n\n"
    "Formare i delegati dei cantieri.\n\n"
    "### Impegno — CNA Bologna — entro 2027-06-30\n\n"
    "Applicare il contratto nazionale nei subappalti.\n"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n\x00\x01binary\n%%EOF\n"


def protocol_settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    """The tests' settings with a signing key of their own (never the checkout's)."""
    key = tmp_path / "signing.key"
    protocol_keys.ensure_key_file(key)
    return Settings(
        database_url=database_url,
        base_url=BASE_URL,
        secret_key=SECRET,
        minutes_dir=str(tmp_path / "minutes"),
        signing_key_file=str(key),
        **extra,
    )


def chair(board: Any) -> Actor:
    return Actor(board.chair.id, Role.chair)


def secretary(board: Any) -> Actor:
    return Actor(board.secretary.id, Role.secretary)


def draft(board: Any, title: str = "Protocollo appalti", text: str = TEXT) -> Protocol:
    """A draft protocol of the board's table whose text is `text`."""

    async def make(session: AsyncSession) -> Protocol:
        values = protocols.parse_protocol(kind="procurement", title=title)
        protocol = await protocols.create_protocol(session, board.table, values, actor=secretary(board))
        document = await protocols.protocol_document(session, protocol)
        assert document is not None
        current = await documents.text_of(session, document.id)
        await documents.apply_text(session, document.id, base=current, new=text, user_id=board.secretary.id)
        return protocol

    return board.seed.run(make)  # type: ignore[no-any-return]


def add_party(
    board: Any,
    protocol_id: int,
    *,
    organisation: Organisation | None = None,
    external: str = "",
    signatory: str = "",
    substitute: str = "",
) -> Any:
    values = protocol_parties.parse_party(
        organisation=str(organisation.id) if organisation else "",
        external_name=external,
        signatory=signatory,
        substitute=substitute,
    )
    return board.seed.run(
        lambda s: protocol_parties.add_party(s, board.table, protocol_id, values, actor=secretary(board))
    )


def with_parties(board: Any, protocol_id: int) -> list[Any]:
    """CGIL (the member signs, the observer substitutes) and CNA (the secretary signs)."""
    return [
        add_party(
            board,
            protocol_id,
            organisation=board.cgil,
            signatory="member@example.org",
            substitute="observer@example.org",
        ),
        add_party(board, protocol_id, organisation=board.cna, signatory="secretary@example.org"),
    ]


def current(board: Any, protocol_id: int) -> Protocol:
    return board.seed.run(lambda s: protocols.get_protocol(s, board.table.id, protocol_id))  # type: ignore[no-any-return]


def open_it(board: Any, protocol_id: int) -> Protocol:
    version = current(board, protocol_id).version

    async def move(session: AsyncSession) -> Protocol:
        moved = await protocols.open_for_signature(
            session, board.table, protocol_id, version=version, actor=chair(board)
        )
        return moved.protocol

    return board.seed.run(move)  # type: ignore[no-any-return]


def ready(board: Any, title: str = "Protocollo appalti") -> tuple[Protocol, list[Any]]:
    """A protocol with two parties, open for signature."""
    protocol = draft(board, title)
    parties = with_parties(board, protocol.id)
    return open_it(board, protocol.id), parties
