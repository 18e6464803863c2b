"""The door of the ops service: every request but health and the login form shows a credential
with a role the route allows (``domain/access.py``), or is refused.

Two ways to show one, both resolved to a stored staff credential (``ops_credentials``, the same
machinery as the partners' keys: ``services.common.credentials``):

- ``Authorization: Bearer fd_<id>_<secret>`` (API clients, the CLI, scripts): verified by the
  shared authenticator — argon2 once per key per cache TTL, failed attempts limited per address
  and per claimed id before argon2, unknown ids as dear as known ones.
- the ``frontdoor_ops_session`` cookie the login form sets (browsers): ``Secure; HttpOnly;
  SameSite=Strict``, signed, expiring after ``session_minutes`` (``domain/session.py``); each
  request re-reads the credential, so a revoked key's sessions end at once.

Missing or bad → 401 ``application/problem+json`` with ``WWW-Authenticate: Bearer`` (a browser
asking for HTML gets the login form, still 401); a credential whose role the route does not allow
→ 403 ``role_not_permitted``. ``/metrics`` takes the scrape token (``FRONTDOOR_METRICS_TOKEN``,
compared in constant time) or an ops credential, or anyone when ``FRONTDOOR_METRICS_OPEN=true``.
No key, secret or cookie value is ever logged; a refusal logs the path, the code and the claimed
credential id.

**Cross-site requests.** A request that changes something (any method but GET/HEAD/OPTIONS, e.g.
``POST /api/deadletters/replay``) made with the session *cookie* must also come from the page
itself, three checks deep: the cookie is ``SameSite=Strict`` (a browser does not send it with a
request another site starts); the request carries the header ``X-Frontdoor-CSRF: 1`` (a header
another site's page can only send after a CORS preflight, which this app never grants — a form
cannot send it at all); and a browser's ``Origin`` (when sent) names this host and its
``Sec-Fetch-Site`` (when sent) is ``same-origin``. Failing any is 403 ``cross_site_request``.
A bearer key needs none of this: no browser attaches an ``Authorization`` header by itself.
"""

from __future__ import annotations

import hmac
import html
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Match

from services.common.apikeys import bearer_token
from services.common.authentication import Authenticator, AuthFailure, AuthProblem, Credential
from services.common.credentials import CredentialStore
from services.ops.domain import session
from services.ops.domain.access import METRICS, OPEN, OpsRole, allowed, roles_for

log = structlog.get_logger(__name__)

COOKIE = "frontdoor_ops_session"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "https://frontdoor.example/problems/"
LOGIN_PAGE = Path(__file__).resolve().parent / "login.html"
MAX_LOGIN_BODY = 4096
SESSION_EXPIRED = "session_expired"
ROLE_NOT_PERMITTED = "role_not_permitted"
AUTH_UNAVAILABLE = "auth_unavailable"
NOT_READY = "not_ready"
CROSS_SITE_REQUEST = "cross_site_request"
CSRF_HEADER = "x-frontdoor-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_SECONDS = 5

_TITLES = {
    AuthProblem.MISSING_CREDENTIALS.value: "No credential was presented",
    AuthProblem.INVALID_CREDENTIALS.value: "The credential is not valid",
    AuthProblem.CREDENTIAL_REVOKED.value: "The credential has been revoked",
    AuthProblem.AUTHENTICATION_THROTTLED.value: "Too many failed sign-ins; wait before trying",
    SESSION_EXPIRED: "The session has expired or is not valid; sign in again",
    ROLE_NOT_PERMITTED: "Your role may not use this page",
    AUTH_UNAVAILABLE: "The credential could not be checked",
    NOT_READY: "The ops service is starting",
    CROSS_SITE_REQUEST: "A change made with the session cookie must come from the ops page",
}


