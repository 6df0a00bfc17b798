"""Uploads: a protocol's PDF annex goes through its own size limit (TAVOLI_UPLOAD_MAX_BYTES, counted
while the body arrives: 413 past it), while every other route keeps TAVOLI_MAX_BODY_BYTES and still
refuses a file. The annex's SHA-256 is shown, it downloads as it was sent, and every refusal (not a
PDF, no file, a role that may not, a protocol no longer a draft) says why and stores nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.config import Settings
from server.db.models import ProtocolAnnex
from tests import protocols_support as ps
from tests.support import Board, csrf_of, css, login, one, texts

LIMIT = 256 * 1024  # the upload limit of these tests
BODY_LIMIT = 64 * 1024  # the other requests' limit of these tests


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return ps.protocol_settings(database_url, tmp_path, upload_max_bytes=LIMIT, max_body_bytes=BODY_LIMIT)


def page(board: Board, protocol_id: int) -> str:
    return f"/tavoli/{board.table.slug}/protocolli/{protocol_id}"


def upload(client: Any, board: Board, protocol_id: int, data: bytes, *, name: str = "", filename: str = "a.pdf") -> Any:
    token = csrf_of(client.get(page(board, protocol_id)).text)
    response = client.post(
        f"{page(board, protocol_id)}/allegati",
        data={"csrf_token": token, "name": name},
        files={"file": (filename, data, "application/pdf")},
        follow_redirects=False,
    )
    return client.get(response.headers["location"]) if response.status_code == 303 else response


def annexes(board: Board) -> int:
    return board.seed.run(lambda s: s.scalar(select(func.count()).select_from(ProtocolAnnex)))  # type: ignore[no-any-return]


def test_the_secretary_annexes_a_pdf_larger_than_the_body_limit_and_its_hash_is_shown(client, board):
    protocol = ps.draft(board)
    data = ps.PDF + b"0" * (BODY_LIMIT * 2)  # past the body limit, within the upload limit
    login(client, "secretary@example.org")
    shown = upload(client, board, protocol.id, data, name="Planimetria del cantiere")
    assert shown.status_code == 200
    assert texts(shown.text, "#protocol-annexes .protocol-annex > a") == ["Planimetria del cantiere"]
    assert one(shown.text, "#protocol-annexes .annex-sha256").text() == hashlib.sha256(data).hexdigest()
    link = one(shown.text, "#protocol-annexes .protocol-annex > a").attributes["href"] or ""
    login(client, "observer@example.org")
    downloaded = client.get(link)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-disposition"].startswith("attachment;")


def test_an_upload_past_the_upload_limit_is_413_and_stores_nothing(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    response = upload(client, board, protocol.id, ps.PDF + b"0" * LIMIT)
    assert response.status_code == 413
    assert annexes(board) == 0


def test_a_file_that_is_not_a_pdf_is_refused_beside_its_field(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    response = upload(client, board, protocol.id, b"GIF89a not a pdf", filename="foto.pdf")
    assert response.status_code == 422
    assert "PDF" in one(response.text, "#file-error").text()
    assert "PDF" in one(response.text, "#protocol-alert").text()
    assert annexes(board) == 0


def test_an_upload_without_a_file_is_refused(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    token = csrf_of(client.get(page(board, protocol.id)).text)
    response = client.post(
        f"{page(board, protocol.id)}/allegati",
        data={"csrf_token": token, "name": "Niente"},
        files={"other": ("x.txt", b"", "text/plain")},
    )
    assert response.status_code == 422
    assert one(response.text, "#file-error").text()
    assert annexes(board) == 0


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_annex(client, board, email):
    protocol = ps.draft(board)
    login(client, email)
    assert upload(client, board, protocol.id, ps.PDF).status_code == 403
    assert annexes(board) == 0


def test_someone_without_a_role_finds_nothing_to_upload_to_or_download(client, board):
    protocol = ps.draft(board)
    login(client, "secretary@example.org")
    shown = upload(client, board, protocol.id, ps.PDF)
    link = one(shown.text, "#protocol-annexes .protocol-annex > a").attributes["href"] or ""
    login(client, "outsider@example.org")
    assert client.get(link).status_code == 404
    assert upload(client, board, protocol.id, ps.PDF).status_code == 404
    assert annexes(board) == 1


def test_an_open_protocol_takes_no_annex_and_shows_the_frozen_hashes(client, board):
    protocol = ps.draft(board)
    ps.with_parties(board, protocol.id)
    login(client, "secretary@example.org")
    upload(client, board, protocol.id, ps.PDF, name="Allegato A")
    ps.open_it(board, protocol.id)
    shown = client.get(page(board, protocol.id)).text
    assert not css(shown, "#protocol-annex-form")
    assert not css(shown, "#protocol-annexes form")
    refused = upload(client, board, protocol.id, ps.PDF, name="Tardivo")
    assert refused.status_code == 422
    assert annexes(board) == 1
    login(client, "member@example.org")
    sign = client.get(f"{page(board, protocol.id)}/firma").text
    assert texts(sign, ".sign-annex-sha256") == [hashlib.sha256(ps.PDF).hexdigest()]


def test_the_chair_removes_an_annex_of_a_draft(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    shown = upload(client, board, protocol.id, ps.PDF, name="Da togliere")
    form = one(shown.text, "#protocol-annexes form")
    token = csrf_of(shown.text)
    removed = client.post(form.attributes["action"] or "", data={"csrf_token": token}, follow_redirects=True)
    assert removed.status_code == 200
    assert not css(removed.text, "#protocol-annexes .protocol-annex")
    assert annexes(board) == 1  # kept for the versions that may name it


def test_other_routes_keep_the_body_limit_and_refuse_files(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    token = csrf_of(client.get(page(board, protocol.id)).text)
    too_large = client.post(
        f"{page(board, protocol.id)}/testo",
        data={"csrf_token": token, "base": "", "protocol_text": "x" * (BODY_LIMIT + 10)},
    )
    assert too_large.status_code == 413
    with_file = client.post(
        f"{page(board, protocol.id)}/testo",
        data={"csrf_token": token, "base": ""},
        files={"file": ("a.pdf", ps.PDF, "application/pdf")},
    )
    assert with_file.status_code == 400
    assert annexes(board) == 0


def test_an_upload_without_the_csrf_token_is_refused(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    response = client.post(
        f"{page(board, protocol.id)}/allegati", data={"name": "x"}, files={"file": ("a.pdf", ps.PDF, "application/pdf")}
    )
    assert response.status_code == 403
    assert annexes(board) == 0


def test_the_upload_limit_is_a_setting_with_a_default_of_20_mib():
    assert Settings().upload_max_bytes == 20 * 1024 * 1024
