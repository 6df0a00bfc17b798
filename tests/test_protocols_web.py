"""The protocols over HTTP: the list, a new protocol, a protocol's page for every role, its lifecycle
(open for signature, back to draft), signing with the password again, each signature checked on the
page, the commitments turned into action items, the table home's protocols in force, and an
external party's signer reaching that protocol and nothing else of the table. Every refusal says
why and changes nothing; pages are read with CSS selectors."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from server.config import Settings
from server.db.models import ActionItem, Protocol, ProtocolParty, ProtocolStatus, Signature
from server.domain.protocol_text import canonical
from tests import protocols_support as ps
from tests.support import Board, css, login, one, post_form, texts


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return ps.protocol_settings(database_url, tmp_path)


def base(board: Board) -> str:
    return f"/tavoli/{board.table.slug}/protocolli"


def page(board: Board, protocol_id: int) -> str:
    return f"{base(board)}/{protocol_id}"


def followed(client: Any, response: Any) -> Any:
    """The page a plain form's redirect (303) leads to, or the refusal itself."""
    return client.get(response.headers["location"]) if response.status_code == 303 else response


def post(client: Any, board: Board, protocol_id: int, suffix: str, data: dict[str, Any] | None = None) -> Any:
    sent = post_form(client, f"{page(board, protocol_id)}/{suffix}", data or {}, page=page(board, protocol_id))
    return followed(client, sent)


def count(board: Board, model: Any, *where: Any) -> int:
    return board.seed.run(lambda s: s.scalar(select(func.count()).select_from(model).where(*where)))  # type: ignore[no-any-return]


def status_of(board: Board, protocol_id: int) -> ProtocolStatus:
    return ps.current(board, protocol_id).status


# --- the list and a new protocol ----------------------------------------------------------------


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org", "observer@example.org"])
def test_every_role_reads_the_list_of_protocols(client, board, email):
    protocol = ps.draft(board, "Protocollo di sito Interporto")
    login(client, email)
    response = client.get(base(board))
    assert response.status_code == 200
    assert texts(response.text, "#protocols-list .protocol-entry a") == ["Protocollo di sito Interporto"]
    assert one(response.text, "#protocols-list .protocol-entry").attributes["data-status"] == "draft"
    assert css(response.text, f'#protocols-list a[href="{page(board, protocol.id)}"]')
    new_button = css(response.text, f'a[href="{base(board)}/nuovo"]')
    assert bool(new_button) == (email == "chair@example.org")


def test_the_list_is_404_to_someone_without_a_role_and_sends_the_anonymous_to_log_in(client, board):
    assert client.get(base(board), follow_redirects=False).status_code == 303
    login(client, "outsider@example.org")
    assert client.get(base(board)).status_code == 404


def test_the_secretary_creates_a_protocol_once_and_lands_on_its_page(client, board):
    login(client, "secretary@example.org")
    form = client.get(f"{base(board)}/nuovo")
    assert form.status_code == 200
    key = one(form.text, '#new-protocol-form input[name="client_key"]').attributes["value"]
    data = {"kind": "site", "title": "Protocollo di sito Aeroporto", "valid_until": "2028-12-31", "client_key": key}
    first = post_form(client, f"{base(board)}/nuovo", data, page=f"{base(board)}/nuovo")
    again = post_form(client, f"{base(board)}/nuovo", data, page=f"{base(board)}/nuovo")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert count(board, Protocol) == 1
    shown = client.get(first.headers["location"])
    assert one(shown.text, "h1.protocol-title").text() == "Protocollo di sito Aeroporto"
    assert one(shown.text, "#protocol").attributes["data-status"] == "draft"
    assert one(shown.text, "#protocol .protocol-kind").text() == "Protocollo di sito"


def test_a_new_protocol_without_title_or_kind_is_refused_beside_its_fields(client, board):
    login(client, "chair@example.org")
    response = post_form(client, f"{base(board)}/nuovo", {"kind": "nonsense", "title": ""}, page=f"{base(board)}/nuovo")
    assert response.status_code == 422
    assert css(response.text, "#new-protocol-kind-error")
    assert css(response.text, "#title-error")
    assert any(node.text().strip() for node in css(response.text, '[role="alert"]'))
    assert count(board, Protocol) == 0


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_create_protocols(client, board, email):
    login(client, email)
    assert client.get(f"{base(board)}/nuovo").status_code == 403
    response = post_form(client, f"{base(board)}/nuovo", {"kind": "site", "title": "X"}, page=base(board))
    assert response.status_code == 403
    assert count(board, Protocol) == 0