@dataclass
class OpsAccess:
    """What the door needs: the authenticator, the store (for sessions) and the settings."""

    authenticator: Authenticator[OpsRole]
    store: CredentialStore[OpsRole]
    session_secret: bytes
    session_lifetime: timedelta
    clock: Callable[[], datetime]
    metrics_token: str | None = None
    metrics_open: bool = False

    async def caller(self, request: Request) -> Credential[OpsRole] | AuthFailure:
        authorization = request.headers.get("authorization")
        if authorization:
            return await self.authenticator.authenticate(authorization, _client(request))
        token = request.cookies.get(COOKIE)
        if not token:
            return AuthFailure(AuthProblem.MISSING_CREDENTIALS)
        now = self.clock()
        found = session.read(token, self.session_secret, now)
        if found is None:
            return _Expired()
        stored = await self.store.get(found.credential_id)
        if stored is None or not stored.valid_at(now) or stored.principal.value != found.role:
            return AuthFailure(AuthProblem.CREDENTIAL_REVOKED, found.credential_id)
        return Credential(stored.credential_id, stored.principal)

    def metrics_allowed(self, request: Request) -> bool:
        if self.metrics_open:
            return True
        token = bearer_token(request.headers.get("authorization"))
        return bool(
            token
            and self.metrics_token
            and hmac.compare_digest(token.encode(), self.metrics_token.encode())
        )

    def cookie_for(self, credential: Credential[OpsRole]) -> tuple[str, int]:
        """The session token for ``credential`` and its lifetime in whole seconds."""
        seconds = max(1, math.floor(self.session_lifetime.total_seconds()))
        expires = int(self.clock().timestamp()) + seconds
        token = session.issue(
            session.Session(credential.credential_id, credential.principal.value, expires),
            self.session_secret,
        )
        return token, seconds


