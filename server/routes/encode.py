"""POST /api/encode (and POST /encode): codes of uploaded images, from multipart files or base64 JSON."""

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from server.errors import ApiError, ErrorKind, describe_validation, error_responses
from server.images import check_file_size, decode_base64, decode_upload, describe_item
from server.inference import encode
from server.registry import Snapshot
from server.services import Services, get_services
from server.settings import Settings
from server.uploads import store_uploads

router = APIRouter(tags=["encode"])

MULTIPART = "multipart/form-data"
JSON = "application/json"
MULTIPART_FILE_CAP = 1000  # Starlette's default max_files; Settings.max_batch may not exceed it


class EncodeJsonRequest(BaseModel):
    images: list[str] = Field(description="image files as base64 text, each optionally a data: URL")
    names: list[str] | None = Field(None, description="optional file names, one per image, used in error messages")


class EncodedImage(BaseModel):
    upload_id: int = Field(description="id of the stored upload; uploads with the same pixels share one id")
    model_version: str
    code: list[float] = Field(description="mean of q(z|x), of the model's code size")
    sha256: str = Field(description="hash of the decoded, normalised image")
    filename: str | None


class EncodeResponse(BaseModel):
    model_version: str
    items: list[EncodedImage]


REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    "required": ["files"],
                }
            },
            JSON: {"schema": EncodeJsonRequest.model_json_schema()},
        },
    }
}

NamedBytes = tuple[str | None, bytes]


async def read_images(request: Request, settings: Settings) -> list[NamedBytes]:
    """Read the images of a multipart or JSON body, checking counts and per-file sizes before decoding."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == MULTIPART:
        images = await _read_multipart(request, settings)
    elif content_type == JSON:
        images = await _read_json(request, settings)
    else:
        raise ApiError(ErrorKind.UNSUPPORTED_MEDIA_TYPE, content_type=content_type or "none", accepted=f"{MULTIPART} or {JSON}")
    if not images:
        raise ApiError(ErrorKind.NO_IMAGES)
    return images


async def _read_multipart(request: Request, settings: Settings) -> list[NamedBytes]:
    try:
        form = await request.form(max_files=MULTIPART_FILE_CAP, max_fields=MULTIPART_FILE_CAP)
    except HTTPException as error:
        if error.status_code == 413:
            raise
        raise ApiError(ErrorKind.INVALID_MULTIPART, reason=error.detail) from None
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        _check_count(len(files), settings)
        images = []
        for index, upload in enumerate(files):
            check_file_size(describe_item(index, upload.filename), upload.size or 0, settings.max_upload_bytes)
            images.append((upload.filename, await upload.read()))
        return images
    finally:
        await form.close()


async def _read_json(request: Request, settings: Settings) -> list[NamedBytes]:
    body = await request.body()
    try:
        parsed = EncodeJsonRequest.model_validate_json(body)
    except ValidationError as error:
        raise ApiError(ErrorKind.INVALID_REQUEST, reason=describe_validation(list(error.errors()))) from None
    _check_count(len(parsed.images), settings)
    names = parsed.names or [None] * len(parsed.images)
    if len(names) != len(parsed.images):
        raise ApiError(ErrorKind.INVALID_REQUEST, reason=f"names has {len(names)} entries for {len(parsed.images)} images; give one per image")
    return [
        (name, decode_base64(describe_item(index, name), text, settings.max_upload_bytes))
        for index, (name, text) in enumerate(zip(names, parsed.images))
    ]


def _check_count(count: int, settings: Settings) -> None:
    if count > settings.max_batch:
        raise ApiError(ErrorKind.TOO_MANY_IMAGES, count=count, limit=settings.max_batch)


def encode_and_store(services: Services, snapshot: Snapshot, images: list[NamedBytes]) -> EncodeResponse:
    """Decode, encode and store images on one snapshot; runs in a worker thread."""
    settings = services.settings
    spec = snapshot.bundle.preprocess_spec
    decoded = [
        decode_upload(index, name, data, spec, settings.max_upload_bytes, settings.max_image_pixels)
        for index, (name, data) in enumerate(images)
    ]
    codes = encode(snapshot, np.stack([upload.model_input for upload in decoded]), services.metrics)  # (N, D)
    ids = store_uploads(services.sessions, settings.data_dir, decoded, codes, snapshot.model_version_id)
    items = [
        EncodedImage(upload_id=upload_id, model_version=snapshot.version, code=code.tolist(), sha256=upload.sha256, filename=upload.name or None)
        for upload_id, upload, code in zip(ids, decoded, codes)
    ]
    return EncodeResponse(model_version=snapshot.version, items=items)


async def encode_images(request: Request, services: Services = Depends(get_services)) -> EncodeResponse:
    """Return the code of each posted image, with its upload id and the model version that encoded it.

    Send multipart/form-data with one or more files (any field name; 'files' by convention), or JSON
    {"images": [base64, ...]}. The whole request is rejected if any image is invalid.
    """
    snapshot = services.registry.current()
    images = await read_images(request, services.settings)
    return await run_in_threadpool(encode_and_store, services, snapshot, images)


_ROUTE_OPTIONS = {
    "response_model": EncodeResponse,
    "methods": ["POST"],
    "openapi_extra": REQUEST_BODY,
    "responses": error_responses(400, 413, 415, 422, 503),
}
router.add_api_route("/api/encode", encode_images, name="encode_images", **_ROUTE_OPTIONS)
# The path given to downstream users, with the same responses as /api/encode.
router.add_api_route("/encode", encode_images, name="encode_images_short", **_ROUTE_OPTIONS)
