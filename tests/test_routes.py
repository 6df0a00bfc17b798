"""Properties of the whole routing table: GET never changes state."""

import re

import pytest
from sqlalchemy import select
from starlette.routing import Route

from server.db.models import Base, Role
from tests.support import login


def snapshot(seed):
    """Every row of every table, to compare before and after."""

    async def read(session):
        rows = {}
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(r) for r in result]
        return rows

    return seed.run(read)


def get_routes(app):
    return [r for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())]


@pytest.fixture
def world(seed):
    """A table with people in every role, so that every page has something to show."""
    org = seed.org("CGIL Bologna")
    table = seed.table("commercio-turismo", public=False)
    for role in Role:
        seed.person(table, role, organisation=org)
    seed.user("staff@example.org", admin=True)
    return {"slug": table.slug}


@pytest.mark.parametrize("who", [None, "chair.commercio-turismo@example.org", "staff@example.org"])
def test_get_never_changes_stored_state(client, seed, world, who):
    if who:
        login(client, who)
    before = snapshot(seed)
    visited = 0
    for route in get_routes(client.app):
        params = set(re.findall(r"\{(\w+)(?::\w+)?\}", route.path))
        unknown = params - world.keys()
        assert not unknown, f"teach this test a value for {unknown} of {route.path}"
        path = route.path
        for name in params:
            path = re.sub(r"\{" + name + r"(?::\w+)?\}", str(world[name]), path)
        response = client.get(path, follow_redirects=False)
        assert response.status_code < 500, path
        visited += 1
    assert visited >= 4
    assert snapshot(seed) == before
