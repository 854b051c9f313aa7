"""GET /api/images/{id} and /api/uploads/{id}/image: indexed images and stored uploads as PNG."""

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from server.errors import ApiError, ErrorKind, error_responses
from server.images import levels_to_image, png_bytes
from server.services import Services, get_services
from server.sources import image_not_found
from server.uploads import find_upload

router = APIRouter(tags=["images"])

PNG_RESPONSE = {200: {"content": {"image/png": {}}, "description": "PNG image"}}


@router.get("/api/images/{image_id}", response_class=Response, responses={**PNG_RESPONSE, **error_responses(404, 503)})
async def get_image(image_id: int, services: Services = Depends(get_services)) -> Response:
    """Return an indexed image of the active model as PNG, in display grey levels."""
    snapshot = services.registry.current()
    try:
        levels = snapshot.bundle.image(image_id)  # (C, H, W) 0..255
    except KeyError:
        raise image_not_found(snapshot, image_id) from None
    content = await run_in_threadpool(lambda: png_bytes(levels_to_image(levels, 256)))
    headers = {"X-Model-Version": snapshot.version, "Cache-Control": "no-cache"}
    return Response(content, media_type="image/png", headers=headers)


@router.get("/api/uploads/{upload_id}/image", response_class=FileResponse, responses={**PNG_RESPONSE, **error_responses(404)})
async def get_upload_image(upload_id: int, services: Services = Depends(get_services)) -> FileResponse:
    """Return a stored upload as PNG: its first frame, EXIF orientation applied, at its own size."""
    row = await run_in_threadpool(find_upload, services.sessions, upload_id)
    if row is None:
        raise ApiError(ErrorKind.UPLOAD_NOT_FOUND, upload_id=upload_id)
    # Content-addressed file, so it never changes under its URL.
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    return FileResponse(services.settings.data_dir / row.stored_path, media_type="image/png", headers=headers)
