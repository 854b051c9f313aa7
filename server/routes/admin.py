"""Admin API: training runs (create, read, stream, cancel) and activation of any registered version (rollback)."""

import asyncio
import datetime
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from server.admin.auth import require_admin
from server.admin.lifecycle import get_job_runner
from server.admin.requests import TrainingRunRequest, resolve_data, train_arguments
from server.admin.runner import EVALUATION_DIR, JobRunner
from server.admin.store import RunState, cancel_if_queued, create_run, get_run, list_runs
from server.admin.swap import activate_bundle
from server.errors import ApiError, ErrorKind, error_responses
from server.models import TrainingRun
from server.registry import get_version
from server.routes.models import ModelVersionOut
from server.services import Services, get_services
from training.export import BundleError

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)], responses=error_responses(401, 403))

STREAM_POLL_SECONDS = 0.5


class TrainingRunOut(BaseModel):
    id: int
    state: RunState
    stage: str | None = Field(description="train, evaluate, export or swap while running")
    progress: float = Field(description="0..1 over all steps")
    request: dict[str, Any]
    metrics: list[dict[str, Any]] = Field(description="recent rows of the run's metrics.jsonl")
    log_tail: str
    report: dict[str, Any] | None = Field(description="report.json of `acn evaluate`, when it ran")
    error: str | None
    swap: dict[str, Any] | None = Field(description="activation decision and the thresholds checked")
    bundle_path: str | None
    model_version_id: int | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: TrainingRun) -> "TrainingRunOut":
        return cls(
            id=row.id, state=RunState(row.state), stage=row.stage, progress=row.progress, request=row.request,
            metrics=row.metrics, log_tail=row.log_tail, report=row.report, error=row.error, swap=row.swap,
            bundle_path=row.bundle_path, model_version_id=row.model_version_id, created_at=row.created_at,
            started_at=row.started_at, finished_at=row.finished_at,
        )  # fmt: skip


class TrainingRunCreated(BaseModel):
    id: int
    state: RunState
    url: str


def _load_run(services: Services, run_id: int) -> TrainingRun:
    row = get_run(services.sessions, run_id)
    if row is None:
        raise ApiError(ErrorKind.TRAINING_RUN_NOT_FOUND, run_id=run_id)
    return row


@router.post("/api/admin/training-runs", status_code=202, response_model=TrainingRunCreated, responses=error_responses(422))
async def start_training_run(
    request: TrainingRunRequest, services: Services = Depends(get_services), runner: JobRunner = Depends(get_job_runner)
) -> TrainingRunCreated:
    """Queue a retraining run; it starts when fewer than ACN_MAX_CONCURRENT_RUNS runs are going."""
    data = resolve_data(request.data, services.settings.resolved_data_root)

    def make_request(run_dir: Path) -> dict[str, Any]:
        return {**request.model_dump(), "resolved_data": data, "train_arguments": train_arguments(request, data, run_dir)}

    # Checking the arguments before the insert turns a bad request into a 422 without leaving a row behind.
    make_request(services.settings.training_runs_dir / "run-new")
    row = await run_in_threadpool(create_run, services.sessions, services.settings.training_runs_dir, make_request)
    runner.wake()
    return TrainingRunCreated(id=row.id, state=RunState.QUEUED, url=f"/api/admin/training-runs/{row.id}")


@router.get("/api/admin/training-runs", response_model=list[TrainingRunOut])
async def get_training_runs(services: Services = Depends(get_services)) -> list[TrainingRunOut]:
    """List every training run, newest first."""
    rows = await run_in_threadpool(list_runs, services.sessions)
    return [TrainingRunOut.from_row(row) for row in rows]


@router.get("/api/admin/training-runs/{run_id}", response_model=TrainingRunOut, responses=error_responses(404))
async def get_training_run(run_id: int, services: Services = Depends(get_services)) -> TrainingRunOut:
    """Return a run's state, progress, recent metrics, log tail, evaluation report and error."""
    return TrainingRunOut.from_row(await run_in_threadpool(_load_run, services, run_id))


@router.delete("/api/admin/training-runs/{run_id}", status_code=202, response_model=TrainingRunOut, responses=error_responses(404, 409))
async def cancel_training_run(
    run_id: int, services: Services = Depends(get_services), runner: JobRunner = Depends(get_job_runner)
) -> TrainingRunOut:
    """Cancel a queued run at once, or stop a running one's subprocess; the active model stays as it is."""
    row = await run_in_threadpool(_load_run, services, run_id)
    if RunState(row.state).is_final:
        raise ApiError(ErrorKind.TRAINING_RUN_FINISHED, run_id=run_id, state=row.state)
    cancelled = await run_in_threadpool(cancel_if_queued, services.sessions, run_id)
    if not cancelled and not runner.cancel_running(run_id):
        # NOTE: a run executed by another server process sharing this database cannot be stopped from here.
        raise ApiError(ErrorKind.TRAINING_RUN_FINISHED, run_id=run_id, state="running in another server process")
    return TrainingRunOut.from_row(await run_in_threadpool(_load_run, services, run_id))


@router.get("/api/admin/training-runs/{run_id}/events", response_class=StreamingResponse, responses=error_responses(404))
async def stream_training_run(run_id: int, services: Services = Depends(get_services)) -> StreamingResponse:
    """Stream server-sent `run` events, one per change of the run, and `end` once it is finished."""
    await run_in_threadpool(_load_run, services, run_id)
    return StreamingResponse(_run_events(services, run_id), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def _run_events(services: Services, run_id: int) -> AsyncIterator[str]:
    last = None
    while True:
        row = await run_in_threadpool(_load_run, services, run_id)
        body = TrainingRunOut.from_row(row).model_dump_json()
        if body != last:
            yield f"event: run\ndata: {body}\n\n"
            last = body
        if RunState(row.state).is_final:
            yield f"event: end\ndata: {json.dumps({'state': row.state})}\n\n"
            return
        await asyncio.sleep(STREAM_POLL_SECONDS)


@router.get("/api/admin/training-runs/{run_id}/figures/{name}", response_class=FileResponse, responses=error_responses(404))
async def get_run_figure(run_id: int, name: str, services: Services = Depends(get_services)) -> FileResponse:
    """Return a PNG figure of the run's evaluation report."""
    row = await run_in_threadpool(_load_run, services, run_id)
    figures = (row.report or {}).get("figures") or []
    if name not in figures:
        raise ApiError(ErrorKind.ROUTE_NOT_FOUND, path=f"/api/admin/training-runs/{run_id}/figures/{name}")
    run_dir = Path(row.run_dir)
    return FileResponse(run_dir / EVALUATION_DIR / run_dir.name / name, media_type="image/png")


@router.post("/api/admin/models/{model_id}/activate", response_model=ModelVersionOut, responses=error_responses(404, 422))
async def activate_version(model_id: int, services: Services = Depends(get_services)) -> ModelVersionOut:
    """Make a registered version active again (rollback or roll forward) in one call."""
    row = await run_in_threadpool(get_version, services.sessions, model_id)
    if row is None:
        raise ApiError(ErrorKind.MODEL_NOT_FOUND, model_id=model_id)
    path = Path(row.bundle_path)
    try:
        snapshot = await run_in_threadpool(activate_bundle, services, path)
    except (BundleError, ValueError, OSError) as error:
        raise ApiError(ErrorKind.INVALID_BUNDLE, path=path, reason=str(error)) from None
    activated = await run_in_threadpool(get_version, services.sessions, snapshot.model_version_id)
    assert activated is not None
    return ModelVersionOut.from_row(activated)
