"""A table's protocols: the list (`/tavoli/<slug>/protocolli`), a new one (`…/nuovo`), one
protocol's page (`…/<id>`) and what is done from it: its details, text, parties, annexes (PDF
uploads, bounded by TAVOLI_UPLOAD_MAX_BYTES), opening for signature and back to draft, signing
(`…/<id>/firma`: the exact text, the hashes, the password again), the commitments' owners, the
annexes' and the verification bundle's downloads.

Every role on the table reads every protocol; the domain decides who changes what
(server/domain/protocols.py, `protocol_access`) and checks it again on every request. A party's
signatory and substitute without a role on the table (an external party's people) reach the
routes declared with `ProtocolRoute` for *that* protocol only — its page, its annexes, its bundle,
signing — and nothing else of the table: every other route of the table stays a 404 for them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response

from server.db.models import Organisation, Protocol, ProtocolKind, ProtocolStatus, Role, Signature, SignatureKind
from server.db.session import Database
from server.domain import (
    documents,
    proposal_bodies,
    protocol_access,
    protocol_annexes,
    protocol_bundle,
    protocol_commitments,
    protocol_keys,
    protocol_parties,
    protocol_seal,
    protocols,
    qualified,
    signatures,
)
from server.domain.actions import Actor
from server.domain.errors import Forbidden, Invalid, NotFound, Stale
from server.domain.inputs import is_record_id
from server.domain.protocol_access import ProtocolAccess
from server.domain.protocol_keys import KeyFileError
from server.domain.protocol_text import COMMITMENT_TEMPLATE
from server.i18n import _
from server.live.connection import RECONNECT
from server.live.documents import FROZEN
from server.views.areas import CATALOG
from server.views.audience import Screen
from server.views.protocols import LIST_PAGE, PROTOCOL_PAGE, SCREEN
from server.views.regions import people_of
from server.web.access import TableAccess, TableEndpoint, TableRoute, authorize, table_and_membership
from server.web.editing import Refused, attempt
from server.web.forms import bad_request, new_client_key, number, optional_id, redirect, render, text
from server.web.live import live_query, present_on

log = logging.getLogger(__name__)
T = TypeVar("T")


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _protocol_id(request: Request) -> int:
    return int(request.path_params["protocol_id"])


def _actor(access: TableAccess) -> Actor:
    assert access.viewer.user_id is not None
    return Actor(access.viewer.user_id, access.role)


def _url(request: Request, access: TableAccess, anchor: str = "") -> str:
    path = request.app.url_path_for("protocol", slug=access.table.slug, protocol_id=_protocol_id(request))
    return str(path) + anchor


def _errors(exc: Invalid) -> str:
    return " ".join(exc.errors.values())


# --- who reaches a protocol ---------------------------------------------------------------------


async def _authorize_protocol(request: Request, role: Role) -> TableAccess:
    """`authorize`, and for whoever it turns away (no role on the table): a signer of one of the
    protocol's parties reaches it, as an external person (membership None)."""
    try:
        return await authorize(request, request.path_params["slug"], role)
    except HTTPException as refused:
        viewer = request.state.viewer
        if not viewer.authenticated or viewer.user_id is None:
            raise
        async with _db(request).read() as session:
            table, membership = await table_and_membership(session, request.path_params["slug"], viewer.user_id)
            if table is None or membership is not None:
                raise
            reachable = await protocol_access.reachable_protocols(session, table.id, viewer.user_id)
        if _protocol_id(request) not in reachable:
            raise refused from None
        return TableAccess(table, viewer, None)


class ProtocolRoute(TableRoute):
    """A route of one protocol (`{protocol_id}` in its path) that a party's signers reach even
    without a role on the table; everyone else is checked as by `TableRoute`."""

    def __init__(
        self,
        path: str,
        endpoint: TableEndpoint,
        *,
        role: Role,
        methods: Sequence[str] = ("GET",),
        name: str | None = None,
    ) -> None:
        if "{protocol_id" not in path:
            raise ValueError(f"a protocol route needs {{protocol_id}} in its path: {path}")
        super().__init__(path, endpoint, role=role, methods=methods, name=name)

        async def checked(request: Request) -> Response:
            ids = (value for value in request.path_params.values() if isinstance(value, int))
            if not all(is_record_id(value) for value in ids):
                raise HTTPException(404)
            access = await _authorize_protocol(request, role)
            return await endpoint(request, access)

        self.app = request_response(checked)


