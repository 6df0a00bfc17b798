"""The layout, the home page, the error pages and the health check."""

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.db.models import Role
from tests.conftest import BASE_URL, SECRET
from tests.support import login


def test_layout_has_skip_link_header_breadcrumb_live_region_and_footer(client):
    page = client.get("/").text
    assert '<a class="visually-hidden-focusable" href="#main">Vai al contenuto</a>' in page
    assert "Città metropolitana di Bologna" in page
    assert '<nav class="breadcrumb-container" aria-label="Percorso di navigazione">' in page
    assert '<div id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true"></div>' in page
    assert '<a href="/accessibilita">Dichiarazione di accessibilità</a>' in page
    assert '"includeIndicatorStyles":false' in page
    assert '<main id="main"' in page


def test_csrf_token_rides_in_hx_headers_on_body(client):
    page = client.get("/").text
    assert '<body hx-headers=\'{"X-CSRF-Token": "' in page


def test_home_lists_my_tables_with_my_role_then_public_ones(client, seed):
    org = seed.org("CISL Area metropolitana bolognese")
    mine = seed.table("commercio-turismo", "Tavolo per il commercio")
    seed.table("inclusione", "Tavolo per l'inclusione", public=True)
    seed.table("salvaguardia", "Tavolo di salvaguardia")
    seed.person(mine, Role.secretary, "anna@example.org", org)
    login(client, "anna@example.org")
    page = client.get("/").text
    assert "Tavolo per il commercio" in page
    assert "Segreteria" in page
    assert "Tavolo per l&#39;inclusione" in page
    assert "Tavolo di salvaguardia" not in page, "a private table of others is invisible"


def test_anonymous_home_shows_public_tables_and_the_way_to_log_in(client, seed):
    seed.table("inclusione", "Tavolo per l'inclusione", public=True)
    seed.table("salvaguardia", "Tavolo di salvaguardia")
    page = client.get("/").text
    assert "Tavolo per l&#39;inclusione" in page
    assert "Tavolo di salvaguardia" not in page
    assert 'href="/login"' in page


def test_admin_home_lists_every_table(client, seed):
    seed.table("salvaguardia", "Tavolo di salvaguardia")
    seed.user("staff@example.org", admin=True)
    login(client, "staff@example.org")
    assert "Tavolo di salvaguardia" in client.get("/").text


def test_not_found_page_is_in_the_layout_with_a_way_back(client):
    response = client.get("/nessuna-pagina")
    assert response.status_code == 404
    assert '<h1 id="error-title">Pagina non trovata</h1>' in response.text
    assert 'href="/">Torna ai tavoli</a>' in response.text
    assert "Vai al contenuto" in response.text


def test_forbidden_page_is_in_the_layout(client):
    response = client.post("/logout")
    assert response.status_code == 403
    assert "Accesso negato" in response.text
    assert "Torna ai tavoli" in response.text


def test_method_not_allowed_is_in_the_layout(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "Operazione non consentita" in response.text


def test_server_error_is_in_the_layout_and_leaks_nothing(settings):
    async def broken(request):
        raise RuntimeError("secret internal detail")

    app = create_app(settings)
    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert "Qualcosa è andato storto" in response.text
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["content-security-policy"]


def test_healthz_answers_200_with_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_without_the_database(tmp_path):
    unreachable = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-folder/tavoli.db", base_url=BASE_URL, secret_key=SECRET
    )
    with TestClient(create_app(unreachable), base_url=BASE_URL) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_accessibility_statement_is_public(client):
    response = client.get("/accessibilita")
    assert response.status_code == 200
    assert "livello AA" in response.text


@pytest.mark.parametrize("locale", ["it", "en"])
def test_login_page_labels_every_field(client, locale):
    from tests.support import post_form

    post_form(client, "/lingua", {"locale": locale, "next": "/"})
    page = client.get("/login").text
    assert '<label for="field-email"' in page
    assert 'id="field-email"' in page
    assert 'autocomplete="current-password"' in page
