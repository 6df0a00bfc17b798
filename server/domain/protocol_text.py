"""A protocol's canonical text and the commitments marked in it (docs/protocols.md documents both).

- The canonical text is what is hashed and signed: the Markdown with every CRLF and lone CR made LF,
  in Unicode NFC, with exactly one final newline (trailing newlines collapsed to one; an empty text
  is one newline), encoded in UTF-8. Anyone can recompute its SHA-256 from the text.
- A commitment is a clause that one party commits to: a level-3 heading whose first word is
  "Impegno", then the party (an organisation among the protocol's parties, in any case), then
  optionally the due date:

      ### Impegno — <party> — entro <YYYY-MM-DD>

  The separator is an em dash (—), an en dash (U+2013) or a hyphen (-), with or without spaces. The
  clause is the heading's section: the lines after it up to the next heading of level 1 to 3 (a
  heading inside a fenced code block is not a heading); its first line is the commitment's title.
  Any level-3 heading whose first word is "Impegno" is a commitment: one that does not follow the
  syntax is an error (with its line), and errors block opening the protocol for signature.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from server.i18n import _

__all__ = [
    "COMMITMENT_TEMPLATE",
    "TITLE_LIMIT",
    "CommitmentError",
    "ParsedCommitment",
    "canonical",
    "commitment_heading",
    "parse_commitments",
    "text_sha256",
]

# What the editor's "insert a commitment" button inserts: the placeholders are errors until replaced.
COMMITMENT_TEMPLATE = "### Impegno — Nome della parte — entro AAAA-MM-GG\n\nChe cosa la parte si impegna a fare.\n"
TITLE_LIMIT = 200

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMITMENT_WORD = re.compile(r"^impegno(?![\w])", re.IGNORECASE)
_DASH = "—–-"
_SPEC = re.compile(
    rf"^impegno\s*[{_DASH}]\s*(?P<party>.+?)(?:\s*[{_DASH}]\s*entro\b\s*(?P<due>.*?))?\s*$",
    re.IGNORECASE,
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def canonical(text: str) -> bytes:
    """The canonical bytes of a protocol's text: LF line endings, NFC, exactly one final newline, UTF-8."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    return (text.rstrip("\n") + "\n").encode("utf-8")


def text_sha256(data: bytes) -> str:
    """The SHA-256 of canonical bytes (or an annex's bytes), in lowercase hexadecimal."""
    return hashlib.sha256(data).hexdigest()


def commitment_heading(party: str, due_on: date | None = None) -> str:
    """The heading of a commitment of `party` (due by `due_on`), as the syntax wants it."""
    heading = f"### Impegno — {party}"
    return f"{heading} — entro {due_on.isoformat()}" if due_on else heading


@dataclass(frozen=True)
class ParsedCommitment:
    """A commitment found in the text: its order (from 1), its party, title, clause and due date."""

    number: int
    line: int  # the heading's line, from 1
    party_id: int
    party: str  # the organisation's name, as the protocol's parties have it
    title: str
    clause: str  # the section's Markdown, heading excluded
    due_on: date | None


@dataclass(frozen=True)
class CommitmentError:
    """Why the commitment heading at `line` (from 1) is refused."""

    line: int
    message: str


def _fold(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def _title(clause: str) -> str:
    for raw in clause.split("\n"):
        line = raw.strip().lstrip("#>*-+ \t").strip()
        if line:
            return line if len(line) <= TITLE_LIMIT else line[: TITLE_LIMIT - 1].rstrip() + "…"
    return ""


def _sections(lines: list[str]) -> list[tuple[int, int, str]]:
    """The headings of level 1 to 3 outside fenced code: (line index, level, heading text)."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        opening = _FENCE.match(line)
        if fence is not None:
            closing = opening is not None and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence)
            if closing and opening is not None and not line.strip()[len(opening.group(1)) :].strip():
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) <= 3:
            found.append((index, len(heading.group(1)), (heading.group(2) or "").strip()))
    return found


def parse_commitments(text: str, parties: Mapping[int, str]) -> tuple[list[ParsedCommitment], list[CommitmentError]]:
    """The commitments marked in `text` and the errors found, both in the text's order.

    `parties` maps each party's id to its organisation's name. A commitment heading with no party,
    an unknown party, a date that is not a real YYYY-MM-DD day, or no clause under it is an error.
    """
    lines = canonical(text).decode("utf-8").split("\n")
    by_name = {_fold(name): (party_id, name) for party_id, name in parties.items()}
    headings = _sections(lines)
    found: list[ParsedCommitment] = []
    errors: list[CommitmentError] = []
    for position, (index, level, heading) in enumerate(headings):
        if level != 3 or not _COMMITMENT_WORD.match(heading):
            continue
        line = index + 1
        end = headings[position + 1][0] if position + 1 < len(headings) else len(lines)
        clause = "\n".join(lines[index + 1 : end]).strip("\n")
        spec = _SPEC.match(heading)
        if spec is None:
            errors.append(
                CommitmentError(
                    line, _("A commitment's heading names its party: «### Impegno — party — entro YYYY-MM-DD».")
                )
            )
            continue
        party_text = spec.group("party").strip()
        party = by_name.get(_fold(party_text))
        problems: list[str] = []
        if party is None:
            problems.append(
                _("«{party}» is not a party of this protocol: write the organisation's name as in the parties.").format(
                    party=party_text
                )
            )
        due_text = spec.group("due")
        due_on: date | None = None
        if due_text is not None:
            due_text = due_text.strip()
            if _DAY.match(due_text):
                try:
                    due_on = date.fromisoformat(due_text)
                except ValueError:
                    due_on = None
            if due_on is None:
                problems.append(
                    _("«{due}» is not a date: write the due date as YYYY-MM-DD, for example 2027-06-30.").format(
                        due=due_text
                    )
                )
        title = _title(clause)
        if not title:
            problems.append(_("Write the clause under the commitment's heading: what the party commits to."))
        if problems:
            errors.extend(CommitmentError(line, problem) for problem in problems)
            continue
        assert party is not None
        found.append(ParsedCommitment(len(found) + 1, line, party[0], party[1], title, clause, due_on))
    return found, errors