async def _access(session: AsyncSession, access: TableAccess, protocol: Protocol) -> ProtocolAccess:
    return await protocol_access.protocol_access(
        session, protocol, access.viewer.user_id, access.role, is_admin=access.viewer.is_admin
    )


# --- the pages ----------------------------------------------------------------------------------


async def protocol_list(request: Request, access: TableAccess) -> Response:
    page = Screen("protocols", None)
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, LIST_PAGE, page, access.audience)
    context = {**data, "audience": access.audience, "live_query": live_query(page)}
    return render(request, "protocols/list.html", context)


def _kind_options() -> list[tuple[str, str]]:
    return [(kind.value, protocols.protocol_kind_label(kind)) for kind in ProtocolKind]


async def _in_force_options(session: AsyncSession, table_id: int, own_id: int | None) -> list[tuple[str, str]]:
    found = await protocols.protocols_of(session, table_id, statuses=[ProtocolStatus.in_force])
    return [("", _("None"))] + [(str(p.id), p.title) for p in found if p.id != own_id]


async def new_protocol_page(request: Request, access: TableAccess) -> Response:
    return await _new_form(request, access, {"client_key": new_client_key()})


async def _new_form(request: Request, access: TableAccess, form: dict[str, Any], status: int = 200) -> Response:
    async with _db(request).read() as session:
        supersedes = await _in_force_options(session, access.table.id, None)
    context = {
        "table": access.table,
        "audience": access.audience,
        "form": form,
        "kind_options": _kind_options(),
        "supersedes_options": supersedes,
    }
    return render(request, "protocols/new.html", context, status)


def _typed_details(form: FormData) -> dict[str, Any]:
    return {
        "kind": text(form, "kind", 40),
        "title": text(form, "title", 600),
        "valid_from": text(form, "valid_from", 40),
        "valid_until": text(form, "valid_until", 40),
        "signing_order": text(form, "signing_order", 10) == "on",
        "supersedes": text(form, "supersedes", 20),
    }


def _parse_details(typed: dict[str, Any]) -> protocols.ProtocolValues:
    return protocols.parse_protocol(**typed)


async def create(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed = _typed_details(form)
    key = text(form, "client_key", 40)
    try:
        values = _parse_details(typed)
        async with _db(request).transaction() as session:
            protocol = await protocols.create_protocol(
                session, access.table, values, actor=_actor(access), client_key=key or None
            )
    except Invalid as exc:
        return await _new_form(request, access, {**typed, "client_key": key, "errors": exc.errors}, 422)
    return redirect(str(request.app.url_path_for("protocol", slug=access.table.slug, protocol_id=protocol.id)))


async def _editor(request: Request, access: TableAccess, protocol: Protocol, rights: ProtocolAccess) -> Any:
    """The draft's document for this viewer (None once the text is frozen): written by those who
    edit it, read live by the others with a role; an external signer reads it without the socket."""
    if protocol.status is not ProtocolStatus.draft or not rights.reads:
        return None
    async with _db(request).read() as session:
        document = await protocols.protocol_document(session, protocol)
        if document is None:
            return None
        current = await documents.text_of(session, document.id)
    writes = rights.edits_text and document.frozen_at is None
    shown = Markup("")
    if not writes:
        html = await _db(request).markdown.render(current)
        shown = Markup('<div class="markdown" hx-disable>{}</div>').format(Markup(html))  # noqa: S704
    return {"id": document.id, "writes": writes, "text": current, "html": shown, "live": not rights.external}


async def _page(request: Request, access: TableAccess, status: int = 200, **extra: Any) -> Response:
    page = Screen(SCREEN, _protocol_id(request))
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, PROTOCOL_PAGE, page, access.audience)
        protocol: Protocol = data["protocol"]
        rights = await _access(session, access, protocol)
        if not rights.reads:
            raise HTTPException(404)
        external = rights.external
        data["present"] = [] if external else await present_on(request, session, access.table)
        people = [] if external else await people_of(session, access.table.id)
        seated = [] if external else await _seated_options(session, access.table.id)
        supersedes = [] if external else await _in_force_options(session, access.table.id, protocol.id)
    editor = await _editor(request, access, protocol, rights)
    context = {
        **data,
        "audience": access.audience,
        "rights": rights,
        "signs_for": rights.signs_for,
        "live_query": live_query(page),
        "editor": editor,
        "commitment_template": COMMITMENT_TEMPLATE,
        "people": people,
        "organisation_options": seated,
        "kind_options": _kind_options(),
        "supersedes_options": supersedes,
        "details_form": {},
        "party_form": {},
        "annex_form": {},
        "message": None,
        "upload_limit_mib": request.app.state.settings.upload_max_bytes // (1024 * 1024),
        **extra,
    }
    return render(request, "protocols/protocol.html", context, status)


