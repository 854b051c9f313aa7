"""Training runs through the admin API: a real tiny retraining, the swap under load, failures and rollback."""

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from server.app import create_app
from server.images import decode_upload
from tests.server.conftest import ADMIN_TOKEN, ServerThread, make_settings
from training.export import Bundle, load_bundle

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TINY_OVERRIDES = {
    "image-size": 8,
    "decoder-blocks": 1,
    "decoder-filters": 8,
    "encoder-channels": "8,8",
    "encoder-strides": "2,2",
    "prior-hidden": 16,
    "batch-size": 8,
}
RUN_TIMEOUT_SECONDS = 240.0
MAX_LOOP_REQUESTS = 3000


def write_tiny_pngs(directory: Path, count: int = 36) -> None:
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = (rng.random((8, 8)) > 0.5).astype(np.uint8) * 255  # (8, 8)
        Image.fromarray(pixels).save(directory / f"{index:03d}.png")


def png_bytes(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 12), dtype=np.uint8)  # (12, 12)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("admin-runs")
    write_tiny_pngs(directory / "datasets" / "tiny")
    (directory / "datasets" / "empty").mkdir()
    return directory


@pytest.fixture(scope="module")
def server(tiny_bundle: Path, data_dir: Path) -> Iterator[ServerThread]:
    thread = ServerThread(create_app(make_settings(data_dir, tiny_bundle)))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def start_run(http: httpx.Client, data: str, **fields: Any) -> int:
    body = {"data": data, "steps": 5, "evaluate": False, "overrides": TINY_OVERRIDES, **fields}
    response = http.post("/api/admin/training-runs", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def wait_for_run(http: httpx.Client, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = http.get(f"/api/admin/training-runs/{run_id}", headers=AUTH).json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.5)
    raise TimeoutError(f"training run {run_id} did not finish within {RUN_TIMEOUT_SECONDS} s")


def active_version(http: httpx.Client) -> str:
    return http.get("/api/models").json()["active"]


@pytest.mark.parametrize("data", ["/etc", "../outside", "tiny/../../.."])
def test_data_outside_root_rejected(http: httpx.Client, data: str) -> None:
    response = http.post("/api/admin/training-runs", json={"data": data}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "data_outside_root"


def test_unknown_override_rejected(http: httpx.Client) -> None:
    response = http.post("/api/admin/training-runs", json={"data": "tiny", "overrides": {"no-such-flag": 1}}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "invalid_overrides"


def test_failed_run_keeps_version(http: httpx.Client) -> None:
    before = active_version(http)
    run = wait_for_run(http, start_run(http, "empty"))
    assert run["state"] == "failed"
    assert "acn train exited with status" in run["error"]
    assert run["log_tail"]
    assert active_version(http) == before
    events = http.get(f"/api/admin/training-runs/{run['id']}/events", headers=AUTH)
    assert "event: run" in events.text
    assert events.text.rstrip().endswith('data: {"state": "failed"}')


def test_cancel_running_run(http: httpx.Client) -> None:
    before = active_version(http)
    run_id = start_run(http, "tiny", steps=None, minutes=2)
    deadline = time.monotonic() + 30
    while http.get(f"/api/admin/training-runs/{run_id}", headers=AUTH).json()["state"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
    response = http.delete(f"/api/admin/training-runs/{run_id}", headers=AUTH)
    assert response.status_code == 202
    run = wait_for_run(http, run_id)
    assert run["state"] == "cancelled"
    assert "cancel" in run["error"]
    assert active_version(http) == before
    again = http.delete(f"/api/admin/training-runs/{run_id}", headers=AUTH)
    assert again.status_code == 409


class RequestLoop:
    """Sends /api/encode and /api/neighbours requests in turn until stopped, recording every response."""

    def __init__(self, url: str, image: bytes, code: list[float]) -> None:
        self.url = url
        self.image = image
        self.code = ",".join(str(value) for value in code)
        self.responses: list[tuple[str, int, dict[str, Any]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set() and len(self.responses) < MAX_LOOP_REQUESTS:
                encoded = client.post("/api/encode", files={"files": ("query.png", self.image, "image/png")})
                self.responses.append(("encode", encoded.status_code, encoded.json()))
                found = client.get("/api/neighbours", params={"code": self.code, "k": 5})
                self.responses.append(("neighbours", found.status_code, found.json()))
                time.sleep(0.05)


def expected_code(bundle: Bundle, image: bytes) -> np.ndarray:
    upload = decode_upload(0, "query.png", image, bundle.preprocess_spec, 1 << 20, 1 << 20)
    return bundle.encode(upload.model_input[np.newaxis])[0]  # (D,)


def check_consistent(kind: str, body: dict[str, Any], bundles: dict[str, Bundle], image: bytes, query: np.ndarray) -> None:
    version = body["model_version"]
    assert version in bundles, f"{kind} named unknown version {version}"
    bundle = bundles[version]
    if kind == "encode":
        np.testing.assert_allclose(body["items"][0]["code"], expected_code(bundle, image), rtol=1e-4, atol=1e-4)
    else:
        ids, _ = bundle.neighbours(query[np.newaxis], 5)
        assert [item["id"] for item in body["neighbours"]] == ids[0].tolist()


def test_retraining_swaps_without_errors(http: httpx.Client, server: ServerThread, tiny_bundle: Path) -> None:
    old_version = active_version(http)
    image = png_bytes(1)
    query = np.linspace(-1, 1, load_bundle(tiny_bundle, device="cpu").config.code_size, dtype=np.float32)  # (D,)
    loop = RequestLoop(server.url, image, query.tolist())
    loop.thread.start()
    run_id = start_run(http, "tiny")
    queued_id = start_run(http, "tiny")
    cancelled = http.delete(f"/api/admin/training-runs/{queued_id}", headers=AUTH)
    try:
        run = wait_for_run(http, run_id)
        time.sleep(1.0)  # let the loop send a few requests to the new version
    finally:
        loop.stop.set()
        loop.thread.join(timeout=60)

    assert cancelled.status_code == 202
    assert cancelled.json()["state"] == "cancelled"
    assert run["state"] == "succeeded", run["error"]
    assert run["swap"]["activate"] is True
    new_version = active_version(http)
    assert new_version != old_version
    assert run["metrics"]

    bundles = {old_version: load_bundle(tiny_bundle, device="cpu"), new_version: load_bundle(run["bundle_path"], device="cpu")}
    failures = [(kind, status, body) for kind, status, body in loop.responses if status != 200]
    assert failures == []
    seen = {body["model_version"] for _, _, body in loop.responses}
    assert seen == {old_version, new_version}
    for kind, _, body in loop.responses:
        check_consistent(kind, body, bundles, image, query)


def test_rollback_is_one_call(http: httpx.Client) -> None:
    versions = http.get("/api/models").json()["versions"]
    assert len(versions) >= 2
    first = versions[0]
    response = http.post(f"/api/admin/models/{first['id']}/activate", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert active_version(http) == first["version"]
    rows = http.get("/api/models").json()["versions"]
    assert sum(row["active"] for row in rows) == 1