# --- the draft's page by role -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "opens", "manages", "writes"),
    [
        ("chair@example.org", True, True, True),
        ("secretary@example.org", False, True, True),
        ("member@example.org", False, False, True),  # a member of CGIL, a party
        ("observer@example.org", False, False, False),
        ("admin@example.org", False, False, False),
    ],
)
def test_the_draft_page_shows_each_role_what_it_may_do(client, board, email, opens, manages, writes):
    protocol = ps.draft(board)
    ps.with_parties(board, protocol.id)
    login(client, email)
    html = client.get(page(board, protocol.id)).text
    assert bool(css(html, f'#protocol form[action="{page(board, protocol.id)}/apri"]')) == opens
    assert bool(css(html, "#protocol-party-form")) == manages
    assert bool(css(html, "#protocol-annex-form")) == manages
    assert bool(css(html, "#protocol-details-form")) == manages
    editor = one(html, "#protocol-draft [data-doc-editor]")
    assert (editor.attributes.get("data-readonly") is None) == writes
    assert bool(css(html, '#protocol-draft [data-command="commitment"]')) == writes
    if writes:
        template = editor.attributes["data-commitment-template"] or ""
        assert template.startswith("### Impegno — ")
    assert "aperto alla firma" in (editor.attributes["data-msg-frozen"] or "")
    assert texts(html, "#protocol-parties .party-name") == ["CGIL Bologna", "CNA Bologna"]


def test_a_member_of_an_organisation_that_is_not_a_party_reads_the_draft_without_writing(client, board):
    protocol = ps.draft(board)
    ps.add_party(board, protocol.id, organisation=board.cna, signatory="secretary@example.org")
    login(client, "member@example.org")  # CGIL: not a party
    html = client.get(page(board, protocol.id)).text
    assert one(html, "#protocol-draft [data-doc-editor]").attributes["data-readonly"] == "true"
    before = ps.current(board, protocol.id).version
    refused = post(client, board, protocol.id, "testo", {"base": ps.TEXT, "protocol_text": "Altro testo\n"})
    assert refused.status_code == 403
    assert ps.current(board, protocol.id).version == before


def test_a_party_member_saves_the_text_without_javascript_and_a_stale_base_is_409(client, board):
    protocol = ps.draft(board)
    ps.with_parties(board, protocol.id)
    login(client, "member@example.org")
    changed = ps.TEXT + "\nUn paragrafo in più.\n"
    saved = post(client, board, protocol.id, "testo", {"base": ps.TEXT, "protocol_text": changed})
    assert saved.status_code == 200  # followed to the page
    assert one(saved.text, 'textarea[name="protocol_text"]').text() == changed
    stale = post(client, board, protocol.id, "testo", {"base": "# Vecchio\n", "protocol_text": "Altro\n"})
    assert stale.status_code == 409
    assert one(stale.text, "#protocol-alert").text().strip()


def test_a_malformed_commitment_is_shown_before_opening_and_opening_is_refused_with_every_error(client, board):
    bad = "# Protocollo\n\n### Impegno — Nessuna Parte — entro 2027-02-30\n\nQualcosa.\n"
    protocol = ps.draft(board, text=bad)
    ps.with_parties(board, protocol.id)
    login(client, "chair@example.org")
    html = client.get(page(board, protocol.id)).text
    errors = texts(html, "#protocol .protocol-commitment-errors li")
    assert errors
    assert all(error.startswith("riga 3") for error in errors)
    refused = post(client, board, protocol.id, "apri", {"version": ps.current(board, protocol.id).version})
    assert refused.status_code == 422
    assert "riga 3" in one(refused.text, "#protocol-alert").text()
    assert status_of(board, protocol.id) is ProtocolStatus.draft


def test_opening_without_parties_is_refused_and_says_why(client, board):
    protocol = ps.draft(board)
    login(client, "chair@example.org")
    refused = post(client, board, protocol.id, "apri", {"version": protocol.version})
    assert refused.status_code == 422
    assert "parte" in one(refused.text, "#protocol-alert").text()
    assert status_of(board, protocol.id) is ProtocolStatus.draft


@pytest.mark.parametrize("email", ["secretary@example.org", "member@example.org", "observer@example.org"])
def test_only_the_chair_opens_a_protocol(client, board, email):
    protocol = ps.draft(board)
    ps.with_parties(board, protocol.id)
    login(client, email)
    assert post(client, board, protocol.id, "apri", {"version": protocol.version}).status_code == 403
    assert status_of(board, protocol.id) is ProtocolStatus.draft


