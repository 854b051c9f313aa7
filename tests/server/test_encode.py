"""POST /api/encode against a real server: batches, base64, storage once per hash, and every upload rule."""

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.server import image_files
from tests.server.conftest import LIMITS

CODE_SIZE = 32  # the cpu preset's, which the tiny test bundle keeps


def post_files(client: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return client.post("/api/encode", files=[("files", (name, data, "application/octet-stream")) for name, data in files])


def error_code(response: httpx.Response) -> str:
    return response.json()["detail"]["code"]


def test_encode_one_png(client):
    response = post_files(client, ("digit.png", image_files.digit_png()))
    assert response.status_code == 200
    body = response.json()
    item = body["items"][0]
    assert len(item["code"]) == CODE_SIZE
    assert item["model_version"] == body["model_version"]
    assert item["upload_id"] >= 1
    assert item["filename"] == "digit.png"


def test_encode_batch_of_256(client):
    files = [(f"{index}.png", image_files.digit_png(index)) for index in range(256)]
    response = post_files(client, *files)
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 256
    assert [item["filename"] for item in items] == [name for name, _ in files]


def test_same_pixels_share_upload(client, server_settings):
    first = post_files(client, ("a.png", image_files.digit_png(5))).json()["items"][0]
    second = post_files(client, ("b.png", image_files.digit_png(5))).json()["items"][0]
    assert first["upload_id"] == second["upload_id"]
    assert first["code"] == second["code"]
    stored = list((server_settings.data_dir / "uploads").glob(f"{first['sha256']}.png"))
    assert len(stored) == 1


def test_json_base64_matches_multipart(client):
    data = image_files.digit_png(7)
    by_file = post_files(client, ("d.png", data)).json()["items"][0]
    as_text = base64.b64encode(data).decode()
    by_json = client.post("/api/encode", json={"images": [as_text, "data:image/png;base64," + as_text]})
    assert by_json.status_code == 200
    items = by_json.json()["items"]
    assert items[0]["code"] == by_file["code"]
    assert items[1]["upload_id"] == by_file["upload_id"]


def test_short_encode_route(client):
    response = post_files(client, ("digit.png", image_files.digit_png()))
    short = client.post("/encode", files=[("files", ("digit.png", image_files.digit_png(), "image/png"))])
    assert short.status_code == 200
    assert short.json() == response.json()


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty.png", lambda: b"", 400, "empty_file"),
        ("notes.png", image_files.text_named_png, 400, "not_an_image"),
        ("cut.png", image_files.truncated_png, 400, "corrupt_image"),
        ("bomb.png", image_files.bomb_png, 413, "too_many_pixels"),
        ("huge.png", lambda: image_files.noise_png(600), 413, "file_too_large"),
    ],
)
def test_rejected_upload(client, name, make, status, code):
    response = post_files(client, ("good.png", image_files.digit_png()), (name, make()))
    assert response.status_code == status
    assert error_code(response) == code
    assert name in response.json()["detail"]["message"]


def test_bomb_rejected_before_decoding(client):
    # 200000 x 200000 pixels would take 40 GB decoded; the header alone must reject it.
    response = post_files(client, ("bomb.png", image_files.png_header_only(200_000, 200_000)))
    assert response.status_code == 413
    assert error_code(response) == "too_many_pixels"


def test_request_over_limit(client):
    files = [(f"{index}.png", image_files.noise_png(500 + index)) for index in range(10)]
    assert sum(len(data) for _, data in files) > LIMITS["max_request_bytes"]
    response = post_files(client, *files)
    assert response.status_code == 413
    assert error_code(response) == "request_too_large"


def test_too_many_images(client):
    small = image_files.encoded(Image.new("L", (4, 4), 0), "PNG")
    response = post_files(client, *[(f"{index}.png", small) for index in range(LIMITS["max_batch"] + 1)])
    assert response.status_code == 413
    assert error_code(response) == "too_many_images"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"images": ["not base64 !!"]}, 400, "invalid_base64"),
        ({"images": []}, 422, "no_images"),
        ({"pictures": []}, 422, "invalid_request"),
    ],
)
def test_rejected_json(client, body, status, code):
    response = client.post("/api/encode", json=body)
    assert response.status_code == status
    assert error_code(response) == code


def test_malformed_json(client):
    response = client.post("/api/encode", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"


def test_unsupported_media_type(client):
    response = client.post("/api/encode", content=image_files.digit_png(), headers={"content-type": "image/png"})
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


@pytest.mark.parametrize(
    "make",
    [image_files.palette_png_with_transparency, image_files.grey16_png, image_files.cmyk_jpeg],
    ids=["palette-transparency", "grey16", "cmyk-jpeg"],
)
def test_converted_modes_accepted(client, make):
    response = post_files(client, ("image.bin", make()))
    assert response.status_code == 200
    code = response.json()["items"][0]["code"]
    assert len(code) == CODE_SIZE
    assert all(np.isfinite(code))


def test_grey16_matches_8bit(client):
    eight = post_files(client, ("8.png", image_files.digit_png())).json()["items"][0]["code"]
    sixteen = post_files(client, ("16.png", image_files.grey16_png())).json()["items"][0]["code"]
    np.testing.assert_allclose(sixteen, eight, atol=1e-5)


def test_exif_rotation_applied(client):
    response = post_files(client, ("photo.jpg", image_files.exif_rotated_jpeg(40, 24)))
    assert response.status_code == 200
    upload_id = response.json()["items"][0]["upload_id"]
    stored = client.get(f"/api/uploads/{upload_id}/image")
    assert stored.status_code == 200
    assert stored.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(stored.content)) as image:
        assert image.size == (24, 40)


def test_animated_gif_first_frame(client):
    gif, first_frame = image_files.animated_gif()
    animated = post_files(client, ("moving.gif", gif)).json()["items"][0]
    still = post_files(client, ("still.png", first_frame)).json()["items"][0]
    assert animated["sha256"] == still["sha256"]
    assert animated["code"] == still["code"]


def test_extension_ignored(client):
    named_gif = post_files(client, ("digit.gif", image_files.digit_png())).json()["items"][0]
    named_png = post_files(client, ("digit.png", image_files.digit_png())).json()["items"][0]
    assert named_gif["code"] == named_png["code"]