@dataclass(frozen=True)
class _Expired(AuthFailure):
    """A session cookie that is not ours or has expired (answered ``session_expired``)."""

    code: AuthProblem = AuthProblem.INVALID_CREDENTIALS


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def problem(
    code: str, status: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE_URI + code,
        "title": _TITLES.get(code, code),
        "status": status,
        "detail": detail,
        "code": code,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def login_page(*, status: int, message: str = "", next_path: str = "/") -> HTMLResponse:
    page = LOGIN_PAGE.read_text(encoding="utf-8")
    page = page.replace("{{message}}", html.escape(message)).replace(
        "{{next}}", html.escape(next_path, quote=True)
    )
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="frontdoor-ops"'
    return HTMLResponse(page, status_code=status, headers=headers)


def _refused(request: Request, failure: AuthFailure) -> Response:
    code = SESSION_EXPIRED if isinstance(failure, _Expired) else failure.code.value
    path = request.url.path
    log.info(
        "ops_request_refused",
        path=path,
        code=code,
        credential_id=failure.claimed_credential_id,
    )
    if failure.retry_after_seconds is not None:
        wait = str(failure.retry_after_seconds)
        return problem(
            code, 429, f"no credential is checked for {wait} s", headers={"Retry-After": wait}
        )
    if _wants_html(request):
        message = "" if code == AuthProblem.MISSING_CREDENTIALS else _TITLES[code]
        return login_page(status=401, message=message, next_path=path)
    error = "" if code == AuthProblem.MISSING_CREDENTIALS else ', error="invalid_token"'
    return problem(
        code,
        401,
        "present an ops key as 'Authorization: Bearer fd_<credential_id>_<secret>', "
        "or sign in at /login",
        headers={"WWW-Authenticate": f'Bearer realm="frontdoor-ops"{error}'},
    )


def _forbidden(request: Request, credential: Credential[OpsRole], path: str) -> Response:
    roles = sorted(r.value for r in roles_for(path) or {OpsRole.OPS})
    log.info(
        "ops_request_refused",
        path=path,
        code=ROLE_NOT_PERMITTED,
        credential_id=credential.credential_id,
        role=credential.principal.value,
    )
    detail = (
        f"{path} needs the role {' or '.join(roles)}; this credential is {credential.principal}"
    )
    if _wants_html(request):
        return login_page(status=403, message=detail, next_path=path)
    return problem(ROLE_NOT_PERMITTED, 403, detail)


def _access(request: Request) -> OpsAccess | None:
    runtime = getattr(request.app.state, "ops", None)
    access: OpsAccess | None = getattr(runtime, "access", None)
    return access


def route_path(request: Request) -> str:
    """The path of the route the router will pick for this request (a full match, else one that
    only the method misses), so the door judges exactly what will run — whatever the URL's
    spelling or a proxy's root path. A path no route has is judged as itself (a 404 to come)."""
    partial: str | None = None
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", request.url.path))
        if match is Match.PARTIAL and partial is None:
            partial = str(getattr(route, "path", request.url.path))
    return partial or request.url.path


async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """The middleware: nothing reaches a route that ``domain/access.py`` does not let through."""
    path = route_path(request)
    if path in OPEN:
        return await call_next(request)
    access = _access(request)
    if access is None:
        return problem(NOT_READY, 503, "the ops service is starting", {"Retry-After": "1"})
    if path == METRICS and access.metrics_allowed(request):
        return await call_next(request)
    admitted = await _admit(request, access, path)
    if isinstance(admitted, Response):
        return admitted
    if (refused := _cross_site(request, admitted, path)) is not None:
        return refused
    request.state.caller = admitted
    return await call_next(request)


def _same_site(request: Request) -> bool:
    """The request carries the page's header and no browser says it came from elsewhere."""
    if request.headers.get(CSRF_HEADER) != "1":
        return False
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return False
    return request.headers.get("sec-fetch-site", "same-origin") in {"same-origin", "none"}


def _cross_site(request: Request, caller: Credential[OpsRole], path: str) -> Response | None:
    """403 for a change made with the session cookie from anywhere but the ops page."""
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return None
    if _same_site(request):
        return None
    log.warning(
        "ops_request_refused",
        path=path,
        code=CROSS_SITE_REQUEST,
        credential_id=caller.credential_id,
    )
    return problem(
        CROSS_SITE_REQUEST,
        403,
        f"send the header '{CSRF_HEADER.title()}: 1' from the ops page itself (same origin), "
        "or use a bearer key",
    )


async def _admit(request: Request, access: OpsAccess, path: str) -> Credential[OpsRole] | Response:
    """The caller, when its credential is good and its role may use the path; else the refusal."""
    try:
        caller = await access.caller(request)
    except Exception as exc:
        log.error(  # noqa: TRY400 - no traceback: driver messages can quote values
            "ops_credentials_unavailable", path=path, error_class=type(exc).__name__
        )
        return problem(
            AUTH_UNAVAILABLE,
            503,
            "the credential store could not be read",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(caller, AuthFailure):
        return _refused(request, caller)
    if not allowed(path, caller.principal) or (
        path == METRICS and caller.principal is not OpsRole.OPS
    ):
        return _forbidden(request, caller, path)
    return caller


def _safe_next(text: str | None, role: OpsRole) -> str:
    """A local path to go to after signing in (never another site), one the role may open."""
    if not text or not text.startswith("/") or text.startswith(("//", "/\\")):
        text = "/"
    if not allowed(text.split("?", 1)[0], role):
        return "/" if allowed("/", role) else "/api/me"
    return text


def add_login_routes(app: FastAPI) -> None:
    """``GET /login`` (the form), ``POST /login`` (the cookie), ``POST /logout``: on the app
    itself, so its route list is flat and the access check sees every path."""
    app.add_api_route("/login", login_form, methods=["GET"], include_in_schema=False)
    app.add_api_route("/login", login, methods=["POST"], include_in_schema=False)
    app.add_api_route("/logout", logout, methods=["POST"], include_in_schema=False)


async def login_form(next: str = "/") -> HTMLResponse:
    return login_page(status=200, next_path=next if next.startswith("/") else "/")


async def login(request: Request) -> Response:
    access = _access(request)
    if access is None:
        return problem(NOT_READY, 503, "the ops service is starting", {"Retry-After": "1"})
    body = await request.body()
    if len(body) > MAX_LOGIN_BODY:
        return login_page(status=400, message="The form was too large.")
    form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    key = (form.get("key") or [""])[0].strip()
    next_path = (form.get("next") or ["/"])[0]
    if not key:
        return login_page(status=401, message="Enter your ops key.", next_path=next_path)
    try:
        caller = await access.authenticator.authenticate(f"Bearer {key}", _client(request))
    except Exception as exc:
        log.error(  # noqa: TRY400 - no traceback: driver messages can quote values
            "ops_credentials_unavailable", path="/login", error_class=type(exc).__name__
        )
        return login_page(status=503, message=_TITLES[AUTH_UNAVAILABLE], next_path=next_path)
    if isinstance(caller, AuthFailure):
        log.info(
            "ops_login_refused", code=caller.code.value, credential_id=caller.claimed_credential_id
        )
        status = 429 if caller.retry_after_seconds is not None else 401
        return login_page(status=status, message=_TITLES[caller.code], next_path=next_path)
    token, seconds = access.cookie_for(caller)
    log.info("ops_login", credential_id=caller.credential_id, role=caller.principal.value)
    response = RedirectResponse(_safe_next(next_path, caller.principal), status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=seconds, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response
