"""GET /api/latent-map: the indexed images' codes projected to two dimensions by PCA, for the gallery's map.

The projection is fitted once per model version on all indexed codes and kept while that snapshot lives,
so later requests and the query marker reuse the same axes.
"""

import dataclasses
import threading
import weakref

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sklearn.decomposition import PCA

from server.errors import error_responses
from server.inference import encode
from server.registry import Snapshot
from server.routes.neighbours import check_range
from server.services import Services, get_services
from server.sources import check_one_of, resolve_source
from server.uploads import find_code

router = APIRouter(tags=["latent map"])

MAX_POINTS = 5000  # points one response may list; the projection itself always uses every indexed code


class MapPoint(BaseModel):
    id: int = Field(description="id of the indexed image")
    x: float = Field(description="first principal component of its code")
    y: float = Field(description="second principal component of its code")
    label: int | None
    class_name: str | None
    image_url: str


class MapQuery(BaseModel):
    kind: str = Field(description="upload or image")
    id: int
    x: float
    y: float


class LatentMapResponse(BaseModel):
    model_version: str
    indexed_images: int = Field(description="images the projection was fitted on")
    explained_variance_ratio: list[float] = Field(description="share of the code variance along x and y")
    points: list[MapPoint] = Field(description="an evenly spaced subset of the indexed images, in id order")
    query: MapQuery | None = Field(description="the upload or image given in the request, projected on the same axes")


@dataclasses.dataclass(frozen=True, eq=False)
class Projection:
    """A PCA fitted to one snapshot's indexed codes, and those codes' coordinates."""

    pca: PCA
    coordinates: np.ndarray  # float32 (N, 2), row i belongs to bundle.ids[i]

    def project(self, codes: np.ndarray) -> np.ndarray:
        """Project codes (B, D) onto the two map axes. A code size below 2 leaves y at 0."""
        projected = self.pca.transform(codes)  # (B, components)
        return _pad_to_two(projected)


# Weak keys, so the projection of a replaced model is dropped together with its snapshot.
_projections: "weakref.WeakKeyDictionary[Snapshot, Projection]" = weakref.WeakKeyDictionary()
_projections_lock = threading.Lock()


def _pad_to_two(values: np.ndarray) -> np.ndarray:
    padded = np.zeros((len(values), 2), dtype=np.float32)  # (B, 2)
    padded[:, : values.shape[1]] = values
    return padded


def projection_of(snapshot: Snapshot) -> Projection:
    """Return the snapshot's projection, fitting it on the first call. The lock makes concurrent first calls fit it once."""
    with _projections_lock:
        cached = _projections.get(snapshot)
        if cached is not None:
            return cached
        codes = snapshot.bundle.codes  # (N, D)
        components = min(2, codes.shape[0], codes.shape[1])
        pca = PCA(n_components=components, svd_solver="full").fit(codes)
        projection = Projection(pca=pca, coordinates=_pad_to_two(pca.transform(codes)))
        _projections[snapshot] = projection
        return projection


def _query_point(services: Services, snapshot: Snapshot, projection: Projection, upload_id: int | None, image_id: int | None) -> MapQuery:
    """Project the requested upload or indexed image, reusing an upload's stored code of this model version."""
    check_one_of(upload_id=upload_id, image_id=image_id)
    stored = None if upload_id is None else find_code(services.sessions, upload_id, snapshot.model_version_id)
    if stored is not None:
        assert upload_id is not None
        kind, key, code = "upload", upload_id, np.asarray([stored], dtype=np.float32)  # (1, D)
    else:
        source = resolve_source(services, snapshot, upload_id, image_id)
        kind, key, code = source.kind, source.id, encode(snapshot, source.model_input[np.newaxis], services.metrics)
    x, y = projection.project(code)[0].tolist()
    return MapQuery(kind=kind, id=key, x=x, y=y)


def build_latent_map(services: Services, snapshot: Snapshot, points: int, upload_id: int | None, image_id: int | None) -> LatentMapResponse:
    projection = projection_of(snapshot)
    bundle = snapshot.bundle
    count = len(bundle.ids)
    rows = np.unique(np.linspace(0, count - 1, min(points, count)).round().astype(np.int64))  # (P,)
    listed = []
    for row in rows.tolist():
        label = None if bundle.labels is None else int(bundle.labels[row])
        class_name = bundle.class_names[label] if label is not None and bundle.class_names else None
        image_id_at_row = int(bundle.ids[row])
        x, y = projection.coordinates[row].tolist()
        listed.append(MapPoint(id=image_id_at_row, x=x, y=y, label=label, class_name=class_name, image_url=f"/api/images/{image_id_at_row}"))
    query = None
    if upload_id is not None or image_id is not None:
        query = _query_point(services, snapshot, projection, upload_id, image_id)
    ratios = _pad_to_two(projection.pca.explained_variance_ratio_[np.newaxis])[0].tolist()
    return LatentMapResponse(model_version=snapshot.version, indexed_images=count, explained_variance_ratio=ratios, points=listed, query=query)


@router.get("/api/latent-map", response_model=LatentMapResponse, responses=error_responses(404, 422, 503))
async def get_latent_map(
    points: int = Query(1000, description=f"indexed images to list, 1 to {MAX_POINTS}"),
    upload_id: int | None = Query(None, description="upload to project onto the map as the query marker"),
    image_id: int | None = Query(None, description="indexed image to project onto the map as the query marker"),
    services: Services = Depends(get_services),
) -> LatentMapResponse:
    """Return PCA coordinates, labels and image URLs of indexed images, and optionally of one query image."""
    snapshot = services.registry.current()
    check_range("points", points, 1, MAX_POINTS)
    return await run_in_threadpool(build_latent_map, services, snapshot, points, upload_id, image_id)
