"""Bad input is refused, never a 500: every route and method, every parameter and field, awkward values.

For each route of the app (read from the routing table, so a new route is walked without anyone
adding it here) the walk first sends a valid request, by a person with the right role, and proves
that it works (2xx/3xx; a POST changed something). The valid requests come from the pages the app
renders, read as a browser reads them: the links and the `<form>`s (action, method, every field,
hidden ones such as `csrf_token` and `version` included), starting from the home page, in a world
where the chair of a table, also an administrator, sees every control (tests/walking.py, `furnish`).
What no page shows is in the short table of tests/walking.py (`FILL`, `ADDRESSES`), and
`test_every_route_is_reached` fails when a route is neither reached nor in that table.

Then, one path parameter, query parameter or form field at a time, it sends each value of the
corpus (tests/walking.py, `CORPUS`: non-ASCII, Unicode digits, 20- and 5,000-digit numbers, negative,
empty, 100 KB, NUL, invalid dates, the field left out, doubled, sent as a file), and the request
sent whole in other ways (malformed multipart, another content type…). Each answer must be a 2xx/3xx
that stored the value as it was given, or a 4xx that changed nothing in the database; never a 5xx.
"""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from starlette.routing import Route

from server.db.models import Role
from server.web.access import TableRoute
from tests.walking import (
    ABSENT,
    ACTOR,
    ADDRESSES,
    ANONYMOUS,
    AS_FILE,
    FILL,
    NOT_STORED,
    REFUSALS_THAT_WRITE,
    ROUTES,
    TWICE,
    Call,
    Field,
    Form,
    World,
    as_,
    changes,
    field_variants,
    forms_of,
    holds,
    opened_world,
    path_variants,
    put_back,
    query_variants,
    request_variants,
    send,
    snapshot,
    unportable,
    where,
    writes,
)

PAIRS = [(route.name, method) for route, method in ROUTES.pairs()]
# What an empty required field of each kind gets in a valid request (FILL first).
SAMPLES = {
    "date": "2031-12-10",
    "time": "16:30",
    "url": "https://meet.example.org/tavolo",
    "email": "someone@example.org",
    "number": "30",
    "textarea": "Testo di prova.",
    "password": "password",
}
# How many forms of one shape are tried before the walk says it found no valid request.
CANDIDATES = 6


