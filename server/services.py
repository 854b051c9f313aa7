"""Shared state of the routes, built once per app: settings, database sessions, the model registry and metrics."""

import dataclasses

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.metrics import Metrics
from server.registry import Registry
from server.settings import Settings


@dataclasses.dataclass(frozen=True, eq=False)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: Registry
    metrics: Metrics


def get_services(request: Request) -> Services:
    """Return the app's services; a FastAPI dependency."""
    return request.app.state.services
