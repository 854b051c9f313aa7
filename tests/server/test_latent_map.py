"""GET /api/latent-map: PCA coordinates of the indexed codes, the query marker on the same axes, and the cache."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from server.routes.latent_map import MAX_POINTS, projection_of
from tests.server.image_files import digit_png
from training.export import load_bundle


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return load_bundle(tiny_bundle)


def test_map_lists_requested_points(client, bundle):
    response = client.get("/api/latent-map", params={"points": 50})
    assert response.status_code == 200
    body = response.json()
    assert len(body["points"]) == 50
    assert body["indexed_images"] == len(bundle.ids)
    assert body["query"] is None
    ids = [point["id"] for point in body["points"]]
    assert ids == sorted(ids)
    assert ids[0] == int(bundle.ids[0])
    assert ids[-1] == int(bundle.ids[-1])


def test_map_coordinates_match_sklearn_pca(client, bundle):
    body = client.get("/api/latent-map", params={"points": 20}).json()
    expected = PCA(n_components=2, svd_solver="full").fit(bundle.codes)
    rows = np.searchsorted(bundle.ids, [point["id"] for point in body["points"]])
    coordinates = np.array([[point["x"], point["y"]] for point in body["points"]])
    reference = expected.transform(bundle.codes[rows])  # (20, 2)
    # PCA fixes each axis only up to its sign.
    assert np.allclose(np.abs(coordinates), np.abs(reference), atol=1e-4)
    assert np.allclose(body["explained_variance_ratio"], expected.explained_variance_ratio_, atol=1e-5)


def test_map_points_carry_labels(client, bundle):
    point = client.get("/api/latent-map", params={"points": 5}).json()["points"][2]
    row = int(np.searchsorted(bundle.ids, point["id"]))
    assert point["label"] == int(bundle.labels[row])
    assert point["image_url"] == f"/api/images/{point['id']}"


def test_image_query_sits_on_its_point(client):
    image_id = 0
    body = client.get("/api/latent-map", params={"points": 10, "image_id": image_id}).json()
    own = next(point for point in body["points"] if point["id"] == image_id)
    assert body["query"]["kind"] == "image"
    assert body["query"]["x"] == pytest.approx(own["x"], abs=1e-4)
    assert body["query"]["y"] == pytest.approx(own["y"], abs=1e-4)


def test_upload_query_is_projected(client):
    encoded = client.post("/api/encode", files={"files": ("digit.png", digit_png(3), "image/png")}).json()
    upload_id = encoded["items"][0]["upload_id"]
    body = client.get("/api/latent-map", params={"points": 10, "upload_id": upload_id}).json()
    assert body["query"]["kind"] == "upload"
    assert body["query"]["id"] == upload_id
    assert np.isfinite([body["query"]["x"], body["query"]["y"]]).all()


@pytest.mark.parametrize("points", [0, MAX_POINTS + 1])
def test_map_points_out_of_range(client, points):
    response = client.get("/api/latent-map", params={"points": points})
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "out_of_range"


def test_map_rejects_two_queries(client):
    response = client.get("/api/latent-map", params={"upload_id": 1, "image_id": 1})
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "wrong_query_count"


def test_map_unknown_image_is_404(client):
    response = client.get("/api/latent-map", params={"image_id": 10**9})
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "image_not_found"


def test_projection_fitted_once_per_snapshot(live_server):
    snapshot = live_server.server.config.app.state.services.registry.current()
    assert projection_of(snapshot) is projection_of(snapshot)
