"""GET /api/neighbours: the nearest indexed images to an upload, an indexed image or a raw code vector."""

import math

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from server.errors import ApiError, ErrorKind, error_responses
from server.inference import encode, search
from server.registry import Snapshot
from server.services import Services, get_services
from server.sources import check_one_of, image_source, upload_source
from server.uploads import find_code

router = APIRouter(tags=["neighbours"])


class Neighbour(BaseModel):
    id: int = Field(description="id of the indexed image")
    distance: float = Field(description="Euclidean distance between the codes")
    label: int | None
    class_name: str | None
    image_url: str


class NeighbourQuery(BaseModel):
    kind: str = Field(description="upload, image or code")
    id: int | None = Field(description="upload id or image id; None for a code vector")
    code: list[float]


class NeighboursResponse(BaseModel):
    model_version: str
    query: NeighbourQuery
    neighbours: list[Neighbour]


def parse_code(text: str, size: int) -> np.ndarray:
    """Parse comma-separated numbers into a (1, size) float32 code, rejecting other lengths and non-finite values."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ApiError(ErrorKind.INVALID_CODE, reason="contains a value that is not a number", size=size) from None
    if len(values) != size:
        raise ApiError(ErrorKind.INVALID_CODE, reason=f"has {len(values)} values, but this model's codes have {size}", size=size)
    if not all(math.isfinite(value) for value in values):
        raise ApiError(ErrorKind.INVALID_CODE, reason="contains NaN or infinity", size=size)
    return np.asarray([values], dtype=np.float32)  # (1, D)


def check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ApiError(ErrorKind.OUT_OF_RANGE, name=name, value=value, low=low, high=high)


def _query_code(services: Services, snapshot: Snapshot, kind: str, key: int | None, code: str | None) -> tuple[np.ndarray, int | None]:
    """Return the query code (1, D) and the index id to exclude from its neighbours."""
    if kind == "code":
        assert code is not None
        return parse_code(code, snapshot.bundle.config.code_size), None
    assert key is not None
    if kind == "upload_id":
        stored = find_code(services.sessions, key, snapshot.model_version_id)
        if stored is not None:
            return np.asarray([stored], dtype=np.float32), None
        source = upload_source(services, snapshot, key)
    else:
        source = image_source(snapshot, key)
    return encode(snapshot, source.model_input[np.newaxis], services.metrics), source.exclude_id


def find_neighbours(
    services: Services, snapshot: Snapshot, kind: str, key: int | None, code: str | None, k: int
) -> NeighboursResponse:
    query, exclude_id = _query_code(services, snapshot, kind, key, code)
    ids, squared = search(snapshot, query, k, [exclude_id], services.metrics)  # (1, k) each
    bundle = snapshot.bundle
    neighbours = []
    for image_id, distance in zip(ids[0].tolist(), squared[0].tolist()):
        if image_id < 0:
            continue  # padding: the index has fewer than k other images
        label = None if bundle.labels is None else int(bundle.labels[np.searchsorted(bundle.ids, image_id)])
        class_name = bundle.class_names[label] if label is not None and bundle.class_names else None
        neighbours.append(
            Neighbour(id=image_id, distance=math.sqrt(max(distance, 0.0)), label=label, class_name=class_name, image_url=f"/api/images/{image_id}")
        )
    query_kind = {"upload_id": "upload", "image_id": "image", "code": "code"}[kind]
    return NeighboursResponse(
        model_version=snapshot.version,
        query=NeighbourQuery(kind=query_kind, id=key, code=query[0].tolist()),
        neighbours=neighbours,
    )


@router.get("/api/neighbours", response_model=NeighboursResponse, responses=error_responses(404, 422, 503))
async def get_neighbours(
    upload_id: int | None = Query(None, description="id returned by /api/encode"),
    image_id: int | None = Query(None, description="id of an indexed image"),
    code: str | None = Query(None, description="code vector as comma-separated numbers"),
    k: int = Query(10, description="number of neighbours, 1 to ACN_MAX_NEIGHBOURS"),
    services: Services = Depends(get_services),
) -> NeighboursResponse:
    """Return the k nearest indexed images by code distance; an indexed query image is never its own neighbour."""
    snapshot = services.registry.current()
    kind = check_one_of(upload_id=upload_id, image_id=image_id, code=code)
    check_range("k", k, 1, services.settings.max_neighbours)
    key = upload_id if kind == "upload_id" else image_id
    return await run_in_threadpool(find_neighbours, services, snapshot, kind, key, code, k)
