"""GET /api/models lists registered model versions; POST /api/models loads a bundle and makes it active (admin)."""

import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from server.admin.auth import require_admin
from server.errors import ApiError, ErrorKind, error_responses
from server.models import ModelVersion
from server.registry import list_versions
from server.services import Services, get_services
from training.export import BundleError

router = APIRouter(tags=["models"])


class ModelVersionOut(BaseModel):
    id: int
    version: str = Field(description="first 12 hex digits of the sha256 of the bundle's manifest.json")
    bundle_path: str
    summary: dict[str, Any]
    active: bool
    registered_at: datetime.datetime
    activated_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: ModelVersion) -> "ModelVersionOut":
        return cls(
            id=row.id,
            version=row.version,
            bundle_path=row.bundle_path,
            summary=row.summary,
            active=bool(row.active),
            registered_at=row.registered_at,
            activated_at=row.activated_at,
        )


class ModelsResponse(BaseModel):
    active: str | None = Field(description="version that serves requests now")
    versions: list[ModelVersionOut]


class ActivateRequest(BaseModel):
    bundle_path: str = Field(description="bundle directory on the server's file system, written by `acn export`")


@router.get("/api/models", response_model=ModelsResponse)
async def get_models(services: Services = Depends(get_services)) -> ModelsResponse:
    """List every registered model version, oldest first."""
    rows = await run_in_threadpool(list_versions, services.sessions)
    active = services.registry.current().version if services.registry.is_ready else None
    return ModelsResponse(active=active, versions=[ModelVersionOut.from_row(row) for row in rows])


@router.post(
    "/api/models",
    response_model=ModelVersionOut,
    dependencies=[Depends(require_admin)],
    responses=error_responses(401, 403, 422),
)
async def activate_model(request: ActivateRequest, services: Services = Depends(get_services)) -> ModelVersionOut:
    """Load a bundle, register it and make it active; requests already running finish on the old model."""
    path = Path(request.bundle_path)
    try:
        snapshot = await run_in_threadpool(services.registry.activate, path)
    except (BundleError, ValueError) as error:
        raise ApiError(ErrorKind.INVALID_BUNDLE, path=path, reason=str(error)) from None
    services.metrics.index_size.set(len(snapshot.bundle.ids))
    services.metrics.model_swaps.inc()
    rows = await run_in_threadpool(list_versions, services.sessions)
    row = next(row for row in rows if row.id == snapshot.model_version_id)
    return ModelVersionOut.from_row(row)
