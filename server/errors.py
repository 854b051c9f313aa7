"""Every error the API returns, as JSON {"detail": {"code", "message"}}, with one wording per kind."""

import enum
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ErrorKind(enum.Enum):
    """HTTP status, machine-readable code and message template of each kind of error."""

    EMPTY_FILE = (400, "empty_file", "{item} is empty; send the bytes of a PNG, JPEG, GIF, BMP, TIFF or WebP image")
    NOT_AN_IMAGE = (400, "not_an_image", "{item} is not an image that Pillow can read ({reason}); send a PNG, JPEG, GIF, BMP, TIFF or WebP file")
    CORRUPT_IMAGE = (400, "corrupt_image", "{item} could not be decoded ({reason}); the file is truncated or damaged, send it again in full")
    UNSUPPORTED_IMAGE = (422, "unsupported_image", "{item} cannot be converted for the model ({reason})")
    TOO_MANY_PIXELS = (413, "too_many_pixels", "{item} has more pixels than the limit of {limit} ({detail}); scale it down")
    FILE_TOO_LARGE = (413, "file_too_large", "{item} is larger than the limit of {limit} bytes; send a smaller file")
    REQUEST_TOO_LARGE = (413, "request_too_large", "the request body is larger than the limit of {limit} bytes; send fewer or smaller images")
    TOO_MANY_IMAGES = (413, "too_many_images", "the request has {count} images, above the limit of {limit}; split it into several requests")
    NO_IMAGES = (422, "no_images", "the request has no images; send multipart files in the field 'files' or JSON {{\"images\": [base64, ...]}}")
    INVALID_BASE64 = (400, "invalid_base64", "{item} is not valid base64 ({reason})")
    UNSUPPORTED_MEDIA_TYPE = (415, "unsupported_media_type", "content type {content_type!r} is not accepted here; use {accepted}")
    INVALID_MULTIPART = (400, "invalid_multipart", "the multipart body could not be parsed ({reason})")
    INVALID_JSON = (400, "invalid_json", "the request body is not valid JSON ({reason})")
    INVALID_REQUEST = (422, "invalid_request", "{reason}")
    INVALID_CODE = (422, "invalid_code", "the code vector {reason}; send {size} comma-separated finite numbers")
    OUT_OF_RANGE = (422, "out_of_range", "{name} is {value}, outside the allowed range {low}..{high}")
    WRONG_QUERY_COUNT = (422, "wrong_query_count", "pass exactly one of {names}, got {given}")
    UPLOAD_NOT_FOUND = (404, "upload_not_found", "upload {upload_id} not found; post the image to /api/encode first")
    IMAGE_NOT_FOUND = (404, "image_not_found", "image {image_id} is not in the index of model {version}; valid ids are {low}..{high}")
    MODEL_NOT_FOUND = (404, "model_not_found", "model version {model_id} not found; GET /api/models lists them")
    ROUTE_NOT_FOUND = (404, "not_found", "no route matches {path}; the API is documented at /docs")
    METHOD_NOT_ALLOWED = (405, "method_not_allowed", "{method} is not allowed on {path}")
    UNAUTHORIZED = (401, "unauthorized", "this route needs the admin token as 'Authorization: Bearer TOKEN'")
    ADMIN_DISABLED = (403, "admin_disabled", "administrative routes are off; set ACN_ADMIN_TOKEN to enable them")
    ADMIN_TOKEN_REJECTED = (403, "admin_token_rejected", "administrative routes are off because ACN_ADMIN_TOKEN is {reason}; set it to a random secret of at least 16 characters")
    CSRF_FAILED = (403, "csrf_failed", "the request has no valid CSRF token ({reason}); reload the admin page and try again")
    TRAINING_RUN_NOT_FOUND = (404, "training_run_not_found", "training run {run_id} not found; GET /api/admin/training-runs lists them")
    TRAINING_RUN_FINISHED = (409, "training_run_finished", "training run {run_id} is already {state} and cannot be cancelled")
    DATA_OUTSIDE_ROOT = (422, "data_outside_root", "data path {path} is outside the allowed data root {root}; move the data under that directory or set ACN_DATA_ROOT")
    DATA_NOT_FOUND = (422, "data_not_found", "data {data!r} is neither a named data set ({names}) nor an existing path inside the data root {root}")
    INVALID_OVERRIDES = (422, "invalid_overrides", "the training overrides are invalid: {reason}")
    INVALID_BUNDLE = (422, "invalid_bundle", "bundle {path} could not be loaded: {reason}")
    NOT_READY = (503, "not_ready", "no model is loaded yet; retry when /readyz returns 200")
    DATABASE_UNAVAILABLE = (503, "database_unavailable", "the database did not respond ({reason}); retry later")
    HTTP_ERROR = (400, "http_error", "{reason}")
    INTERNAL_ERROR = (500, "internal_error", "the server failed on this request (request id {request_id}); the error is logged")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def code(self) -> str:
        return self.value[1]


class ApiError(Exception):
    """An error response of a known kind; fields fill the kind's message template."""

    def __init__(self, kind: ErrorKind, **fields: Any) -> None:
        self.kind = kind
        self.message = kind.value[2].format(**fields)
        super().__init__(self.message)


class RequestTooLarge(StarletteHTTPException):
    """Raised while a request body streams in past the limit.

    An HTTPException, because FastAPI turns any other exception raised while it reads a body into a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413)
        self.limit = limit


def error_body(kind: ErrorKind, message: str) -> dict[str, Any]:
    return {"detail": {"code": kind.code, "message": message}}


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(error.kind, error.message), status_code=error.kind.status, headers=headers)


def describe_validation(errors: list[dict[str, Any]]) -> str:
    """Turn pydantic's validation errors into one sentence naming each bad field."""
    parts = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "request"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    logger.info("%s %s rejected: %s (%s)", request.method, request.url.path, error.kind.code, error.message)
    headers = {"WWW-Authenticate": "Bearer"} if error.kind is ErrorKind.UNAUTHORIZED else None
    return error_response(error, headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(ApiError(ErrorKind.INVALID_REQUEST, reason=describe_validation(list(error.errors()))))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error, RequestTooLarge):
        api_error = ApiError(ErrorKind.REQUEST_TOO_LARGE, limit=error.limit)
    elif error.status_code == 404:
        api_error = ApiError(ErrorKind.ROUTE_NOT_FOUND, path=request.url.path)
    elif error.status_code == 405:
        api_error = ApiError(ErrorKind.METHOD_NOT_ALLOWED, method=request.method, path=request.url.path)
    else:
        body = error_body(ErrorKind.HTTP_ERROR, str(error.detail))
        body["detail"]["code"] = f"http_{error.status_code}"
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)
    return error_response(api_error)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    logger.exception("request %s %s %s failed", request_id, request.method, request.url.path, exc_info=error)
    return error_response(ApiError(ErrorKind.INTERNAL_ERROR, request_id=request_id))


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type the app can raise to one JSON error shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# The error schema for the OpenAPI page, so that every route documents its error responses.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["detail"],
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return FastAPI `responses=` entries documenting the error shape for the given statuses."""
    return {
        status: {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}} for status in statuses
    }
