"""Admin authentication: a bearer token for the API, a signed session cookie for the pages, and CSRF tokens."""

import hashlib
import hmac
import secrets
import time

from fastapi import Depends, Header, Request

from server.errors import ApiError, ErrorKind
from server.services import Services, get_services

SESSION_COOKIE = "acn_admin_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
MIN_TOKEN_LENGTH = 16
PLACEHOLDER_TOKENS = {"changeme", "change-me", "change_me", "placeholder", "secret", "password", "admin", "token", "test", "todo", "xxx"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def token_problem(token: str | None) -> str | None:
    """Return why token cannot protect the admin routes (empty, a placeholder, too short), or None when it can."""
    if token is None:
        return None
    stripped = token.strip()
    if not stripped:
        return "empty"
    if stripped.lower() in PLACEHOLDER_TOKENS or set(stripped) <= {"x", "X", "*", "."}:
        return "a placeholder"
    if len(stripped) < MIN_TOKEN_LENGTH:
        return f"shorter than {MIN_TOKEN_LENGTH} characters"
    return None


def check_token_configured(token: str | None) -> str:
    """Return the admin token, or raise ADMIN_DISABLED or ADMIN_TOKEN_REJECTED when it is unset or weak."""
    if token is None:
        raise ApiError(ErrorKind.ADMIN_DISABLED)
    problem = token_problem(token)
    if problem is not None:
        raise ApiError(ErrorKind.ADMIN_TOKEN_REJECTED, reason=problem)
    return token


def _sign(token: str, purpose: str, message: str) -> str:
    # The key mixes in the purpose, so a session signature never verifies as a CSRF token or the reverse.
    key = hashlib.sha256(f"{purpose}:{token}".encode()).digest()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def make_session(token: str, lifetime_seconds: float, now: float | None = None) -> str:
    """Return a session cookie value: expiry, nonce and their HMAC keyed by the admin token."""
    expires = int((time.time() if now is None else now) + lifetime_seconds)
    nonce = secrets.token_hex(16)
    message = f"{expires}.{nonce}"
    return f"{message}.{_sign(token, 'session', message)}"


def session_is_valid(token: str, cookie: str | None, now: float | None = None) -> bool:
    """Check a session cookie's signature in constant time and its expiry; a changed token ends every session."""
    if not cookie or cookie.count(".") != 2:
        return False
    expires, nonce, signature = cookie.split(".")
    if not hmac.compare_digest(signature.encode(), _sign(token, "session", f"{expires}.{nonce}").encode()):
        return False
    return expires.isdigit() and int(expires) > (time.time() if now is None else now)


def csrf_token(token: str, session: str) -> str:
    """Return the CSRF token of a session, which pages embed and state-changing requests echo back."""
    return _sign(token, "csrf", session)


def bearer_matches(token: str, authorization: str | None) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def check_csrf(request: Request, token: str, session: str, form_value: str | None = None) -> None:
    """Raise CSRF_FAILED unless a state-changing cookie request carries its session's CSRF token."""
    given = request.headers.get(CSRF_HEADER) or form_value
    if not given:
        raise ApiError(ErrorKind.CSRF_FAILED, reason=f"send it in the {CSRF_HEADER} header or the {CSRF_FIELD} form field")
    if not hmac.compare_digest(given.encode(), csrf_token(token, session).encode()):
        raise ApiError(ErrorKind.CSRF_FAILED, reason="the token does not belong to this session")


def require_admin(
    request: Request, services: Services = Depends(get_services), authorization: str | None = Header(None)
) -> None:
    """Admit a request with the bearer token, or with a valid session cookie and, unless it only reads, its CSRF token."""
    token = check_token_configured(services.settings.admin_token)
    if authorization is not None:
        if bearer_matches(token, authorization):
            return
        raise ApiError(ErrorKind.UNAUTHORIZED)
    session = request.cookies.get(SESSION_COOKIE)
    if not session_is_valid(token, session):
        raise ApiError(ErrorKind.UNAUTHORIZED)
    assert session is not None
    if request.method not in SAFE_METHODS:
        check_csrf(request, token, session)
