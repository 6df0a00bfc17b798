"""Records private to some organisations (a draft proposal belongs to its co-authors): what others may not see."""

from __future__ import annotations

from collections.abc import Iterable

from server.db.models import Event
from server.views.audience import Audience
from server.views.regions import Private


def hide_private_events(events: Iterable[Event], audience: Audience, private: Private) -> list[Event]:
    """The events the audience may see: none about a record private to other organisations
    (the event names its records by its payload's `<kind>_id` keys)."""
    return [
        event
        for event in events
        if all(
            audience.reads_private(authors)
            for kind, records in private.items()
            if (authors := records.get(event.payload.get(f"{kind}_id", -1))) is not None
        )
    ]
