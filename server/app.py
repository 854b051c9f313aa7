"""create_app: the FastAPI application with its routes, error handlers, middleware and model registry."""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from server.admin.lifecycle import start_admin, stop_admin
from server.db import make_engine, make_session_factory, upgrade_database
from server.errors import install_error_handlers
from server.images import install_pillow_limits
from server.metrics import Metrics
from server.middleware import BodyLimitMiddleware, RequestContextMiddleware
from server.registry import Registry, active_version
from server.routes import daydreams, encode, health, images, latent_map, models, neighbours, pages, reconstructions, samples
from server.routes import admin, admin_images, admin_pages
from server.services import Services
from server.settings import Settings

logger = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The server cannot start: no model bundle to serve, or the registered one is gone."""


def resolve_bundle(settings: Settings, services: Services) -> Path:
    """Return the bundle to serve: ACN_BUNDLE when set, else the active registered version."""
    if settings.bundle is not None:
        return settings.bundle
    row = active_version(services.sessions)
    if row is None:
        raise StartupError("no model bundle is configured or registered; set ACN_BUNDLE or start with `acn serve`, which trains one")
    path = Path(row.bundle_path)
    if not path.is_dir():
        raise StartupError(
            f"the active model version {row.version} points at {path}, which does not exist; "
            "set ACN_BUNDLE to a bundle directory, or restore that directory"
        )
    return path


def create_app(settings: Settings, bundle: Path | None = None) -> FastAPI:
    """Build the app. At start-up it upgrades the database and loads bundle (else resolve_bundle's choice)."""
    install_pillow_limits(settings.max_image_pixels)
    engine = make_engine(settings.resolved_database_url, settings.sqlite_busy_timeout_ms)
    sessions = make_session_factory(engine)
    services = Services(settings, engine, sessions, Registry(sessions), Metrics())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(upgrade_database, settings.resolved_database_url)
        chosen = bundle if bundle is not None else resolve_bundle(settings, services)
        snapshot = await run_in_threadpool(services.registry.activate, chosen)
        services.metrics.index_size.set(len(snapshot.bundle.ids))
        services.metrics.model_swaps.inc()
        await run_in_threadpool(start_admin, app, services)
        yield
        await run_in_threadpool(stop_admin, app)
        engine.dispose()

    app = FastAPI(
        title="ACN server",
        summary="Codes, neighbours, reconstructions, samples and daydreams of an Associative Compression Network",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    for module in (encode, neighbours, reconstructions, daydreams, samples, images, latent_map, models, health, pages, admin, admin_images, admin_pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    # Starlette runs the middleware added last first, so every request, rejected ones included, gets an id and metrics.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=services.metrics)
    return app
