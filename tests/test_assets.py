"""The browser's files: hashed names cached for a year, precompressed, only what a page uses.

Three kinds of test: the static app on a small hand-made build (headers, encodings, refusals);
the real build of static/build.mjs served by the app (what the pages link, and that it is there);
and a real Chromium counting the bytes of a first visit to the login page (the budget).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from server.web.assets import IMMUTABLE, SHORT, StaticAssets
from tests.conftest import need
from tests.support import login

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "static" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
# A first visit to the login page, everything included, as transferred (README, "First load").
LOGIN_BUDGET = 300 * 1024
SCRIPT = b"(()=>{console.log('tavoli')})();" * 40
IDENTITY = {"Accept-Encoding": "identity"}


# --- the static app on a hand-made build ------------------------------------------------------------


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A build as static/build.mjs lays it out: a hashed script with its .br and .gz, a hashed
    font (not compressed), a licence under a fixed name, and a file the manifest does not list."""
    root = tmp_path / "dist"
    (root / "fonts").mkdir(parents=True)
    (root / "licenses").mkdir()
    (root / "app-ABCD2345.js").write_bytes(SCRIPT)
    (root / "app-ABCD2345.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "app-ABCD2345.js.br").write_bytes(b"brotli bytes, as the build wrote them")
    (root / "fonts" / "titillium-WXYZ2345.woff2").write_bytes(b"wOF2" + bytes(200))
    (root / "licenses" / "Titillium_Web-OFL.txt").write_text("SIL Open Font License\n" * 20)
    (root / "secret.txt").write_text("not listed")
    manifest = {
        "assets": {"app.js": "app-ABCD2345.js"},
        "files": {
            "app-ABCD2345.js": {"immutable": True, "encodings": ["br", "gzip"]},
            "fonts/titillium-WXYZ2345.woff2": {"immutable": True, "encodings": []},
            "licenses/Titillium_Web-OFL.txt": {"immutable": False, "encodings": []},
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture
def files(dist: Path) -> Iterator[TestClient]:
    app = Starlette(routes=[Mount("/static", app=StaticAssets.load(dist), name="static")])
    with TestClient(app) as client:
        yield client


def raw(client: TestClient, path: str, **headers: str) -> tuple[Any, bytes]:
    """The response and its body as sent, not decoded by the client."""
    with client.stream("GET", path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_a_hashed_file_is_cached_for_a_year_and_never_asked_again(files):
    response, body = raw(files, "/static/dist/app-ABCD2345.js", **IDENTITY)
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert body == SCRIPT


@pytest.mark.parametrize(
    ("accept", "encoding", "suffix"),
    [
        ("gzip, deflate, br, zstd", "br", ".br"),  # Chromium
        ("br", "br", ".br"),
        ("gzip, deflate", "gzip", ".gz"),
        ("br;q=0, gzip", "gzip", ".gz"),
        ("BR ; q=0.5", "br", ".br"),
        ("*", "br", ".br"),
        ("*, br;q=0", "gzip", ".gz"),
        ("identity", None, ""),
        ("", None, ""),
        ("gzip;q=0, br;q=0", None, ""),
        ("br;q=zero", None, ""),
        ("deflate, zstd", None, ""),
    ],
)
def test_the_precompressed_version_is_chosen_by_accept_encoding(files, dist, accept, encoding, suffix):
    response, body = raw(files, "/static/dist/app-ABCD2345.js", **{"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == encoding
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == IMMUTABLE
    assert body == (dist / f"app-ABCD2345.js{suffix}").read_bytes()
    assert int(response.headers["content-length"]) == len(body)


def test_gzip_decodes_to_the_file(files):
    response = files.get("/static/dist/app-ABCD2345.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == SCRIPT  # httpx decoded it


def test_a_font_is_sent_as_it_is_whatever_the_request_accepts(files):
    response, body = raw(files, "/static/dist/fonts/titillium-WXYZ2345.woff2", **{"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "font/woff2"
    assert response.headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert body.startswith(b"wOF2")


@pytest.mark.parametrize("path", ["/static/dist/app.js", "/static/dist/licenses/Titillium_Web-OFL.txt"])
def test_a_name_without_a_hash_gets_a_short_cache(files, path):
    response, _body = raw(files, path, **{"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == SHORT == "public, max-age=3600"
    assert "immutable" not in response.headers["cache-control"]


def test_the_plain_name_of_an_asset_serves_its_current_file(files):
    response, body = raw(files, "/static/dist/app.js", **{"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == SCRIPT


@pytest.mark.parametrize(
    "path",
    [
        "/static/dist/nothing.js",
        "/static/dist/app-ABCD2346.js",  # another build's name
        "/static/dist/app-ABCD2345.js.br",  # a compressed file is not a file of its own
        "/static/dist/app-ABCD2345.js.gz",
        "/static/dist/manifest.json",
        "/static/dist/secret.txt",  # on disk, not in the manifest
        "/static/dist/",
        "/static/dist",
        "/static/",
        "/static/app-ABCD2345.js",
        "/static/src/app.js",  # the sources and the build script are not served
        "/static/build.mjs",
        "/static/dist/fonts/",
        "/static/dist/fonts/../../build.mjs",
        "/static/dist/%2e%2e/dist/app-ABCD2345.js",
        "/static/dist/..%2fsecret.txt",
        "/static/dist/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static/dist//etc/passwd",
        "/static/dist/app-ABCD2345.js/",
    ],
)
def test_what_the_manifest_does_not_list_is_not_found(files, path):
    response = files.get(path)
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-cache"
    assert b"not listed" not in response.content
    assert b"tavoli" not in response.content


@pytest.mark.parametrize("path", ["/dist/../secret.txt", "/dist/../../pyproject.toml", "/dist/./manifest.json"])
def test_a_path_is_never_joined_to_the_folder(dist, path):
    """Whatever the server hands the app, a path is looked up in the manifest, never opened."""
    assets = StaticAssets.load(dist)
    scope = {"type": "http", "method": "GET", "path": "/static" + path, "root_path": "/static", "headers": []}
    assert assets.response(scope).status_code == 404


def test_head_answers_the_headers_and_other_methods_are_refused(files):
    head = files.head("/static/dist/app-ABCD2345.js", headers={"Accept-Encoding": "br"})
    assert head.status_code == 200
    assert head.headers["content-encoding"] == "br"
    assert head.headers["cache-control"] == IMMUTABLE
    assert head.content == b""
    refused = files.post("/static/dist/app-ABCD2345.js")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"


def test_a_revalidation_of_the_same_version_is_not_modified(files):
    first, _body = raw(files, "/static/dist/app.js", **{"Accept-Encoding": "br"})
    again, body = raw(files, "/static/dist/app.js", **{"Accept-Encoding": "br", "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert body == b""
    assert again.headers["cache-control"] == SHORT
    assert again.headers["content-encoding"] == "br"
    gzipped = {"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]}
    other = files.get("/static/dist/app.js", headers=gzipped)
    assert other.status_code == 200, "the gzip version is another representation, with its own tag"


def test_asset_gives_the_hashed_path_and_refuses_a_name_it_does_not_know(dist):
    assets = StaticAssets.load(dist)
    assert assets.url("app.js") == "/static/dist/app-ABCD2345.js"
    with pytest.raises(LookupError, match=r"no asset 'nothing\.js'"):
        assets.url("nothing.js")


def test_without_a_build_pages_still_render_and_files_are_not_found(tmp_path):
    assets = StaticAssets.load(tmp_path / "not-built")
    assert assets.url("app.js") == "/static/dist/app.js"
    app = Starlette(routes=[Mount("/static", app=assets, name="static")])
    with TestClient(app) as client:
        assert client.get("/static/dist/app.js").status_code == 404


def test_a_file_removed_by_a_later_build_is_not_found(files, dist):
    (dist / "app-ABCD2345.js").unlink()
    assert files.get("/static/dist/app-ABCD2345.js", headers=IDENTITY).status_code == 404


# --- the real build, served by the app --------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    if not (DIST / "manifest.json").exists():
        need("the browser assets are not built (make setup, or npm ci && npm run build)")
    return dict(json.loads((DIST / "manifest.json").read_text()))


def linked(html: str) -> list[str]:
    tree = LexborHTMLParser(html)
    return [n.attributes["href"] or "" for n in tree.css("link[rel=stylesheet]")] + [
        n.attributes["src"] or "" for n in tree.css("script[src]")
    ]


def test_every_file_of_the_build_is_there_with_its_compressed_versions(manifest):
    assert set(manifest["assets"]) >= {"app.js", "track-focus.js", "bootstrap-italia.css", "fonts.css", "tavoli.css"}
    for name, entry in manifest["files"].items():
        assert (DIST / name).is_file(), name
        if entry["immutable"]:
            assert re.search(r"-[A-Z2-7]{8}\.[a-z0-9]+$", name), f"{name}: a file cached for a year has a hashed name"
        for encoding in entry["encodings"]:
            assert (DIST / (name + {"br": ".br", "gzip": ".gz"}[encoding])).is_file()
        if "gzip" in entry["encodings"]:
            assert gzip.decompress((DIST / f"{name}.gz").read_bytes()) == (DIST / name).read_bytes(), name
    compressed = [name for name, entry in manifest["files"].items() if entry["encodings"]]
    assert {manifest["assets"][n] for n in ("app.js", "bootstrap-italia.css", "tavoli.css")} <= set(compressed)


def test_the_brotli_versions_decode_to_their_files(manifest):
    node = shutil.which("node")
    if node is None:
        need("node is not installed")
    names = [name for name, entry in manifest["files"].items() if "br" in entry["encodings"]]
    check = (
        "const fs = require('fs'), zlib = require('zlib');"
        "const bad = JSON.parse(process.argv[1]).filter(n => !zlib.brotliDecompressSync("
        "fs.readFileSync(n + '.br')).equals(fs.readFileSync(n)));"
        "process.stdout.write(JSON.stringify(bad));"
    )
    out = subprocess.run([node, "-e", check, json.dumps(names)], cwd=DIST, capture_output=True, check=True, text=True)
    assert json.loads(out.stdout) == []


def test_the_sprite_holds_every_icon_the_templates_name(manifest):
    sprite = (DIST / manifest["assets"]["sprites.svg"]).read_text()
    named = {
        name
        for path in (ROOT / "templates").rglob("*.html")
        for name in re.findall(r"""\bicon\(\s*["']([\w-]+)["']""", path.read_text())
    }
    assert "it-pa" in named
    for name in named:
        assert f'<symbol id="{name}"' in sprite, name
    assert len(sprite) < 20_000, "only the icons in use, not Bootstrap Italia's whole sprite"


def test_the_pages_link_hashed_files_that_answer_compressed_and_immutable(client, board, manifest):
    page = client.get("/login")
    assert page.headers["cache-control"] == "no-store"
    hrefs = linked(page.text)
    assert len(hrefs) == 4, hrefs  # three stylesheets, the focus tracker
    for href in hrefs:
        assert href.startswith("/static/dist/"), href
        assert href.removeprefix("/static/dist/") in manifest["files"], href
        response, _ = raw(client, href, **{"Accept-Encoding": "gzip, deflate, br"})
        assert response.status_code == 200, href
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.headers["content-encoding"] == "br"
        assert response.headers["vary"] == "Accept-Encoding"
        assert "set-cookie" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
    sprite = re.search(r'<use href="([^"#]+)#it-pa"', page.text)
    assert sprite
    assert client.get(sprite.group(1)).status_code == 200
    assert client.get("/static/dist/css/bootstrap-italia.min.css").status_code == 404, "the old names are gone"
    assert client.get("/static/dist/js/bootstrap-italia.min.js").status_code == 404


def test_only_the_live_pages_load_htmx_and_personal_pages_are_not_stored(client, board, manifest):
    app_js = f"/static/dist/{manifest['assets']['app.js']}"
    for path in ["/login", "/", "/accessibilita", "/nessuna-pagina"]:
        assert app_js not in linked(client.get(path).text), path
    assert login(client, "member@example.org").status_code == 303
    for path in ["/", "/tavoli/commercio-turismo"]:
        assert client.get(path).headers["cache-control"] == "no-store", path
    table = client.get("/tavoli/commercio-turismo")
    assert app_js in linked(table.text)
    assert "bootstrap-italia.min.js" not in table.text


# --- a first visit in a real browser ----------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        need("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Transfers:
    """The bytes each request of a page took on the wire, headers included, as Chromium counts
    them (CDP Network.loadingFinished encodedDataLength); a response from the cache counts 0."""

    def __init__(self, context: Any, page: Any) -> None:
        self.urls: dict[str, str] = {}
        self.wire: dict[str, int] = {}
        self.encodings: dict[str, str] = {}
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", lambda e: self.wire.__setitem__(e["requestId"], int(e["encodedDataLength"])))
        cdp.send("Network.enable")

    def _response(self, event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        self.encodings[event["requestId"]] = headers.get("content-encoding", "")

    def fetched(self) -> dict[str, int]:
        return {self.urls[r]: n for r, n in self.wire.items() if n > 0}

    def report(self) -> str:
        rows = sorted(self.fetched().items(), key=lambda row: -row[1])
        return "\n".join(f"{n / 1024:7.1f} KiB {url}" for url, n in rows)

    def clear(self) -> None:
        self.wire.clear()


@pytest.mark.browser
def test_a_first_visit_to_the_login_page_stays_under_300_kib_and_a_second_fetches_only_the_page(chromium, live_server):
    context = chromium.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    transfers = Transfers(context, page)
    page.goto(f"{live_server.url}/login", wait_until="load")
    page.wait_for_load_state("networkidle")
    fetched = transfers.fetched()
    total = sum(fetched.values())
    assert total < LOGIN_BUDGET, f"{total / 1024:.1f} KiB:\n{transfers.report()}"
    statics = [url for url in fetched if "/static/" in url]
    assert any(url.endswith(".woff2") for url in statics), "the fonts are part of the first visit"
    assert all(transfers.encodings[r] == "br" for r, url in transfers.urls.items() if re.search(r"\.(css|js)$", url))
    assert page.evaluate("typeof window.htmx") == "undefined", "no htmx on a page without live regions"
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Titillium Web"')
    assert problems == []

    transfers.clear()
    page.goto(f"{live_server.url}/login", wait_until="load")
    page.wait_for_load_state("networkidle")
    again = transfers.fetched()
    assert list(again) == [f"{live_server.url}/login"], f"only the page itself:\n{transfers.report()}"
    context.close()


@pytest.mark.browser
def test_a_live_page_loads_htmx_and_connects(chromium, live_server, live_board):
    context = chromium.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Indirizzo email").fill("member@example.org")
    page.get_by_label("Password").fill("password-for-tests-only")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/tavoli/commercio-turismo")
    page.wait_for_selector("#live-status[data-state=open]")
    assert page.evaluate("typeof window.htmx") == "object"
    assert problems == []
    context.close()