@pytest.fixture(scope="module")
def world(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with opened_world(template_database, tmp_path_factory.mktemp("walk")) as opened:
        yield opened


# --- what the pages offer ------------------------------------------------------------------------


def forms(world: World) -> list[tuple[str, Form]]:
    """Every form of every page, the actor's first: (who, form)."""
    found = [(ACTOR, form) for page, html in world.pages.items() for form in forms_of(html, page)]
    found += [(ANONYMOUS, form) for page, html in world.anonymous_pages.items() for form in forms_of(html, page)]
    return found


def addresses(world: World, name: str, method: str) -> list[tuple[str, str]]:
    """(who, address) of the pages and forms that reach a route: the crawled ones, the table's."""
    found: list[tuple[str, str]] = []
    if method == "GET":
        for who, pages in ((ACTOR, world.pages), (ANONYMOUS, world.anonymous_pages)):
            found += [(who, a) for a in pages if any(r.name == name for r in ROUTES.reaching(a, "GET"))]
    else:
        for who, form in forms(world):
            reached = ROUTES.reaching(form.action, form.method)
            if form.method == method and any(r.name == name for r in reached):
                found.append((who, form.action))
    if (name, method) in ADDRESSES:
        found.append((ACTOR, ADDRESSES[(name, method)].format(**world.values())))
    return found


def test_every_route_is_reached_by_a_page_or_the_table(world: World) -> None:
    """A new route must show up on a page (a link or a form) of the seeded world, or be added to the
    table of tests/walking.py with the reason no page reaches it."""
    missing = [f"{method} {name}" for name, method in PAIRS if not addresses(world, name, method)]
    assert not missing, f"no page links to or renders a form for: {missing}"
    assert len(PAIRS) >= 40


def test_the_walker_acts_with_the_role_each_route_needs(world: World) -> None:
    actor = world.board.chair
    assert world.board.current(type(actor), actor.id).is_admin
    for route in ROUTES.routes:
        if isinstance(route, TableRoute) and route.required_role is not None:
            assert Role.chair.rank >= route.required_role.rank, route.name


# --- valid requests ------------------------------------------------------------------------------


def _filled(world: World, name: str, form: Form, *, changed: bool) -> tuple[tuple[str, str], ...]:
    """The pairs a browser sends for `form`, its empty required fields filled; `changed` also fills
    the optional ones and changes what it can (text appended to, another option chosen, boxes ticked)."""
    pairs: list[tuple[str, str]] = []
    for each in form.fields:
        value = each.value
        fill = FILL.get((name, each.name))
        if fill is not None:
            value = fill(world) if callable(fill) else fill
        elif each.kind in ("checkbox", "radio"):
            if not (each.checked or (changed and each.kind == "checkbox")):
                continue
        elif each.kind == "select":
            others = [o for o in each.options if o and o != value]
            if (changed or not value) and others:
                value = others[0]
        elif not value and (each.required or (changed and each.kind != "hidden")):
            value = SAMPLES.get(each.kind, "Valore di prova")
        elif changed and each.kind in ("text", "textarea") and value:
            value += " (modificato)"
        pairs.append((each.name, value))
    return tuple(pairs)


def _shape(form: Form) -> tuple[frozenset[str], frozenset[str]]:
    return form.names(), form.filled()


def form_of_the_table(world: World, name: str, method: str) -> Form:
    """The form that no page renders, as `ADDRESSES` gives it: its path, its query as the fields."""
    parts = urlsplit(ADDRESSES[(name, method)].format(**world.values()))
    token = next(f.value for who, form in forms(world) if who == ACTOR for f in form.fields if f.name == "csrf_token")
    fields = [Field("csrf_token", token, "hidden")]
    fields += [Field(n, v, "hidden") for n, v in parse_qsl(parts.query, keep_blank_values=True)]
    return Form(parts.path, method, tuple(fields), page="(ADDRESSES in tests/walking.py)")


def valid_posts(world: World, route: Route, method: str) -> Iterator[tuple[str, Form, list[Call]]]:
    """For each shape of form that reaches the route (its field names, which hidden ids it carries):
    (who, form, the valid requests to try, in order)."""
    by_shape: dict[Any, list[tuple[str, Form]]] = {}
    for who, form in forms(world):
        hit = ROUTES.find(form.action, form.method)
        if form.method == method and hit and hit[0] is route:
            by_shape.setdefault(_shape(form), []).append((who, form))
    if not by_shape and (route.name, method) in ADDRESSES:
        by_shape[None] = [(ACTOR, form_of_the_table(world, route.name or "", method))]
    for shaped in by_shape.values():
        who, first = shaped[0]
        files = frozenset(f.name for f in first.fields if f.kind == "file")  # an upload: sent as a browser does
        calls = [
            Call(
                method,
                form.action,
                _filled(world, route.name or "", form, changed=changed),
                encoding="multipart" if files else "form",
                files=files,
                label=f"valid from {form.page}",
            )
            for _who, form in shaped[:CANDIDATES]
            for changed in (False, True)
        ]
        yield who, first, calls


# --- judging ------------------------------------------------------------------------------------


class Walk:
    """Sends calls as one person and judges each answer against the database's rows."""

    def __init__(self, world: World, route: Route, who: str) -> None:
        self.world, self.route, self.who = world, route, who
        self.findings: list[str] = []
        self.sent = 0

    def call(self, call: Call) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
        as_(self.world, self.who)
        answer = send(self.world.client, call)
        self.sent += 1
        changed: dict[str, list[dict[str, Any]]] = {}
        count = writes(self.world.read)
        if count != self.world.writes:  # something wrote: what, row by row?
            changed = changes(self.world.baseline, snapshot(self.world.read))
            if changed:
                put_back(self.world)
            else:
                self.world.writes = count
        return answer, changed

    def judge(self, call: Call, name: str | None = None, value: str | None = None, *, form: Form | None = None) -> None:
        if value != AS_FILE:
            answer, changed = self.call(call)
            problem = self._problem(call, answer, changed, name, value, form)
        else:  # the part's temporary file must be closed, not left to the garbage collector
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                answer, changed = self.call(call)
                problem = self._problem(call, answer, changed, name, value, form)
                del answer  # an exception's traceback holds the request's frames, and its form
                gc.collect()
            left = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
            problem = problem or (f"{left[0]} (ResourceWarning)" if left else None)
        if problem:
            self.findings.append(f"{self.route.name}: {call.describe()}: {problem}")

    def _problem(
        self, call: Call, answer: Any, changed: dict[str, Any], name: str | None, value: str | None, form: Form | None
    ) -> str | None:
        if isinstance(answer, BaseException):
            return f"server error, {where(answer)}"
        status = answer.status_code
        if status >= 500:
            return f"{status}"
        if 300 <= status < 400:
            location = answer.headers.get("location", "")
            if not location.startswith("/") or location.startswith(("//", "/\\")):
                return f"{status} to {location!r}, off the site"
        if status >= 400:
            allowed, _why = REFUSALS_THAT_WRITE.get(self.route.name or "", (set(), ""))
            if set(changed) - allowed:
                return f"{status} but the database changed: {sorted(changed)}"
            return None
        if call.method == "GET":
            return f"{status} but a GET changed the database: {sorted(changed)}" if changed else None
        if refused := unportable(changed):
            return f"{status} but {refused}"
        if name is None or value is None or value in (ABSENT, TWICE, AS_FILE, "") or name in NOT_STORED:
            return None
        kinds = {f.name: f.kind for f in form.fields} if form else {}
        if kinds.get(name) == "checkbox":
            return None  # a box is ticked by its own value, and any other value leaves it unticked
        stored = holds(changed, value) if changed else holds(snapshot(self.world.read), value)
        return None if stored else f"{status} but {name}={value[:30]!r} was not stored as given"


def _walk_post(world: World, route: Route, method: str) -> tuple[list[str], int]:
    findings: list[str] = []
    sent = 0
    shapes = list(valid_posts(world, route, method))
    assert shapes, f"no rendered form reaches {method} {route.path}"
    walked: set[str] = set()  # the fields walked in an earlier shape of form are not walked again
    for number, (who, form, tries) in enumerate(shapes):
        walk = Walk(world, route, who)
        base, answers = None, []
        for attempt in tries:
            answer, changed = walk.call(attempt)
            answers.append(getattr(answer, "status_code", answer))
            if not isinstance(answer, BaseException) and answer.status_code < 400 and changed:
                base = attempt
                break
        if base is None:
            findings.append(f"{route.name}: no valid request changed anything, from {form.page}: {answers}")
            continue
        if form.htmx:  # the same request from htmx answers with a fragment
            htmx = Call(base.method, base.address, base.pairs, headers=(("hx-request", "true"),), label="valid, htmx")
            answer, changed = walk.call(htmx)
            if isinstance(answer, BaseException) or answer.status_code >= 400 or not changed:
                findings.append(f"{route.name}: the valid request from htmx did not work: {answer}")
        kinds = {f.name: f.kind for f in form.fields}
        for name, value, call in field_variants(base, kinds, walked):
            walk.judge(call, name, value, form=form)
        if number == 0:  # the address and the encoding are the same for every shape
            hit = ROUTES.find(base.address, method)
            assert hit is not None
            for call in path_variants(route, hit[1], base):
                walk.judge(call)
            token = next((v for n, v in base.pairs if n == "csrf_token"), "")
            for call in request_variants(base, token):
                if call.label in ("multipart", "token in the header only"):
                    answer, changed = walk.call(call)  # a browser may send the form either way
                    if isinstance(answer, BaseException) or answer.status_code >= 400 or not changed:
                        findings.append(f"{route.name}: {call.describe()}: not accepted like the form: {answer}")
                    continue
                walk.judge(call)
        findings += walk.findings
        sent += walk.sent
    return findings, sent


def _walk_get(world: World, route: Route) -> tuple[list[str], int]:
    findings: list[str] = []
    sent = 0
    found = addresses(world, route.name or "", "GET")
    assert found, f"no page links to GET {route.path}"
    # One address per set of query names (with and without filters, say), the actor's first.
    chosen: dict[tuple[str, frozenset[str]], str] = {}
    for who, address in found:
        key = (who, frozenset(k for k, _v in parse_qsl(urlsplit(address).query, keep_blank_values=True)))
        chosen.setdefault(key, address)
    for number, ((who, _names), address) in enumerate(chosen.items()):
        walk = Walk(world, route, who)
        base = Call("GET", address)
        answer, changed = walk.call(base)
        if isinstance(answer, BaseException) or answer.status_code >= 400 or changed:
            findings.append(f"{route.name}: the valid GET {address} did not work: {answer}")
            continue
        hit = ROUTES.find(address, "GET")
        assert hit is not None
        if number == 0:  # the path is the same for every address of the route
            for call in path_variants(route, hit[1], base):
                walk.judge(call)
        for name, value, call in query_variants(base):
            walk.judge(call, name, value)
        for label, value in (("unknown parameter", "perché"), ("bare parameter", None)):
            extra = urlencode([("sconosciuto", value)]) if value is not None else "sconosciuto"
            separator = "&" if "?" in address else "?"
            walk.judge(Call("GET", f"{address}{separator}{extra}", label=label))
        findings += walk.findings
        sent += walk.sent
    return findings, sent


@pytest.mark.parametrize(("name", "method"), PAIRS, ids=[f"{m}-{n}" for n, m in PAIRS])
def test_awkward_values_are_refused_or_stored_never_a_500(world: World, name: str, method: str) -> None:
    route = next(r for r in ROUTES.routes if r.name == name and method in (r.methods or ()))
    findings, sent = _walk_post(world, route, method) if method != "GET" else _walk_get(world, route)
    assert sent > 0
    if log := os.environ.get("TAVOLI_WALK_LOG"):  # every finding, for whoever fixes them
        with open(log, "a") as out:
            out.writelines(f"{line}\n" for line in findings)
    shown = "\n".join(findings[:40])
    assert not findings, f"{len(findings)} of {sent} requests went wrong:\n{shown}"
