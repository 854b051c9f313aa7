"""The page routes as plain HTTP: each view renders on the server, so a shared or reloaded URL works without scripts."""

import html

import httpx
import pytest

from tests.server.image_files import digit_png


@pytest.fixture
def client(live_server) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield http


def upload_digit(client: httpx.Client, index: int = 0) -> int:
    response = client.post("/api/encode", files={"files": ("digit.png", digit_png(index), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()["items"][0]["upload_id"]


def test_home_shows_model_facts(client):
    version = client.get("/readyz").json()["model_version"]
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert version in response.text
    assert "digits" in response.text
    assert 'id="draw-canvas"' in response.text


def test_upload_page_renders_neighbours(client):
    upload_id = upload_digit(client)
    expected = client.get("/api/neighbours", params={"upload_id": upload_id, "k": 5}).json()["neighbours"]
    response = client.get(f"/uploads/{upload_id}", params={"k": 5})
    assert response.status_code == 200
    for neighbour in expected:
        assert f'href="/images/{neighbour["id"]}"' in response.text
    assert response.text.count('class="neighbour"') == 5
    assert "data:image/png;base64," in response.text


def test_image_page_excludes_itself(client):
    response = client.get("/images/3")
    assert response.status_code == 200
    assert 'href="/images/3"' not in response.text


def test_unknown_upload_page_is_404(client):
    response = client.get("/uploads/999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "upload 999999 not found" in response.text


def test_bad_k_page_is_422(client):
    response = client.get("/images/3", params={"k": 0})
    assert response.status_code == 422
    assert html.escape("k is 0, outside the allowed range 1..20") in response.text


def test_map_page_names_query(client):
    response = client.get("/map", params={"image_id": 4})
    assert response.status_code == 200
    assert 'data-image-id="4"' in response.text
    assert 'href="/images/4"' in response.text


def test_static_script_served(client):
    response = client.get("/static/daydream.js")
    assert response.status_code == 200
    assert "EventSource" in response.text


def test_samples_page_renders(client):
    response = client.get("/samples")
    assert response.status_code == 200
    assert 'id="samples-form"' in response.text
