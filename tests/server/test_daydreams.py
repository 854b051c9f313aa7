"""GET /api/daydreams/stream: event order and content, and that a client leaving stops the sampler."""

import base64
import io
import json
import re
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from training.export import load_bundle

CODE_SIZE = 32  # the cpu preset's, which the tiny test bundle keeps


def parse_events(lines: list[str]) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def metric(client: httpx.Client, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert match is not None, f"metric {name} not found"
    return float(match.group(1))


def test_stream_events_in_order(client):
    params = {"image_id": 5, "length": 2, "seed": 0}
    with client.stream("GET", "/api/daydreams/stream", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = parse_events(list(response.iter_lines()))
    assert [name for name, _ in events] == ["start", "image", "image", "end"]
    assert [data["step"] for name, data in events if name == "image"] == [1, 2]
    assert len(events[1][1]["code"]) == CODE_SIZE
    assert events[1][1]["image"].startswith("data:image/png;base64,")


def png_levels(url: str) -> np.ndarray:
    """Decode a PNG data URL of one grey image into uint8 levels (1, H, W) 0..255."""
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        return np.asarray(image)[np.newaxis]


def test_daydream_grey_start_and_codes(client, tiny_bundle):
    bundle = load_bundle(tiny_bundle, device="cpu")
    assert bundle.config.encoder_reads_grey
    with client.stream("GET", "/api/daydreams/stream", params={"image_id": 5, "length": 2, "seed": 0}) as response:
        events = parse_events(list(response.iter_lines()))
    # The start image is the grey model input, drawn at its own levels rather than as bits.
    assert np.array_equal(png_levels(events[0][1]["image"]), bundle.model_input(5))
    for name, data in events:
        if name != "image":
            continue
        sampled = png_levels(data["image"])
        assert set(np.unique(sampled)) <= {0, 255}  # sampled bits, drawn black and white
        expected = bundle.encode(bundle.encoder_input(sampled[np.newaxis] // 255))[0]
        assert np.allclose(data["code"], expected, atol=1e-5)


def test_stream_progress_events(client):
    params = {"image_id": 5, "length": 1, "progress": "true"}
    with client.stream("GET", "/api/daydreams/stream", params=params) as response:
        events = parse_events(list(response.iter_lines()))
    progress = [data for name, data in events if name == "progress"]
    assert [data["rows_done"] for data in progress] == list(range(1, progress[0]["rows"] + 1))


def test_disconnect_stops_sampling(client, live_server):
    cancelled_before = metric(client, "acn_daydreams_cancelled_total")
    rows_before = metric(client, "acn_sampled_rows_total")
    params = {"image_id": 5, "length": 200, "progress": "true"}
    with httpx.Client(base_url=live_server.url, timeout=30) as streaming:
        with streaming.stream("GET", "/api/daydreams/stream", params=params) as response:
            for line in response.iter_lines():
                if line == "event: progress":
                    break  # leave while the first image is being sampled
    deadline = time.monotonic() + 10
    while metric(client, "acn_sampling_active") > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(client, "acn_sampling_active") == 0
    assert metric(client, "acn_daydreams_cancelled_total") == cancelled_before + 1
    rows_after = metric(client, "acn_sampled_rows_total")
    time.sleep(0.3)
    assert metric(client, "acn_sampled_rows_total") == rows_after
    # The whole chain would have sampled 200 images of 12 rows each.
    assert rows_after - rows_before < 200 * 12


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"image_id": 10**9}, 404, "image_not_found"),
        ({"upload_id": 10**9}, 404, "upload_not_found"),
        ({"image_id": 1, "length": 0}, 422, "out_of_range"),
        ({"image_id": 1, "length": 10**6}, 422, "out_of_range"),
        ({"length": 2}, 422, "wrong_query_count"),
    ],
)
def test_stream_rejected(client, params, status, code):
    response = client.get("/api/daydreams/stream", params=params)
    assert response.status_code == status
    assert response.json()["detail"]["code"] == code
