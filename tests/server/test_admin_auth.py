"""Admin authentication: bearer token, login session cookie, CSRF and the refusal of weak tokens."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.admin.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token, make_session, session_is_valid, token_problem
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import ADMIN_TOKEN, LIMITS, ServerThread, make_settings

# Every admin route with a request that passes validation once authenticated.
ADMIN_ROUTES = [
    ("GET", "/api/admin/training-runs", None),
    ("POST", "/api/admin/training-runs", {"data": "outside/../../nowhere"}),
    ("GET", "/api/admin/training-runs/999", None),
    ("DELETE", "/api/admin/training-runs/999", None),
    ("GET", "/api/admin/training-runs/999/events", None),
    ("GET", "/api/admin/training-runs/999/figures/codes_pca.png", None),
    ("POST", "/api/admin/models/999/activate", None),
    ("POST", "/api/admin/images", {"paths": ["missing.png"]}),
]


@pytest.fixture(scope="module")
def admin_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    server = ServerThread(create_app(make_settings(tmp_path_factory.mktemp("admin-auth"), tiny_bundle)))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def admin_client(admin_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=admin_server.url, timeout=30) as http:
        yield http


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_route_token_checks(admin_client: httpx.Client, method: str, path: str, body: dict | None) -> None:
    missing = admin_client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.json()["detail"]["code"] == "unauthorized"
    wrong = admin_client.request(method, path, json=body, headers={"Authorization": "Bearer wrong-token-of-some-length"})
    assert wrong.status_code == 401
    right = admin_client.request(method, path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert right.status_code not in (401, 403), right.text


def test_admin_page_needs_login(admin_client: httpx.Client) -> None:
    page = admin_client.get("/admin")
    assert page.status_code == 401
    assert 'action="/admin/login"' in page.text
    wrong = admin_client.post("/admin/login", data={"token": "wrong-token-of-some-length"})
    assert wrong.status_code == 401
    assert SESSION_COOKIE not in wrong.cookies


def test_login_sets_strict_cookie(admin_client: httpx.Client) -> None:
    response = admin_client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    page = admin_client.get("/admin")
    assert page.status_code == 200
    assert "Training runs" in page.text


def test_cookie_post_needs_csrf(admin_client: httpx.Client) -> None:
    admin_client.post("/admin/login", data={"token": ADMIN_TOKEN})
    session = admin_client.cookies[SESSION_COOKIE]
    assert admin_client.get("/api/admin/training-runs").status_code == 200
    without = admin_client.post("/api/admin/training-runs", json={"data": "../x"})
    assert without.status_code == 403
    assert without.json()["detail"]["code"] == "csrf_failed"
    forged = admin_client.post("/api/admin/training-runs", json={"data": "../x"}, headers={CSRF_HEADER: "0" * 64})
    assert forged.status_code == 403
    valid = admin_client.post("/api/admin/training-runs", json={"data": "../x"}, headers={CSRF_HEADER: csrf_token(ADMIN_TOKEN, session)})
    assert valid.status_code == 422


def test_cross_site_login_rejected(admin_client: httpx.Client) -> None:
    response = admin_client.post("/admin/login", data={"token": ADMIN_TOKEN}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert response.json()["detail"]["code"] == "csrf_failed"


def test_logout_needs_csrf(admin_client: httpx.Client) -> None:
    admin_client.post("/admin/login", data={"token": ADMIN_TOKEN})
    session = admin_client.cookies[SESSION_COOKIE]
    assert admin_client.post("/admin/logout", data={}).status_code == 403
    done = admin_client.post("/admin/logout", data={"csrf_token": csrf_token(ADMIN_TOKEN, session)})
    assert done.status_code == 303
    assert SESSION_COOKIE not in admin_client.cookies


@pytest.mark.parametrize("token", ["", "   ", "changeme", "xxxxxxxxxxxxxxxxxxxx", "short"])
def test_weak_tokens_detected(token: str) -> None:
    assert token_problem(token) is not None


def test_session_signature_and_expiry() -> None:
    session = make_session(ADMIN_TOKEN, 60, now=1000.0)
    assert session_is_valid(ADMIN_TOKEN, session, now=1030.0)
    assert not session_is_valid(ADMIN_TOKEN, session, now=1061.0)
    assert not session_is_valid("another-admin-token-0", session, now=1030.0)
    expires, nonce, signature = session.split(".")
    assert not session_is_valid(ADMIN_TOKEN, f"{int(expires) + 999}.{nonce}.{signature}", now=1030.0)


def test_placeholder_token_disables_admin(tiny_bundle: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, bundle=tiny_bundle, admin_token="changeme", **LIMITS)
    server = ServerThread(create_app(settings))
    server.start()
    try:
        response = httpx.get(server.url + "/api/admin/training-runs", headers={"Authorization": "Bearer changeme"}, timeout=10)
        assert response.status_code == 403
        assert response.json()["detail"]["code"] == "admin_token_rejected"
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
    finally:
        server.stop()