async def _seated_options(session: AsyncSession, table_id: int) -> list[tuple[str, str]]:
    seated = await protocol_parties.seated_organisations(session, table_id)
    if not seated:
        return []
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(seated)).order_by(Organisation.name)
    )
    return [(str(organisation_id), name) for organisation_id, name in rows.all()]


async def protocol_page(request: Request, access: TableAccess) -> Response:
    return await _page(request, access)


async def _answer(request: Request, access: TableAccess, outcome: Any, anchor: str = "") -> Response:
    if isinstance(outcome, Refused):
        return await _page(request, access, outcome.status, message=outcome.message)
    return redirect(_url(request, access, anchor))


def _as_it_is_now() -> str:
    return _("This is the state of the protocol now: check it and try again.")


async def _try(request: Request, change: Callable[[AsyncSession], Awaitable[T]]) -> T | Refused:
    return await attempt(request, change, as_it_is_now=_as_it_is_now())


# --- details and text ----------------------------------------------------------------------------


async def update_details(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed = _typed_details(form)
    version = number(form, "version")
    try:
        values = _parse_details(typed)
        async with _db(request).transaction() as session:
            await protocols.update_protocol(
                session, access.table, _protocol_id(request), values, version=version, actor=_actor(access)
            )
    except Invalid as exc:
        return await _page(request, access, 422, details_form={**typed, "errors": exc.errors}, message=_errors(exc))
    except Stale as exc:
        return await _page(request, access, 409, details_form=typed, message=f"{exc} {_as_it_is_now()}")
    return redirect(_url(request, access))


async def save_text(request: Request, access: TableAccess) -> Response:
    """The editor's stand-in without JavaScript: the difference from the text the form was loaded
    with is applied to the draft (409 when someone changed it meanwhile)."""
    form = await request.form()
    base, typed = text(form, "base", 4_000_000), text(form, "protocol_text", 4_000_000)
    row_id = None
    try:
        async with _db(request).transaction() as session:
            protocol = await protocols.get_protocol(session, access.table.id, _protocol_id(request))
            rights = await _access(session, access, protocol)
            document = await protocols.protocol_document(session, protocol)
            if not rights.edits_text:
                raise Forbidden(_("You cannot change the text of this protocol."))
            if document is None or document.frozen_at is not None or protocol.status is not ProtocolStatus.draft:
                raise Invalid({"text": _("The text of this protocol cannot be changed now.")})
            update = await documents.apply_text(
                session,
                document.id,
                base=base,
                new=typed,
                user_id=access.viewer.user_id,
                limit=request.app.state.settings.doc_max_bytes,
            )
            if update is not None:
                row_id = await proposal_bodies.latest_update_id(session, document.id)
                assert access.viewer.user_id is not None
                stored = await documents.text_of(session, document.id)
                await protocol_access.document_changed(session, document, stored, frozenset({access.viewer.user_id}))
    except (Invalid, documents.DocumentTooLarge, documents.DocumentFrozen) as exc:
        message = _errors(exc) if isinstance(exc, Invalid) else str(exc)
        return await _page(request, access, 422, message=message)
    except Stale:
        return await _page(request, access, 409, message=_("Someone else changed this text in the meantime."))
    if row_id is not None:
        await request.app.state.documents.publish(document.id, row_id)
    return redirect(_url(request, access, "#protocol-draft"))


# --- lifecycle -----------------------------------------------------------------------------------


async def open_protocol(request: Request, access: TableAccess) -> Response:
    version = number(await request.form(), "version")

    async def change(session: AsyncSession) -> protocols.Moved:
        return await protocols.open_for_signature(
            session, access.table, _protocol_id(request), version=version, actor=_actor(access)
        )

    outcome = await _try(request, change)
    if not isinstance(outcome, Refused) and outcome.document_id is not None:
        await request.app.state.documents.close_document(outcome.document_id, FROZEN)
    if not isinstance(outcome, Refused):
        await _make_pdf_to_sign(request, _protocol_id(request))
    return await _answer(request, access, outcome)


async def _make_pdf_to_sign(request: Request, protocol_id: int) -> None:
    """The stored PDF/A of the version just frozen, made right after the opening committed (outside
    its transaction) so that the parties' uploads of their firma digitale can be checked against it.
    A failure is logged and leaves the opening as it is: the first download makes the PDF then."""
    try:
        await protocol_seal.pdf_to_sign(_db(request), protocol_id, base_url=request.app.state.settings.base_url)
    except Exception:
        log.exception("the PDF to sign of protocol %s could not be made after opening", protocol_id)


async def back_to_draft(request: Request, access: TableAccess) -> Response:
    version = number(await request.form(), "version")

    async def change(session: AsyncSession) -> protocols.Moved:
        return await protocols.back_to_draft(
            session, access.table, _protocol_id(request), version=version, actor=_actor(access)
        )

    outcome = await _try(request, change)
    if not isinstance(outcome, Refused) and outcome.document_id is not None:
        await request.app.state.documents.close_document(outcome.document_id, RECONNECT)
    return await _answer(request, access, outcome)


# --- parties -------------------------------------------------------------------------------------


def _typed_party(form: FormData) -> dict[str, str]:
    return {
        "organisation": text(form, "organisation", 20),
        "external_name": text(form, "external_name", 600),
        "signatory": text(form, "signatory", 400),
        "substitute": text(form, "substitute", 400),
        "position": text(form, "position", 20),
    }


async def add_party(request: Request, access: TableAccess) -> Response:
    typed = _typed_party(await request.form())
    try:
        values = protocol_parties.parse_party(**typed)
        async with _db(request).transaction() as session:
            await protocol_parties.add_party(session, access.table, _protocol_id(request), values, actor=_actor(access))
    except Invalid as exc:
        return await _page(request, access, 422, party_form={**typed, "errors": exc.errors}, message=_errors(exc))
    return redirect(_url(request, access, "#protocol-parties"))


async def update_party(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    party_id = int(request.path_params["party_id"])
    try:
        values = protocol_parties.parse_signers(
            signatory=text(form, "signatory", 400),
            substitute=text(form, "substitute", 400),
            position=text(form, "position", 20),
        )
        async with _db(request).transaction() as session:
            await protocol_parties.update_party(
                session, access.table, _protocol_id(request), party_id, values, actor=_actor(access)
            )
    except Invalid as exc:
        return await _page(request, access, 422, message=_errors(exc))
    return redirect(_url(request, access, "#protocol-parties"))


async def remove_party(request: Request, access: TableAccess) -> Response:
    party_id = int(request.path_params["party_id"])

    async def change(session: AsyncSession) -> None:
        await protocol_parties.remove_party(
            session, access.table, _protocol_id(request), party_id, actor=_actor(access)
        )

    return await _answer(request, access, await _try(request, change), "#protocol-parties")


# --- annexes -------------------------------------------------------------------------------------


async def add_annex(request: Request, access: TableAccess) -> Response:
    """A PDF annex (multipart): the body was read within TAVOLI_UPLOAD_MAX_BYTES by the security
    middleware (413 past it, server/web/security.py); the domain checks the PDF and the size again."""
    limit = request.app.state.settings.upload_max_bytes
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        name = text(form, "name", 100_000)
        if "\x00" in name:  # the security middleware lets a file's NUL bytes through, not a field's
            raise bad_request()
        data, filename = b"", ""
        if isinstance(upload, UploadFile):
            data = await upload.read(limit + 1)
            filename = (upload.filename or "").replace("\x00", "")
        try:
            if len(name) > protocol_annexes.NAME_LIMIT:
                raise Invalid(
                    {"name": _("The name can be at most {n} characters long.").format(n=protocol_annexes.NAME_LIMIT)}
                )
            async with _db(request).transaction() as session:
                await protocol_annexes.add_annex(
                    session,
                    access.table,
                    _protocol_id(request),
                    name=name,
                    filename=filename,
                    data=data,
                    actor=_actor(access),
                    limit=limit,
                )
        except Invalid as exc:
            return await _page(
                request, access, 422, annex_form={"name": name, "errors": exc.errors}, message=_errors(exc)
            )
    finally:
        await form.close()
    return redirect(_url(request, access, "#protocol-annexes"))


async def remove_annex(request: Request, access: TableAccess) -> Response:
    annex_id = int(request.path_params["annex_id"])

    async def change(session: AsyncSession) -> None:
        await protocol_annexes.remove_annex(
            session, access.table, _protocol_id(request), annex_id, actor=_actor(access)
        )

    return await _answer(request, access, await _try(request, change), "#protocol-annexes")


async def _readable(request: Request, access: TableAccess) -> Protocol:
    async with _db(request).read() as session:
        protocol = await protocols.get_protocol(session, access.table.id, _protocol_id(request))
        if not (await _access(session, access, protocol)).reads:
            raise HTTPException(404)
    return protocol


async def download_annex(request: Request, access: TableAccess) -> Response:
    protocol = await _readable(request, access)
    async with _db(request).read() as session:
        annex = await protocol_annexes.get_annex(session, protocol.id, int(request.path_params["annex_id"]))
    name = annex.filename if annex.filename.lower().endswith(".pdf") else f"{annex.filename}.pdf"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return Response(
        bytes(annex.data),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"',
            "X-Content-Type-Options": "nosniff",
            "Digest": f"sha-256={annex.sha256}",
        },
    )


async def download_bundle(request: Request, access: TableAccess) -> Response:
    protocol = await _readable(request, access)
    try:
        current = protocol_keys.current_key(request.app.state.settings.signing_key_file)
    except KeyFileError:
        current = None
    async with _db(request).read() as session:
        version = await protocol_bundle.bundled_version(session, protocol.id)
        if version is None:
            raise HTTPException(404)
        data = await protocol_bundle.bundle(
            session, protocol.id, current=current, base_url=request.app.state.settings.base_url
        )
    name = protocol_bundle.bundle_file_name(protocol.id, version.number) + ".zip"
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- signing -------------------------------------------------------------------------------------


async def _sign_page(
    request: Request, access: TableAccess, party_id: int | None, status: int = 200, message: str | None = None
) -> Response:
    async with _db(request).read() as session:
        protocol = await protocols.get_protocol(session, access.table.id, _protocol_id(request))
        rights = await _access(session, access, protocol)
        if not rights.signs_for:
            raise HTTPException(403, _("Only the party's signatory or its substitute may sign for it."))
        version = await protocols.current_version(session, protocol.id)
        states = await protocols.party_states(session, protocol)
    mine = [state for state in states if state.party.id in rights.signs_for]
    chosen = next((state for state in mine if state.party.id == party_id), mine[0] if len(mine) == 1 else None)
    context = {
        "table": access.table,
        "audience": access.audience,
        "protocol": protocol,
        "version": version,
        "text": version.text.decode("utf-8") if version else "",
        "mine": mine,
        "chosen": chosen,
        "message": message,
        "upload_limit_mib": request.app.state.settings.upload_max_bytes // (1024 * 1024),
    }
    return render(request, "protocols/sign.html", context, status)


async def sign_page(request: Request, access: TableAccess) -> Response:
    party_id = optional_id(request.query_params.get("parte", "")[:20])
    return await _sign_page(request, access, party_id)


async def sign(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    party_id = optional_id(text(form, "party", 20))
    password = text(form, "password", 1000)
    async with _db(request).read() as session:
        protocol = await protocols.get_protocol(session, access.table.id, _protocol_id(request))
        if not (await _access(session, access, protocol)).signs_for:
            raise HTTPException(403, _("Only the party's signatory or its substitute may sign for it."))
    if party_id is None:
        return await _sign_page(request, access, None, 422, _("Choose the party you sign for."))
    try:
        key = protocol_keys.current_key(request.app.state.settings.signing_key_file)
    except KeyFileError:
        log.error("no signing key at %s: run `tavoli keys init`", request.app.state.settings.signing_key_file)
        return await _sign_page(
            request, access, party_id, 503, _("The server cannot seal signatures now: tell the administrator.")
        )
    assert access.viewer.user_id is not None
    try:
        async with _db(request).transaction() as session:
            await signatures.sign(
                session,
                access.table,
                _protocol_id(request),
                party_id=party_id,
                actor_user_id=access.viewer.user_id,
                password=password,
                key=key,
            )
    except Invalid as exc:
        return await _sign_page(request, access, party_id, 422, _errors(exc))
    except Forbidden as exc:
        return await _sign_page(request, access, party_id, 403, str(exc))
    except NotFound as exc:
        return await _sign_page(request, access, None, 404, str(exc))
    return redirect(_url(request, access, "#protocol-parties"))


# --- qualified signatures (firma digitale) ----------------------------------------------------------


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")


async def download_pdf_to_sign(request: Request, access: TableAccess) -> Response:
    """The stored PDF/A of the current version, exactly the bytes a party signs with its firma
    digitale (made now if opening did not make it). 404 while the protocol has no frozen text."""
    protocol = await _readable(request, access)
    try:
        name, data = await protocol_seal.pdf_to_sign(
            _db(request), protocol.id, base_url=request.app.state.settings.base_url
        )
    except NotFound:
        raise HTTPException(404) from None
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{_ascii(name)}"',
            "X-Content-Type-Options": "nosniff",
            "Digest": f"sha-256={hashlib.sha256(data).hexdigest()}",
        },
    )