def test_the_chair_opens_it_the_page_shows_the_frozen_text_and_its_hashes(client, board):
    protocol = ps.draft(board)
    ps.with_parties(board, protocol.id)
    login(client, "chair@example.org")
    opened = post(client, board, protocol.id, "apri", {"version": ps.current(board, protocol.id).version})
    assert opened.status_code == 200
    assert one(opened.text, "#protocol").attributes["data-status"] == "open"
    expected = hashlib.sha256(canonical(ps.TEXT)).hexdigest()
    assert one(opened.text, "#protocol-text .protocol-text-sha256").text() == expected
    assert "Formare i delegati" in one(opened.text, "#protocol-text .protocol-frozen-text").text()
    assert not css(opened.text, "#protocol-draft")
    commitments = css(opened.text, "#protocol-commitments .protocol-commitment")
    assert [node.attributes["data-state"] for node in commitments] == ["pending", "pending"]
    assert texts(opened.text, "#protocol-commitments .commitment-title") == [
        "Formare i delegati dei cantieri.",
        "Applicare il contratto nazionale nei subappalti.",
    ]
    assert one(opened.text, f'#protocol form[action="{page(board, protocol.id)}/bozza"]')


def test_the_chair_takes_it_back_to_draft_only_while_nobody_signed(client, board):
    protocol, parties = ps.ready(board)
    login(client, "chair@example.org")
    back = post(client, board, protocol.id, "bozza", {"version": ps.current(board, protocol.id).version})
    assert back.status_code == 200
    assert one(back.text, "#protocol").attributes["data-status"] == "draft"
    reopened = ps.open_it(board, protocol.id)
    login(client, "secretary@example.org")
    signed = post(client, board, protocol.id, "firma", {"party": parties[1].id, "password": "password-for-tests-only"})
    assert signed.status_code == 200
    login(client, "chair@example.org")
    refused = post(client, board, protocol.id, "bozza", {"version": ps.current(board, protocol.id).version})
    assert refused.status_code == 422
    assert "firmato" in one(refused.text, "#protocol-alert").text()
    assert status_of(board, protocol.id) is ProtocolStatus.open
    assert reopened.id == protocol.id


# --- signing ------------------------------------------------------------------------------------


def test_the_signatory_sees_the_exact_text_and_hashes_before_signing(client, board):
    protocol, parties = ps.ready(board)
    login(client, "member@example.org")
    html = client.get(page(board, protocol.id)).text
    link = one(html, f"#party-{parties[0].id} a.protocol-sign")
    assert "hidden" not in link.attributes  # their own page shows it
    assert "hidden" in one(html, f"#party-{parties[1].id} a.protocol-sign").attributes  # carried hidden
    sign_page = client.get(link.attributes["href"] or "")
    assert sign_page.status_code == 200
    assert one(sign_page.text, "pre.sign-text").text() == canonical(ps.TEXT).decode()
    assert one(sign_page.text, ".sign-text-sha256").text() == hashlib.sha256(canonical(ps.TEXT)).hexdigest()
    assert one(sign_page.text, 'label[for="sign-password"]')
    assert one(sign_page.text, f'#sign-form input[name="party"][value="{parties[0].id}"]')


def test_a_wrong_password_signs_nothing_and_says_so(client, board):
    protocol, parties = ps.ready(board)
    login(client, "member@example.org")
    refused = post(client, board, protocol.id, "firma", {"party": parties[0].id, "password": "sbagliata"})
    assert refused.status_code == 422
    assert "password" in one(refused.text, '#sign-alert[role="alert"]').text().lower()
    assert count(board, Signature) == 0


@pytest.mark.parametrize("email", ["chair@example.org", "observer@example.org"])
def test_someone_who_does_not_sign_for_the_party_is_refused(client, board, email):
    protocol, parties = ps.ready(board)
    login(client, email)
    # the observer is CGIL's substitute: they may sign for CGIL, not for CNA
    refused = post(client, board, protocol.id, "firma", {"party": parties[1].id, "password": "password-for-tests-only"})
    assert refused.status_code == 403
    assert count(board, Signature) == 0


