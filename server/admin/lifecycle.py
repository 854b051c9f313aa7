"""Start and stop the admin side with the app: check the token, index added images, run the job runner."""

import logging

from fastapi import FastAPI, Request

from server.admin.added_images import refresh_added_images
from server.admin.auth import token_problem
from server.admin.runner import JobRunner
from server.errors import ApiError, ErrorKind
from server.services import Services

logger = logging.getLogger(__name__)


def start_admin(app: FastAPI, services: Services) -> None:
    """Start the job runner unless the admin token is unset or weak, in which case admin routes return 403."""
    app.state.job_runner = None
    token = services.settings.admin_token
    if token is None:
        logger.info("ACN_ADMIN_TOKEN is unset, so administrative routes and training runs are off")
        return
    problem = token_problem(token)
    if problem is not None:
        logger.error("ACN_ADMIN_TOKEN is %s, so administrative routes and training runs are off; set a random secret", problem)
        return
    refresh_added_images(services)
    runner = JobRunner(services)
    runner.start()
    app.state.job_runner = runner


def stop_admin(app: FastAPI) -> None:
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is not None:
        runner.stop()


def get_job_runner(request: Request) -> JobRunner:
    """Return the app's job runner; a FastAPI dependency used after require_admin."""
    runner: JobRunner | None = getattr(request.app.state, "job_runner", None)
    if runner is None:
        raise ApiError(ErrorKind.NOT_READY)
    return runner
