"""`acn serve`: run the JSON API under uvicorn, training and registering a first model when none exists."""

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from server.settings import Settings

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, help="model bundle directory to serve (default: ACN_BUNDLE, else the active registered model, else train one)")
    parser.add_argument("--host", help="address to listen on (default: ACN_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port to listen on (default: ACN_PORT, else 8000)")
    parser.add_argument("--data-dir", type=Path, help="directory for the database, uploads and bundles (default: ACN_DATA_DIR, else ./data)")
    parser.add_argument("--quiet", action="store_true", help="hide the progress bars of the first-start training")


def load_settings(args: argparse.Namespace) -> Settings:
    """Read the ACN_ settings, with the command-line options taking precedence."""
    overrides = {name: getattr(args, name) for name in ("bundle", "host", "port", "data_dir") if getattr(args, name, None) is not None}
    return Settings(**overrides)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import StartupError, create_app
    from server.bootstrap import bundle_to_serve

    try:
        settings = load_settings(args)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            setting = ".".join(str(part) for part in problem["loc"]) or "settings"
            message = problem["msg"].removeprefix("Value error, ")
            print(f"acn serve: invalid {setting}: {message}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    _add_request_ids_to_logs()
    try:
        bundle = bundle_to_serve(settings, show_progress=not args.quiet)
        app = create_app(settings, bundle)
    except (StartupError, ValueError) as error:
        print(f"acn serve: {error}", file=sys.stderr)
        return 2
    logger.info("serving on http://%s:%d (API documentation at /docs)", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


def _add_request_ids_to_logs() -> None:
    from server.middleware import RequestIdFilter

    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter)
