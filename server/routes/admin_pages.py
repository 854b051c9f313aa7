"""The admin page and its login: a form that sets an HTTP-only, same-site session cookie, and logout."""

from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from server.admin.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    bearer_matches,
    check_csrf,
    check_token_configured,
    csrf_token,
    make_session,
    session_is_valid,
)
from server.errors import ApiError, ErrorKind
from server.services import Services, get_services

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
TEMPLATES = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(WEB_DIR / "templates"), autoescape=True))

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, status: int, error: str | None = None) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "admin_login.html", {"error": error}, status_code=status)


def _check_origin(request: Request) -> None:
    """Reject a form post whose Origin header names another site; browsers send it on cross-site posts."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    if urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError(ErrorKind.CSRF_FAILED, reason=f"the request comes from origin {origin}, not from this site")


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, services: Services = Depends(get_services)) -> Response:
    """Render the admin page, or the login form with status 401 when the session cookie is missing or invalid."""
    token = check_token_configured(services.settings.admin_token)
    session = request.cookies.get(SESSION_COOKIE)
    if not session_is_valid(token, session):
        return _login_page(request, 401)
    assert session is not None
    context = {"csrf_token": csrf_token(token, session), "csrf_header": CSRF_HEADER, "csrf_field": CSRF_FIELD}
    return TEMPLATES.TemplateResponse(request, "admin.html", context)


@router.get("/admin/login", response_class=HTMLResponse)
async def login_form(request: Request, services: Services = Depends(get_services)) -> Response:
    check_token_configured(services.settings.admin_token)
    return _login_page(request, 200)


@router.post("/admin/login")
async def login(request: Request, token: str = Form(""), services: Services = Depends(get_services)) -> Response:
    """Set the session cookie when the posted token is right; a wrong one gets the form again with 401."""
    expected = check_token_configured(services.settings.admin_token)
    _check_origin(request)
    if not bearer_matches(expected, f"Bearer {token}"):
        return _login_page(request, 401, "The token is wrong.")
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        make_session(expected, services.settings.admin_session_hours * 3600),
        max_age=int(services.settings.admin_session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/admin/logout")
async def logout(request: Request, csrf_token: str = Form(""), services: Services = Depends(get_services)) -> Response:
    """End the session: check the CSRF token, then clear the cookie."""
    expected = check_token_configured(services.settings.admin_token)
    session = request.cookies.get(SESSION_COOKIE)
    if not session_is_valid(expected, session):
        raise ApiError(ErrorKind.UNAUTHORIZED)
    assert session is not None
    check_csrf(request, expected, session, csrf_token)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
