"""Neighbours, reconstructions, samples, images, models, health and metrics routes against a real server."""

import io

import httpx
import pytest
from PIL import Image

from tests.server import image_files
from tests.server.conftest import ADMIN_TOKEN, IMAGE_SIZE, LIMITS

CODE_SIZE = 32  # the cpu preset's, which the tiny test bundle keeps


def error_code(response: httpx.Response) -> str:
    return response.json()["detail"]["code"]


def upload_digit(client: httpx.Client, index: int = 0) -> int:
    response = client.post("/api/encode", files=[("files", ("d.png", image_files.digit_png(index), "image/png"))])
    return response.json()["items"][0]["upload_id"]


def decode_data_url(url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    import base64

    return Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))


def test_neighbours_of_image_exclude_itself(client):
    response = client.get("/api/neighbours", params={"image_id": 10, "k": 20})
    assert response.status_code == 200
    neighbours = response.json()["neighbours"]
    assert len(neighbours) == 20
    assert 10 not in [neighbour["id"] for neighbour in neighbours]


def test_neighbours_sorted_with_labels(client):
    neighbours = client.get("/api/neighbours", params={"image_id": 3, "k": 5}).json()["neighbours"]
    distances = [neighbour["distance"] for neighbour in neighbours]
    assert distances == sorted(distances)
    assert all(neighbour["label"] in range(10) for neighbour in neighbours)
    assert neighbours[0]["image_url"] == f"/api/images/{neighbours[0]['id']}"


def test_neighbours_of_upload_match_code(client):
    upload_id = upload_digit(client, 11)
    by_upload = client.get("/api/neighbours", params={"upload_id": upload_id, "k": 5}).json()
    code = ",".join(str(value) for value in by_upload["query"]["code"])
    by_code = client.get("/api/neighbours", params={"code": code, "k": 5}).json()
    assert [n["id"] for n in by_code["neighbours"]] == [n["id"] for n in by_upload["neighbours"]]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"image_id": 1, "k": LIMITS["max_neighbours"] + 1}, 422, "out_of_range"),
        ({"image_id": 1, "k": 0}, 422, "out_of_range"),
        ({"image_id": 10**9}, 404, "image_not_found"),
        ({"image_id": -1}, 404, "image_not_found"),
        ({"upload_id": 10**9}, 404, "upload_not_found"),
        ({"code": "1,2,3"}, 422, "invalid_code"),
        ({"code": ",".join(["0"] * (CODE_SIZE - 1)) + ",nan"}, 422, "invalid_code"),
        ({"code": "a,b"}, 422, "invalid_code"),
        ({}, 422, "wrong_query_count"),
        ({"image_id": 1, "upload_id": 1}, 422, "wrong_query_count"),
        ({"image_id": "x"}, 422, "invalid_request"),
    ],
)
def test_neighbours_rejected(client, params, status, code):
    response = client.get("/api/neighbours", params=params)
    assert response.status_code == status
    assert error_code(response) == code


def test_reconstructions_of_image(client):
    response = client.post("/api/reconstructions", json={"image_id": 4, "samples": 3, "seed": 1})
    assert response.status_code == 200
    body = response.json()
    assert len(body["reconstructions"]) == 3
    assert len(body["code"]) == CODE_SIZE
    assert decode_data_url(body["reconstructions"][0]).size == (IMAGE_SIZE, IMAGE_SIZE)


def test_reconstructions_seeded_repeat(client):
    upload_id = upload_digit(client, 2)
    request = {"upload_id": upload_id, "samples": 2, "seed": 5}
    first = client.post("/api/reconstructions", json=request).json()
    second = client.post("/api/reconstructions", json=request).json()
    assert first["reconstructions"] == second["reconstructions"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"image_id": 1, "samples": LIMITS["max_samples"] + 1}, 422, "out_of_range"),
        ({"image_id": 10**9}, 404, "image_not_found"),
        ({"upload_id": 10**9}, 404, "upload_not_found"),
        ({"samples": 2}, 422, "wrong_query_count"),
        ({"image_id": "seven"}, 422, "invalid_request"),
    ],
)
def test_reconstructions_rejected(client, body, status, code):
    response = client.post("/api/reconstructions", json=body)
    assert response.status_code == status
    assert error_code(response) == code


def test_samples_count_and_shape(client):
    response = client.get("/api/samples", params={"count": 2, "seed": 3})
    assert response.status_code == 200
    samples = response.json()["samples"]
    assert len(samples) == 2
    assert len(samples[0]["z"]) == CODE_SIZE
    assert decode_data_url(samples[0]["image"]).size == (IMAGE_SIZE, IMAGE_SIZE)


def test_samples_over_limit(client):
    response = client.get("/api/samples", params={"count": LIMITS["max_samples"] + 1})
    assert response.status_code == 422
    assert error_code(response) == "out_of_range"


def test_indexed_image_png(client):
    response = client.get("/api/images/0")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.size == (IMAGE_SIZE, IMAGE_SIZE)


def test_unknown_image_and_upload(client):
    assert error_code(client.get("/api/images/999999")) == "image_not_found"
    assert error_code(client.get("/api/uploads/999999/image")) == "upload_not_found"
    assert client.get("/api/images/abc").status_code == 422


def test_models_lists_active(client):
    body = client.get("/api/models").json()
    active = [version for version in body["versions"] if version["active"]]
    assert len(active) == 1
    assert active[0]["version"] == body["active"]
    assert active[0]["summary"]["code_size"] == CODE_SIZE


def test_activate_needs_token(client, tiny_bundle):
    assert error_code(client.post("/api/models", json={"bundle_path": str(tiny_bundle)})) == "unauthorized"
    wrong = client.post("/api/models", json={"bundle_path": str(tiny_bundle)}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_activate_missing_bundle(client, tmp_path):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = client.post("/api/models", json={"bundle_path": str(tmp_path / "none")}, headers=headers)
    assert response.status_code == 422
    assert error_code(response) == "invalid_bundle"


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"


def test_metrics_count_routes(client):
    client.get("/api/neighbours", params={"image_id": 1, "k": 2})
    text = client.get("/metrics").text
    assert 'acn_http_requests_total{method="GET",route="/api/neighbours",status="200"}' in text
    assert "acn_index_images" in text
    assert 'acn_inference_seconds_count{operation="search"}' in text


def test_request_id_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_unknown_route_json(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_openapi_lists_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/encode", "/api/neighbours", "/api/reconstructions", "/api/daydreams/stream", "/api/samples", "/api/models"):
        assert path in paths
    encode_body = paths["/api/encode"]["post"]["requestBody"]["content"]
    assert set(encode_body) == {"multipart/form-data", "application/json"}


def test_activate_same_bundle(client, tiny_bundle):
    before = client.get("/api/models").json()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = client.post("/api/models", json={"bundle_path": str(tiny_bundle)}, headers=headers)
    assert response.status_code == 200
    assert response.json()["version"] == before["active"]
    assert response.json()["active"] is True
    after = client.get("/api/models").json()
    assert len(after["versions"]) == len(before["versions"])
