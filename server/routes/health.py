"""GET /healthz (the process is up), GET /readyz (a model is loaded and the database responds) and /metrics."""

import logging

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.errors import ApiError, ErrorKind, error_responses
from server.metrics import CONTENT_TYPE_LATEST
from server.services import Services, get_services

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    model_version: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Return 200 while the process serves requests; containers use it as their health check."""
    return Health(status="ok")


def _ping(services: Services) -> None:
    with services.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/readyz", response_model=Readiness, responses=error_responses(503))
async def readyz(services: Services = Depends(get_services)) -> Readiness:
    """Return 200 once a model is loaded and the database responds, else 503."""
    snapshot = services.registry.current()
    try:
        await run_in_threadpool(_ping, services)
    except SQLAlchemyError as error:
        logger.warning("readiness check failed: the database did not respond: %s", error)
        raise ApiError(ErrorKind.DATABASE_UNAVAILABLE, reason=type(error).__name__) from None
    return Readiness(status="ready", model_version=snapshot.version)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(services: Services = Depends(get_services)) -> Response:
    """Return Prometheus metrics in the text exposition format."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