async def sign_qualified(request: Request, access: TableAccess) -> Response:
    """A party's firma digitale (multipart: party, password, file; `accept_warning` when the chair
    records a file whose signer's name differs from the designated signatory's). The body was read
    within TAVOLI_UPLOAD_MAX_BYTES by the security middleware (413 past it); the domain checks the
    file (server/domain/qualified.py) and refuses it with its reasons in words."""
    settings = request.app.state.settings
    limit = settings.upload_max_bytes
    form = await request.form(max_files=1, max_fields=10)
    try:
        party_id = optional_id(text(form, "party", 20))
        password = text(form, "password", 1000)
        accepting = form.get("accept_warning")
        if accepting not in (None, "", "on"):  # the chair's form sends "on", the signers' none
            raise bad_request()
        accept = accepting == "on"
        upload = form.get("file")
        data, filename = b"", ""
        if isinstance(upload, UploadFile):
            data = await upload.read(limit + 1)
            filename = (upload.filename or "").replace("\x00", "")
    finally:
        await form.close()

    async def refused(status: int, message: str) -> Response:
        if accept:
            return await _page(request, access, status, message=message)
        return await _sign_page(request, access, party_id, status, message)

    if party_id is None:
        return await refused(422, _("Choose the party you sign for."))
    if not data:
        return await refused(422, _("Choose the signed file to upload: the signed PDF or the .p7m file."))
    try:
        key = protocol_keys.current_key(settings.signing_key_file)
    except KeyFileError:
        log.error("no signing key at %s: run `tavoli keys init`", settings.signing_key_file)
        return await refused(503, _("The server cannot seal signatures now: tell the administrator."))
    assert access.viewer.user_id is not None
    try:
        async with _db(request).transaction() as session:
            await qualified.record_qualified(
                session,
                access.table,
                _protocol_id(request),
                party_id=party_id,
                data=data,
                file_name=filename,
                actor_user_id=access.viewer.user_id,
                password=password,
                accept_warning=accept,
                key=key,
                roots=qualified.trust_roots(Path(settings.trust_dir)),
                max_bytes=limit,
            )
    except Invalid as exc:
        return await refused(422, _errors(exc))
    except Forbidden as exc:
        return await refused(403, str(exc))
    except NotFound as exc:
        return await refused(404, str(exc))
    return redirect(_url(request, access, "#protocol-parties"))


