"""Adding images to the searchable collection of the active version without retraining."""

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from server.admin.added_images import ADDED_ID_BASE
from server.app import create_app
from tests.server.conftest import ADMIN_TOKEN, ServerThread, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def digit_png(seed: int) -> bytes:
    pixels = np.zeros((12, 12), dtype=np.uint8)  # (12, 12)
    rng = np.random.default_rng(seed)
    pixels[rng.integers(2, 6) : rng.integers(7, 11), rng.integers(2, 6) : rng.integers(7, 11)] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def http(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp("admin-images")
    (data_dir / "datasets").mkdir()
    (data_dir / "datasets" / "seven.png").write_bytes(digit_png(7))
    server = ServerThread(create_app(make_settings(data_dir, tiny_bundle)))
    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    server.stop()


def indexed_count(http: httpx.Client) -> int:
    models = http.get("/api/models").json()
    return next(row for row in models["versions"] if row["active"])["summary"]["indexed_images"]


def test_uploaded_images_become_searchable(http: httpx.Client) -> None:
    files = [("files", (f"added-{seed}.png", digit_png(seed), "image/png")) for seed in (1, 2)]
    response = http.post("/api/admin/images", files=files, data={"label": "3"}, headers=AUTH)
    assert response.status_code == 200, response.text
    added = response.json()
    assert len(added["ids"]) == 2
    assert all(image_id > ADDED_ID_BASE for image_id in added["ids"])
    assert added["indexed_images"] == indexed_count(http) + 2

    code = http.post("/api/encode", files={"files": ("q.png", digit_png(1), "image/png")}).json()["items"][0]["code"]
    found = http.get("/api/neighbours", params={"code": ",".join(map(str, code)), "k": 3}).json()["neighbours"]
    assert found[0]["id"] == added["ids"][0]
    assert found[0]["distance"] < 1e-3
    assert found[0]["label"] == 3
    assert http.get(f"/api/images/{added['ids'][0]}").status_code == 200


def test_server_side_image_added(http: httpx.Client) -> None:
    response = http.post("/api/admin/images", json={"paths": ["seven.png"], "label": 7}, headers=AUTH)
    assert response.status_code == 200, response.text
    neighbours = http.get("/api/neighbours", params={"image_id": response.json()["ids"][0], "k": 2})
    assert neighbours.status_code == 200


def test_added_image_needs_label(http: httpx.Client) -> None:
    response = http.post("/api/admin/images", files={"files": ("a.png", digit_png(4), "image/png")}, headers=AUTH)
    assert response.status_code == 422


def test_added_path_outside_root(http: httpx.Client) -> None:
    response = http.post("/api/admin/images", json={"paths": ["../../etc/hostname"], "label": 1}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "data_outside_root"
