"""The site itself: signing in, the list of tables, accounts and organisations (no live region)."""

from __future__ import annotations

from collections.abc import Mapping

from server.domain.accounts import AccountEvent
from server.i18n import _
from server.views.area import Area, Sentence


def _sentences() -> Mapping[str, Sentence]:
    return {
        AccountEvent.user_created: _("created the account {email}"),
        AccountEvent.organisation_created: _("added the organisation {name}"),
    }


AREA = Area(
    name="site",
    site_events=(AccountEvent,),
    sentences=_sentences,
    routes=("server.web.pages", "server.web.auth"),
)