def _file_type(signature: Signature) -> tuple[str, str]:
    """The media type of a qualified signature's file and the suffix its download name ends with."""
    kind = str((signature.file_check or {}).get("format") or "")
    if kind == qualified.PADES:
        return "application/pdf", ".pdf"
    if kind == qualified.CADES_DETACHED:
        return "application/pkcs7-signature", ".p7s"
    return "application/pkcs7-mime", ".p7m"


async def download_qualified(request: Request, access: TableAccess) -> Response:
    """The file of the party's latest qualified signature of this protocol, as it was uploaded."""
    protocol = await _readable(request, access)
    async with _db(request).read() as session:
        signature = await session.scalar(
            select(Signature)
            .where(
                Signature.protocol_id == protocol.id,
                Signature.party_id == int(request.path_params["party_id"]),
                Signature.kind == SignatureKind.qualified,
                Signature.file.is_not(None),
            )
            .order_by(Signature.signed_at.desc(), Signature.id.desc())
            .limit(1)
        )
    if signature is None or signature.file is None:
        raise HTTPException(404)
    data = bytes(signature.file)
    media_type, suffix = _file_type(signature)
    name = signature.file_name or "firma"
    if not name.lower().endswith(suffix):
        name += suffix
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{_ascii(name)}"',
            "X-Content-Type-Options": "nosniff",
            "Digest": f"sha-256={hashlib.sha256(data).hexdigest()}",
        },
    )


