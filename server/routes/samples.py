"""GET /api/samples: unconditional samples, with z drawn from the fitted mixture prior p(z)."""

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from server.errors import error_responses
from server.images import data_url, levels_to_image
from server.inference import decode_latents
from server.registry import Snapshot
from server.routes.neighbours import check_range
from server.services import Services, get_services

router = APIRouter(tags=["samples"])


class Sample(BaseModel):
    image: str = Field(description="PNG data URL")
    z: list[float]


class SamplesResponse(BaseModel):
    model_version: str
    samples: list[Sample]


def draw_samples(services: Services, snapshot: Snapshot, count: int, seed: int | None) -> SamplesResponse:
    rng = np.random.default_rng(seed)
    z = snapshot.bundle.unconditional_prior.sample(count, rng)  # (count, D)
    images = decode_latents(snapshot, z, rng, services.metrics)  # (count, C, H, W)
    levels = snapshot.bundle.output_type.levels
    samples = [Sample(image=data_url(levels_to_image(image, levels)), z=latent.tolist()) for image, latent in zip(images, z)]
    return SamplesResponse(model_version=snapshot.version, samples=samples)


@router.get("/api/samples", response_model=SamplesResponse, responses=error_responses(422, 503))
async def get_samples(
    count: int = Query(8, description="images to draw, 1 to ACN_MAX_SAMPLES"),
    seed: int | None = Query(None, ge=0, description="seed that fixes z and the pixels; random when absent"),
    services: Services = Depends(get_services),
) -> SamplesResponse:
    """Draw images from z ~ p(z), the mixture fitted to the training codes, decoded by r(x|z)."""
    snapshot = services.registry.current()
    check_range("count", count, 1, services.settings.max_samples)
    return await run_in_threadpool(draw_samples, services, snapshot, count, seed)
