"""The data model, one module per area. Every record people edit carries a `version`
for optimistic concurrency.

Import the models from here (`from server.db.models import Table`): importing the package maps
every area, so that the metadata Alembic compares and the tests truncate is complete. A new area
adds its module and its names below.
"""

from server.db.models.accounts import LoginAttempt, Organisation, User, UserSession
from server.db.models.actions import ActionItem, ActionNote, ActionStatus
from server.db.models.audit import Event
from server.db.models.base import NAMING_CONVENTION, Base, RenderedMarkdown, Versioned, enum_column
from server.db.models.decisions import Decision, DecisionKind, Position, PositionKind, RollCall
from server.db.models.documents import Document, DocumentKind, DocumentUpdate
from server.db.models.meetings import (
    AgendaItem,
    AgendaStatus,
    Attendance,
    Meeting,
    MeetingStatus,
    RoomLink,
    Speaker,
    SpeakerStatus,
)
from server.db.models.minutes import (
    Installation,
    Minutes,
    MinutesRemark,
    MinutesStatus,
    MinutesVersion,
    PublicationState,
)
from server.db.models.proposals import (
    Endorsement,
    Proposal,
    ProposalAuthor,
    ProposalComment,
    ProposalLink,
    ProposalStatus,
    ProposalVersion,
)
from server.db.models.protocols import (
    Commitment,
    Protocol,
    ProtocolAnnex,
    ProtocolKind,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Signature,
    SignatureKind,
    SigningKey,
)
from server.db.models.tables import Membership, Role, Table

__all__ = [
    "NAMING_CONVENTION",
    "ActionItem",
    "ActionNote",
    "ActionStatus",
    "AgendaItem",
    "AgendaStatus",
    "Attendance",
    "Base",
    "Commitment",
    "Decision",
    "DecisionKind",
    "Document",
    "DocumentKind",
    "DocumentUpdate",
    "Endorsement",
    "Event",
    "Installation",
    "LoginAttempt",
    "Meeting",
    "MeetingStatus",
    "Membership",
    "Minutes",
    "MinutesRemark",
    "MinutesStatus",
    "MinutesVersion",
    "Organisation",
    "Position",
    "PositionKind",
    "Proposal",
    "ProposalAuthor",
    "ProposalComment",
    "ProposalLink",
    "ProposalStatus",
    "ProposalVersion",
    "Protocol",
    "ProtocolAnnex",
    "ProtocolKind",
    "ProtocolParty",
    "ProtocolStatus",
    "ProtocolVersion",
    "PublicationState",
    "RenderedMarkdown",
    "Role",
    "RollCall",
    "RoomLink",
    "Signature",
    "SignatureKind",
    "SigningKey",
    "Speaker",
    "SpeakerStatus",
    "Table",
    "User",
    "UserSession",
    "Versioned",
    "enum_column",
]