async def download_sealed(request: Request, access: TableAccess) -> Response:
    """The PDF/A of the protocol with its signature page, sealed by the institution when it is in
    force and a seal is configured (else saying so on its first page); stored once per number of
    signatures (server/domain/protocol_seal.py, `stored_sealed_pdf`)."""
    protocol = await _readable(request, access)
    try:
        name, data = await protocol_seal.stored_sealed_pdf(
            _db(request), protocol.id, seal=request.app.state.seal, base_url=request.app.state.settings.base_url
        )
    except NotFound:
        raise HTTPException(404) from None
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{_ascii(name)}"',
            "X-Content-Type-Options": "nosniff",
            "Digest": f"sha-256={hashlib.sha256(data).hexdigest()}",
        },
    )


# --- commitments ---------------------------------------------------------------------------------


async def assign_commitment(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    owner_id = optional_id(text(form, "owner", 20))
    commitment_id = int(request.path_params["commitment_id"])
    if owner_id is None:
        return await _page(request, access, 422, message=_("Choose the owner."))

    async def change(session: AsyncSession) -> Any:
        return await protocol_commitments.assign_owner(
            session, access.table, _protocol_id(request), commitment_id, owner_id, actor=_actor(access)
        )

    return await _answer(request, access, await _try(request, change), "#protocol-commitments")


async def _on_table(request: Request, access: TableAccess) -> None:
    """The protocol in the address must be one of this table's (404 otherwise, before anything)."""
    async with _db(request).read() as session:
        await protocols.get_protocol(session, access.table.id, _protocol_id(request))


def _checked(endpoint: TableEndpoint) -> TableEndpoint:
    async def run(request: Request, access: TableAccess) -> Response:
        await _on_table(request, access)
        return await endpoint(request, access)

    run.__name__ = endpoint.__name__
    return run


_LIST = "/tavoli/{slug}/protocolli"
_ONE = _LIST + "/{protocol_id:int}"
ROUTES = [
    TableRoute(_LIST, protocol_list, role=Role.observer, name="protocols"),
    TableRoute(_LIST + "/nuovo", new_protocol_page, role=Role.secretary, name="new_protocol"),
    TableRoute(_LIST + "/nuovo", create, role=Role.secretary, methods=["POST"], name="create_protocol"),
    ProtocolRoute(_ONE, _checked(protocol_page), role=Role.observer, name="protocol"),
    TableRoute(
        _ONE + "/dettagli", _checked(update_details), role=Role.secretary, methods=["POST"], name="update_protocol"
    ),
    TableRoute(_ONE + "/testo", _checked(save_text), role=Role.member, methods=["POST"], name="save_protocol_text"),
    TableRoute(_ONE + "/apri", _checked(open_protocol), role=Role.chair, methods=["POST"], name="open_protocol"),
    TableRoute(_ONE + "/bozza", _checked(back_to_draft), role=Role.chair, methods=["POST"], name="protocol_to_draft"),
    TableRoute(_ONE + "/parti", _checked(add_party), role=Role.secretary, methods=["POST"], name="add_protocol_party"),
    TableRoute(
        _ONE + "/parti/{party_id:int}",
        _checked(update_party),
        role=Role.secretary,
        methods=["POST"],
        name="update_protocol_party",
    ),
    TableRoute(
        _ONE + "/parti/{party_id:int}/rimuovi",
        _checked(remove_party),
        role=Role.secretary,
        methods=["POST"],
        name="remove_protocol_party",
    ),
    TableRoute(
        _ONE + "/allegati", _checked(add_annex), role=Role.secretary, methods=["POST"], name="add_protocol_annex"
    ),
    ProtocolRoute(
        _ONE + "/allegati/{annex_id:int}", _checked(download_annex), role=Role.observer, name="protocol_annex"
    ),
    TableRoute(
        _ONE + "/allegati/{annex_id:int}/rimuovi",
        _checked(remove_annex),
        role=Role.secretary,
        methods=["POST"],
        name="remove_protocol_annex",
    ),
    ProtocolRoute(_ONE + "/firma", _checked(sign_page), role=Role.observer, name="sign_protocol"),
    ProtocolRoute(_ONE + "/firma", _checked(sign), role=Role.observer, methods=["POST"], name="sign_protocol_post"),
    ProtocolRoute(_ONE + "/verifica.zip", _checked(download_bundle), role=Role.observer, name="protocol_bundle"),
    ProtocolRoute(
        _ONE + "/pdf-da-firmare.pdf", _checked(download_pdf_to_sign), role=Role.observer, name="protocol_pdf_to_sign"
    ),
    ProtocolRoute(
        _ONE + "/firma-digitale",
        _checked(sign_qualified),
        role=Role.observer,
        methods=["POST"],
        name="sign_protocol_qualified",
    ),
    ProtocolRoute(
        _ONE + "/parti/{party_id:int}/firma-digitale",
        _checked(download_qualified),
        role=Role.observer,
        name="protocol_qualified_file",
    ),
    ProtocolRoute(_ONE + "/sigillato.pdf", _checked(download_sealed), role=Role.observer, name="protocol_sealed_pdf"),
    TableRoute(
        _ONE + "/impegni/{commitment_id:int}/responsabile",
        _checked(assign_commitment),
        role=Role.chair,
        methods=["POST"],
        name="assign_commitment",
    ),
]
