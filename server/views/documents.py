"""The access rules of the collaborative documents, as the areas bind them (server/views/area.py).

`PROPOSAL_BODY` reads the rule of server/domain/proposal_documents.py for an audience. The
proposals area declares its binding with it (and its own `changed`); the catalog falls back to
these bindings for a kind that no area declares, so that a document is never served without its
access rule.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Document, DocumentKind
from server.domain import proposal_documents
from server.domain.documents import DocumentAccess
from server.views.area import DocumentBinding
from server.views.audience import Audience


async def proposal_body_access(
    session: AsyncSession, document: Document, audience: Audience, _user_id: int
) -> DocumentAccess:
    return await proposal_documents.access(
        session,
        document,
        role=audience.role,
        organisation_id=audience.organisation_id,
        is_admin=audience.is_admin,
    )


PROPOSAL_BODY = DocumentBinding(access=proposal_body_access)

DEFAULTS: dict[DocumentKind, DocumentBinding] = {DocumentKind.proposal_body: PROPOSAL_BODY}
