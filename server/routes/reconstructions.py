"""POST /api/reconstructions: images decoded from the mean code of an upload or an indexed image."""

import numpy as np
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from server.errors import error_responses
from server.images import data_url, levels_to_image
from server.inference import decode_latents, encode
from server.registry import Snapshot
from server.routes.neighbours import check_range
from server.services import Services, get_services
from server.sources import resolve_source

router = APIRouter(tags=["reconstructions"])


class ReconstructionRequest(BaseModel):
    upload_id: int | None = Field(None, description="id returned by /api/encode")
    image_id: int | None = Field(None, description="id of an indexed image")
    samples: int = Field(4, description="reconstructions to draw, 1 to ACN_MAX_SAMPLES")
    seed: int | None = Field(None, ge=0, description="seed that fixes the drawn pixels; random when absent")


class ReconstructionResponse(BaseModel):
    model_version: str
    source: str = Field(description="upload or image")
    id: int
    code: list[float] = Field(description="the mean code every reconstruction is decoded from")
    original: str = Field(description="the image as the encoder saw it, as a PNG data URL")
    reconstructions: list[str] = Field(description="PNG data URLs")


def reconstruct(services: Services, snapshot: Snapshot, request: ReconstructionRequest) -> ReconstructionResponse:
    source = resolve_source(services, snapshot, request.upload_id, request.image_id)
    code = encode(snapshot, source.model_input[np.newaxis], services.metrics)  # (1, D)
    rng = np.random.default_rng(request.seed)
    z = np.repeat(code, request.samples, axis=0)  # (samples, D)
    images = decode_latents(snapshot, z, rng, services.metrics)  # (samples, C, H, W)
    levels = snapshot.bundle.output_type.levels
    return ReconstructionResponse(
        model_version=snapshot.version,
        source=source.kind,
        id=source.id,
        code=code[0].tolist(),
        original=data_url(levels_to_image(source.model_input, snapshot.bundle.config.encoder_levels)),
        reconstructions=[data_url(levels_to_image(image, levels)) for image in images],
    )


@router.post("/api/reconstructions", response_model=ReconstructionResponse, responses=error_responses(404, 422, 503))
async def post_reconstructions(request: ReconstructionRequest, services: Services = Depends(get_services)) -> ReconstructionResponse:
    """Decode stochastic reconstructions from the mean code c of q(z|x), so the spread is the decoder's alone."""
    snapshot = services.registry.current()
    check_range("samples", request.samples, 1, services.settings.max_samples)
    return await run_in_threadpool(reconstruct, services, snapshot, request)
