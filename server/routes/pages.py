"""The browser gallery: server-rendered HTML pages under /, whose scripts call the JSON API.

Each view has its own URL and renders its data on the server (the model facts, the pre-processed query
image and its neighbours), so a shared or reloaded link shows the same view. Reconstructions, daydreams,
samples and the latent map are fetched by the page's scripts from /api/.
"""

from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.errors import ApiError
from server.images import data_url, levels_to_image
from server.registry import Snapshot
from server.routes.neighbours import NeighboursResponse, check_range, find_neighbours
from server.services import Services, get_services
from server.sources import Source, resolve_source

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
STATIC_DIR = WEB_DIR / "static"
TEMPLATES = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(WEB_DIR / "templates"), autoescape=True))
DEFAULT_NEIGHBOURS = 12

router = APIRouter(include_in_schema=False)


def model_facts(snapshot: Snapshot, services: Services) -> dict[str, Any]:
    """Return what every page shows about the active model, and the limits its scripts need."""
    bundle = snapshot.bundle
    channels, height, width = bundle.image_shape
    dataset = bundle.manifest.get("dataset") or {}
    settings = services.settings
    return {
        "version": snapshot.version,
        "dataset": dataset.get("name", "unknown"),
        "dataset_size": dataset.get("size"),
        "image_size": f"{width}×{height}",
        "channels": channels,
        "output_type": bundle.output_type.value,
        "code_size": bundle.config.code_size,
        "indexed_images": len(bundle.ids),
        "is_digit_model": bundle.preprocess_spec.digit_normalisation,
        "max_daydream_length": settings.max_daydream_length,
        "max_samples": settings.max_samples,
        "max_upload_bytes": settings.max_upload_bytes,
    }


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


def render_error(request: Request, error: ApiError) -> HTMLResponse:
    """Render an API error as a page, with the same status and message the JSON API would return."""
    context = {"title": "Not available", "status": error.kind.status, "code": error.kind.code, "message": error.message}
    return render(request, "error.html", context, status_code=error.kind.status)


def _result_data(services: Services, snapshot: Snapshot, upload_id: int | None, image_id: int | None, k: int) -> tuple[Source, NeighboursResponse]:
    source = resolve_source(services, snapshot, upload_id, image_id)
    kind = "upload_id" if upload_id is not None else "image_id"
    neighbours = find_neighbours(services, snapshot, kind, source.id, None, k)
    return source, neighbours


async def render_result(request: Request, services: Services, upload_id: int | None, image_id: int | None, k: int) -> HTMLResponse:
    """Render the result view of an upload or an indexed image: its model input and nearest neighbours."""
    try:
        snapshot = services.registry.current()
        check_range("k", k, 1, services.settings.max_neighbours)
        source, neighbours = await run_in_threadpool(_result_data, services, snapshot, upload_id, image_id, k)
    except ApiError as error:
        return render_error(request, error)
    levels = snapshot.bundle.config.encoder_levels  # of the model input, which the encoder reads
    context = {
        "title": f"{source.kind.capitalize()} {source.id}",
        "model": model_facts(snapshot, services),
        "source": source,
        "model_input_url": data_url(levels_to_image(source.model_input, levels)),
        "original_url": f"/api/uploads/{source.id}/image" if source.kind == "upload" else f"/api/images/{source.id}",
        "neighbours": neighbours.neighbours,
    }
    return render(request, "result.html", context)


@router.get("/", response_class=HTMLResponse)
async def home_page(request: Request, services: Services = Depends(get_services)) -> HTMLResponse:
    try:
        snapshot = services.registry.current()
    except ApiError as error:
        return render_error(request, error)
    return render(request, "home.html", {"title": "Search by image", "model": model_facts(snapshot, services)})


@router.get("/uploads/{upload_id}", response_class=HTMLResponse)
async def upload_page(request: Request, upload_id: int, k: int = Query(DEFAULT_NEIGHBOURS), services: Services = Depends(get_services)) -> HTMLResponse:
    return await render_result(request, services, upload_id, None, k)


@router.get("/images/{image_id}", response_class=HTMLResponse)
async def image_page(request: Request, image_id: int, k: int = Query(DEFAULT_NEIGHBOURS), services: Services = Depends(get_services)) -> HTMLResponse:
    return await render_result(request, services, None, image_id, k)


@router.get("/map", response_class=HTMLResponse)
async def map_page(
    request: Request,
    upload_id: int | None = Query(None),
    image_id: int | None = Query(None),
    services: Services = Depends(get_services),
) -> HTMLResponse:
    """Render the latent map, whose script fetches /api/latent-map with the same query parameters."""
    try:
        snapshot = services.registry.current()
    except ApiError as error:
        return render_error(request, error)
    context = {"title": "Latent map", "model": model_facts(snapshot, services), "upload_id": upload_id, "image_id": image_id}
    return render(request, "map.html", context)


@router.get("/samples", response_class=HTMLResponse)
async def samples_page(request: Request, services: Services = Depends(get_services)) -> HTMLResponse:
    try:
        snapshot = services.registry.current()
    except ApiError as error:
        return render_error(request, error)
    return render(request, "samples.html", {"title": "Samples", "model": model_facts(snapshot, services)})
