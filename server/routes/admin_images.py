"""POST /api/admin/images: add uploaded or server-side images to the searchable collection without retraining."""

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from server.admin.added_images import added_image_id, decode_files, refresh_added_images, store_added_images
from server.admin.auth import require_admin
from server.errors import ApiError, ErrorKind, describe_validation, error_responses
from server.routes.encode import JSON, MULTIPART, read_images
from server.services import Services, get_services

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)], responses=error_responses(401, 403))


class AddPathsRequest(BaseModel):
    paths: list[str] = Field(description="image files inside the allowed data root (ACN_DATA_ROOT)")
    label: int | None = Field(None, description="class index of every image, needed when the model's index has labels")


class AddedImagesResponse(BaseModel):
    model_version: str
    ids: list[int] = Field(description="image ids in the index, usable with /api/images/{id} and /api/neighbours")
    indexed_images: int = Field(description="images in the active index after adding")


def _read_paths(services: Services, paths: list[str]) -> list[tuple[str | None, bytes]]:
    root = services.settings.resolved_data_root
    files: list[tuple[str | None, bytes]] = []
    for given in paths:
        path = (root / given).resolve()  # an absolute `given` replaces root, and is then checked like any other
        if not path.is_relative_to(root):
            raise ApiError(ErrorKind.DATA_OUTSIDE_ROOT, path=given, root=root)
        if not path.is_file():
            raise ApiError(ErrorKind.INVALID_REQUEST, reason=f"image file {given} does not exist inside the data root {root}")
        files.append((given, path.read_bytes()))
    return files


async def _read_request(request: Request, services: Services) -> tuple[list[tuple[str | None, bytes]], int | None]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == JSON:
        try:
            parsed = AddPathsRequest.model_validate_json(await request.body())
        except ValidationError as error:
            raise ApiError(ErrorKind.INVALID_REQUEST, reason=describe_validation(list(error.errors()))) from None
        if not parsed.paths:
            raise ApiError(ErrorKind.NO_IMAGES)
        return await run_in_threadpool(_read_paths, services, parsed.paths), parsed.label
    if content_type != MULTIPART:
        raise ApiError(ErrorKind.UNSUPPORTED_MEDIA_TYPE, content_type=content_type or "none", accepted=f"{MULTIPART} or {JSON}")
    label_text = (await request.form()).get("label")
    label = None
    if isinstance(label_text, str) and label_text.strip():
        try:
            label = int(label_text)
        except ValueError:
            raise ApiError(ErrorKind.INVALID_REQUEST, reason=f"label {label_text!r} is not a whole number") from None
    return await read_images(request, services.settings), label


@router.post("/api/admin/images", response_model=AddedImagesResponse, responses=error_responses(400, 413, 415, 422))
async def add_images(request: Request, services: Services = Depends(get_services)) -> AddedImagesResponse:
    """Store images, encode them with the active model and add their codes to its index; no rebuild, no retraining.

    Send multipart files (with an optional `label` field) or JSON {"paths": [...], "label": N} naming files
    inside the data root. Every later activation indexes them again with its own encoder.
    """
    files, label = await _read_request(request, services)
    snapshot = services.registry.current()
    labels = snapshot.bundle.labels
    if labels is not None and label is None:
        raise ApiError(ErrorKind.INVALID_REQUEST, reason="this model's index has labels, so give the label (class index) of the added images")
    if labels is not None and label is not None:
        classes = len(snapshot.bundle.class_names or []) or int(labels.max()) + 1
        if not 0 <= label < classes:
            raise ApiError(ErrorKind.OUT_OF_RANGE, name="label", value=label, low=0, high=classes - 1)
    decoded = await run_in_threadpool(decode_files, services, snapshot, files)
    rows = await run_in_threadpool(store_added_images, services, decoded, label)
    derived = await run_in_threadpool(refresh_added_images, services)
    return AddedImagesResponse(
        model_version=derived.version, ids=[added_image_id(row.id) for row in rows], indexed_images=len(derived.bundle.ids)
    )