def test_a_signature_shows_valid_and_the_last_one_brings_the_protocol_into_force(client, board):
    protocol, parties = ps.ready(board)
    login(client, "member@example.org")
    first = post(client, board, protocol.id, "firma", {"party": parties[0].id, "password": "password-for-tests-only"})
    assert first.status_code == 200
    assert one(first.text, f"#party-{parties[0].id}").attributes["data-signed"] == "yes"
    assert one(first.text, f"#party-{parties[0].id} .signature-check").attributes["data-check"] == "valid"
    assert one(first.text, f"#party-{parties[1].id}").attributes["data-signed"] == "no"
    login(client, "secretary@example.org")
    last = post(client, board, protocol.id, "firma", {"party": parties[1].id, "password": "password-for-tests-only"})
    assert one(last.text, "#protocol").attributes["data-status"] == "in_force"
    states = [node.attributes["data-state"] for node in css(last.text, "#protocol-commitments .protocol-commitment")]
    assert states == ["open", "open"]
    assert count(board, ActionItem) == 2
    home = client.get(f"/tavoli/{board.table.slug}").text
    assert texts(home, "#protocols-in-force .protocol-in-force > a") == ["Protocollo appalti"]
    assert len(css(home, "#protocols-in-force .open-commitments li")) == 2


def test_a_tampered_statement_shows_the_signature_broken_and_why(client, board):
    protocol, parties = ps.ready(board)
    login(client, "member@example.org")
    post(client, board, protocol.id, "firma", {"party": parties[0].id, "password": "password-for-tests-only"})

    async def tamper(session: Any) -> None:
        row = await session.scalar(select(Signature))
        statement = bytes(row.statement).replace(b"CGIL", b"CGII")
        await session.execute(update(Signature).where(Signature.id == row.id).values(statement=statement))

    board.seed.run(tamper)
    html = client.get(page(board, protocol.id)).text
    check = one(html, f"#party-{parties[0].id} .signature-check")
    assert check.attributes["data-check"] == "broken"
    assert texts(html, f"#party-{parties[0].id} .signature-reasons li")


def test_the_verification_bundle_is_downloaded_from_the_page(client, board):
    protocol, parties = ps.ready(board)
    login(client, "member@example.org")
    post(client, board, protocol.id, "firma", {"party": parties[0].id, "password": "password-for-tests-only"})
    html = client.get(page(board, protocol.id)).text
    link = one(html, f'#protocol a[href="{page(board, protocol.id)}/verifica.zip"]')
    response = client.get(link.attributes["href"] or "")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(name.endswith("VERIFY.md") for name in names)
    assert any(name.endswith("text.md") for name in names)


def test_the_chair_gives_a_commitment_to_another_owner_and_others_cannot(client, board):
    protocol, parties = ps.ready(board)
    for email, party in (("member@example.org", parties[0]), ("secretary@example.org", parties[1])):
        login(client, email)
        post(client, board, protocol.id, "firma", {"party": party.id, "password": "password-for-tests-only"})
    login(client, "chair@example.org")
    html = client.get(page(board, protocol.id)).text
    form = css(html, "#protocol-commitments form")[0]
    action = form.attributes["action"] or ""
    assert one(html, f'#protocol-commitments select option[value="{board.observer.id}"]')
    moved = followed(client, post_form(client, action, {"owner": board.observer.id}, page=page(board, protocol.id)))
    assert moved.status_code == 200
    owners = board.seed.run(lambda s: s.scalars(select(ActionItem.owner_id).order_by(ActionItem.id)))
    assert next(iter(owners)) == board.observer.id
    login(client, "secretary@example.org")
    assert post_form(client, action, {"owner": board.secretary.id}, page=page(board, protocol.id)).status_code == 403


# --- an external party ---------------------------------------------------------------------------


def test_an_external_partys_signer_reaches_that_protocol_and_nothing_else_of_the_table(client, board):
    text = "# Intesa\n\n### Impegno — Logistica Futura S.p.A. — entro 2027-09-30\n\nAssumere dal territorio.\n"
    protocol = ps.draft(board, "Intesa per la buona occupazione", text=text)
    other = ps.draft(board, "Un altro protocollo")
    external = ps.add_party(board, protocol.id, external="Logistica Futura S.p.A.", signatory="outsider@example.org")
    ps.add_party(board, protocol.id, organisation=board.cna, signatory="secretary@example.org")
    login(client, "outsider@example.org")
    reached = client.get(page(board, protocol.id))
    assert reached.status_code == 200
    assert one(reached.text, "h1.protocol-title").text() == "Intesa per la buona occupazione"
    assert not css(reached.text, "#live")  # no table socket for them
    assert not css(reached.text, "#protocol-draft [data-doc-editor]")
    assert "Logistica Futura" in one(reached.text, "#protocol-parties").text()
    for path in (
        f"/tavoli/{board.table.slug}",
        base(board),
        page(board, other.id),
        board.meeting_url,
        f"{base(board)}/nuovo",
        f"/tavoli/{board.table.slug}/azioni",
    ):
        assert client.get(path, follow_redirects=False).status_code == 404, path
    assert post(client, board, protocol.id, "testo", {"base": text, "protocol_text": "X\n"}).status_code == 404
    assert post(client, board, protocol.id, "parti", {"external_name": "Altra"}).status_code == 404
    ps.open_it(board, protocol.id)
    signed = post(client, board, protocol.id, "firma", {"party": external.id, "password": "password-for-tests-only"})
    assert signed.status_code == 200
    assert one(signed.text, f"#party-{external.id}").attributes["data-signed"] == "yes"
    assert client.get(f"{page(board, protocol.id)}/verifica.zip").status_code == 200
    assert count(board, ProtocolParty, ProtocolParty.external.is_(True)) == 1


def test_the_site_home_lists_the_protocols_a_person_signs_for(client, board):
    protocol = ps.draft(board, "Intesa per la buona occupazione")
    ps.draft(board, "Un altro protocollo")
    ps.add_party(board, protocol.id, external="Logistica Futura S.p.A.", signatory="outsider@example.org")
    login(client, "outsider@example.org")  # an external party's signer: no table of their own
    home = client.get("/")
    links = [a.attributes["href"] for a in css(home.text, "#my-protocols + ul a")]
    assert links == [page(board, protocol.id)]
    assert "Logistica Futura S.p.A." in one(home.text, "#my-protocols + ul li").text()
    assert not css(home.text, "#my-tables")  # no "you sit at no table" for them
    login(client, "observer@example.org")  # signs for nothing
    assert not css(client.get("/").text, "#my-protocols")


def sign_all(client: Any, board: Board, protocol_id: int, parties: list[Any]) -> Any:
    answer = None
    for email, party in (("member@example.org", parties[0]), ("secretary@example.org", parties[1])):
        login(client, email)
        answer = post(client, board, protocol_id, "firma", {"party": party.id, "password": "password-for-tests-only"})
    return answer


def test_a_party_adheres_to_a_protocol_in_force_by_signing_the_same_text(client, board):
    protocol, parties = ps.ready(board)
    sign_all(client, board, protocol.id, parties)
    login(client, "secretary@example.org")
    html = client.get(page(board, protocol.id)).text
    assert one(html, "#protocol-party-form h2").text() == "Aggiungi una parte che aderisce"
    added = post(
        client,
        board,
        protocol.id,
        "parti",
        {"organisation": "", "external_name": "Logistica Futura S.p.A.", "signatory": "outsider@example.org"},
    )
    assert added.status_code == 200
    adhering = [n for n in css(added.text, "#protocol-parties .protocol-party") if n.css(".party-adhering")]
    assert len(adhering) == 1
    party_id = int((adhering[0].attributes["id"] or "").removeprefix("party-"))
    login(client, "outsider@example.org")
    sign = client.get(f"{page(board, protocol.id)}/firma?parte={party_id}")
    assert one(sign.text, ".sign-text-sha256").text() == hashlib.sha256(canonical(ps.TEXT)).hexdigest()
    signed = post(client, board, protocol.id, "firma", {"party": party_id, "password": "password-for-tests-only"})
    assert one(signed.text, f"#party-{party_id}").attributes["data-signed"] == "yes"
    assert one(signed.text, "#protocol").attributes["data-status"] == "in_force"
    assert count(board, Signature) == 3


def test_a_new_protocol_supersedes_one_in_force_and_both_pages_link_each_other(client, board):
    old, parties = ps.ready(board, "Protocollo appalti 2026")
    sign_all(client, board, old.id, parties)
    login(client, "chair@example.org")
    form = client.get(f"{base(board)}/nuovo").text
    assert one(form, f'#new-protocol-supersedes option[value="{old.id}"]').text() == "Protocollo appalti 2026"
    data = {"kind": "procurement", "title": "Addendum 2027", "supersedes": str(old.id)}
    made = post_form(client, f"{base(board)}/nuovo", data, page=f"{base(board)}/nuovo")
    new = client.get(made.headers["location"]).text
    assert one(new, "#protocol .protocol-supersedes a").text() == "Protocollo appalti 2026"
    new_id = int(made.headers["location"].rsplit("/", 1)[-1])
    shown = client.get(page(board, old.id)).text
    assert one(shown, "#protocol .protocol-superseded-by a").attributes["href"] == page(board, new_id)
    refused = post_form(
        client, f"{base(board)}/nuovo", {**data, "supersedes": str(new_id)}, page=f"{base(board)}/nuovo"
    )
    assert refused.status_code == 422  # a draft is not in force: nothing to replace
    assert one(refused.text, "#new-protocol-supersedes-error").text()
