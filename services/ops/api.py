"""The ops web app: the dashboard page, its JSON API, ``/metrics`` and ``/healthz``.

Every route is behind the door of ``guard.py``: a staff credential whose role the access table
(``domain/access.py``) allows, except ``/healthz`` and the login form; ``create_app`` refuses to
build an app with a route the table does not name.

Routes only translate: every answer is the newest lag report (from the `LagPoller`) or boards
(from the `BoardRefresher`) held in the app's `OpsRuntime`, so a page refreshing every 2 seconds
costs the broker and the database nothing extra.

- ``GET /`` the dashboard (one static HTML page with its script; it fetches the API every 2 s)
- ``GET /login`` · ``POST /login`` · ``POST /logout`` the sign-in form and its session cookie
- ``GET /api/me`` who is signed in, with which role, and the paths that role may open
- ``GET /api/lag`` consumer groups with per-partition lag, time lag and Burrow status
- ``GET /api/throughput`` records per second per topic
- ``GET /api/history?hours=N`` lag per consumer group and throughput per topic over the last
  ``N`` hours (default and at most ``FRONTDOOR_OPS_HISTORY_HOURS``), from PostgreSQL, in buckets
  of at most 360 points a line (`LagHistory`; the one route that reads the database, once per
  poll interval whoever asks)
- ``GET /api/sla`` the SLA board (total, by kind, by team, per team and kind)
- ``GET /api/deadletters`` dead-letter counts by reason and the newest dead letters
- ``GET /api/deadletters/{id}`` one letter: headers, origin, reason (code, field, rule), value
  with personal data masked (``domain/deadletters.py``); 404 for an id the table does not hold
- ``GET /api/deadletters/replay?reason=&event_type=&agency=&id=&raw=`` how many letters (and
  which) a replay with those filters would re-send now: what the page asks the operator to confirm
- ``POST /api/deadletters/replay`` ``{filters…, "confirm": N}`` re-send them (the dead-letter
  service's one replay, audited as ``ops:<credential id>``): 200 ``{"replayed": n}``, 409
  ``replay_count_changed`` when the filter no longer chooses ``N`` letters, 422
  ``replay_refused`` for a filter naming nothing it may re-send. Ops only; with the session
  cookie it needs the page's CSRF header (``guard.py``)
- ``GET /api/lanes`` lane refusals (a security incident) per claimed agency and the newest ones
- ``GET /api/workforce`` the workforce section: what needs a manager first, supervision
  compliance per team and supervisor, caseloads, NQSW protections, unallocated children,
  allocation alerts (``domain/workforce.py``)
- ``GET /docs`` · ``GET /redoc`` the API reference, Swagger UI and ReDoc served with their assets
  by the app itself (``services.common.apidocs``: nothing from a CDN, so it renders on an offline
  council network), any signed-in role
- ``GET /metrics`` Prometheus text format
- ``GET /healthz`` 200 while the lag poll and the board refresh are current, else 503
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.common.apidocs import mount_api_docs
from services.common.authentication import Credential
from services.ops import console
from services.ops.console import DeadLetterConsole
from services.ops.domain.access import ROUTES, OpsRole, check_routes
from services.ops.domain.deadletters import (
    ReplayCountChangedError,
    ReplayFilter,
    ReplayRefusedError,
    ReplayRequest,
)
from services.ops.guard import (
    NOT_READY,
    PROBLEM_MEDIA_TYPE,
    OpsAccess,
    add_login_routes,
    guard,
    problem,
)
from services.ops.handlers import (
    BoardRefresher,
    Boards,
    LagHistory,
    LagPoller,
    StoreUnavailableError,
)
from services.ops.metrics import CONTENT_TYPE, OpsMetrics

DASHBOARD = Path(__file__).resolve().parent / "dashboard.html"
STALE_AFTER_POLLS = 5


@dataclass
class OpsRuntime:
    poller: LagPoller
    refresher: BoardRefresher
    metrics: OpsMetrics
    bootstrap_servers: str
    clock: Callable[[], datetime]
    access: OpsAccess
    history: LagHistory | None = None
    """``None`` where no history is kept (then ``/api/history`` says so and lists nothing)."""
    console: DeadLetterConsole | None = None
    """The dead-letter console (open a letter, replay); ``None``: the routes answer 503."""


def _runtime(request: Request) -> OpsRuntime:
    runtime: OpsRuntime = request.app.state.ops
    return runtime


def _json(model: Any) -> dict[str, Any] | None:
    return None if model is None else dict(model.model_dump(mode="json"))


def _board(request: Request, key: str, part: Callable[[Boards], Any]) -> dict[str, Any]:
    """One board of the newest refresh (``None`` before the first) and the last refresh error."""
    rt = _runtime(request)
    boards = rt.refresher.boards
    return {"error": rt.refresher.last_error, key: _json(part(boards) if boards else None)}


def _fresh(at: datetime | None, now: datetime, interval: float) -> bool:
    return at is not None and now - at <= timedelta(seconds=interval * STALE_AFTER_POLLS)


def create_app(lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    app = FastAPI(
        title="frontdoor ops",
        description=(
            "Consumer lag, throughput, dead letters, lane refusals, the SLA board and the "
            "workforce section."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by mount_api_docs from the installed assets, not a CDN
        redoc_url=None,
    )
    page = DASHBOARD.read_text(encoding="utf-8")
    app.middleware("http")(guard)
    add_login_routes(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/api/me")
    async def me(request: Request) -> dict[str, Any]:
        caller: Credential[OpsRole] = request.state.caller
        role = caller.principal
        return {
            "credential_id": caller.credential_id,
            "role": role.value,
            "may_open": sorted(p for p, roles in ROUTES.items() if role in roles),
        }

    @app.get("/api/lag")
    async def lag(request: Request) -> dict[str, Any]:
        rt = _runtime(request)
        report = _json(rt.poller.report) or {}
        return {
            "bootstrap_servers": rt.bootstrap_servers,
            "interval_seconds": rt.poller.interval,
            "window_size": rt.poller.window_size,
            "at": report.get("at"),
            "error": rt.poller.last_error,
            "groups": report.get("groups", []),
            "partitions": report.get("partitions", []),
        }

    @app.get("/api/throughput")
    async def throughput(request: Request) -> dict[str, Any]:
        report = _runtime(request).poller.report
        return {
            "at": report.at.isoformat() if report else None,
            "topics": [t.model_dump(mode="json") for t in report.throughput] if report else [],
        }

    @app.get("/api/history")
    async def history(
        request: Request,
        hours: float | None = Query(
            default=None, gt=0, allow_inf_nan=False, description="the last N hours"
        ),
    ) -> dict[str, Any]:
        rt = _runtime(request)
        if rt.history is None:
            return {
                "error": "no lag history is kept by this ops service",
                "groups": [],
                "topics": [],
            }
        try:
            report = await rt.history.read(hours)
        except StoreUnavailableError as exc:
            return {"error": str(exc), "groups": [], "topics": []}
        return {"error": rt.poller.history_error, **report.model_dump(mode="json")}

    @app.get("/api/sla")
    async def sla(request: Request) -> dict[str, Any]:
        return _board(request, "board", lambda b: b.sla)

    @app.get("/api/deadletters")
    async def deadletters(request: Request) -> dict[str, Any]:
        return _board(request, "panel", lambda b: b.deadletters)

    add_console_routes(app)

    @app.get("/api/lanes")
    async def lanes(request: Request) -> dict[str, Any]:
        return _board(request, "panel", lambda b: b.lanes)

    @app.get("/api/workforce")
    async def workforce(request: Request) -> dict[str, Any]:
        doc = _board(request, "board", lambda b: b.workforce)
        boards = _runtime(request).refresher.boards
        return {**doc, "error": doc["error"] or (boards.workforce_error if boards else None)}

    mount_api_docs(app)  # /docs, /redoc and their assets under /docs/assets, behind the door

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(_runtime(request).metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        rt = _runtime(request)
        now = rt.clock()
        interval = rt.poller.interval
        lag_ok = _fresh(rt.poller.polled_at, now, interval)
        boards_ok = _fresh(rt.refresher.refreshed_at, now, interval)
        body = {
            "status": "ok" if lag_ok and boards_ok else "degraded",
            "lag": {"polled_at": _iso(rt.poller.polled_at), "error": rt.poller.last_error},
            "boards": {
                "refreshed_at": _iso(rt.refresher.refreshed_at),
                "error": rt.refresher.last_error,
            },
        }
        return JSONResponse(body, status_code=200 if lag_ok and boards_ok else 503)

    check_routes(getattr(route, "path", "") for route in app.routes)
    return app


def _console(request: Request) -> DeadLetterConsole:
    found = _runtime(request).console
    if found is None:
        raise _ConsoleUnavailableError
    return found


class _ConsoleUnavailableError(RuntimeError):
    """This ops app was built without the dead-letter console."""


def _refused(exc: ReplayRefusedError) -> JSONResponse:
    if isinstance(exc, ReplayCountChangedError):
        body = problem("replay_count_changed", 409, str(exc))
        doc = {**_body(body), "expected": exc.expected, "count": exc.found}
        return JSONResponse(doc, status_code=409, media_type=PROBLEM_MEDIA_TYPE)
    return problem("replay_refused", 422, str(exc))


def _body(response: JSONResponse) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(bytes(response.body))
    return doc


def add_console_routes(app: FastAPI) -> None:
    """The dead-letter console's three routes (``console.py``); ops only (``domain/access.py``).

    ``/api/deadletters/replay`` is declared before ``/api/deadletters/{letter_id:int}`` only for
    readability: the int converter never matches ``replay``.
    """

    @app.get("/api/deadletters/replay")
    async def replay_preview(
        request: Request,
        *,
        ids: Annotated[list[int] | None, Query(alias="id", max_length=500)] = None,
        reason: Annotated[str | None, Query(max_length=100)] = None,
        event_type: Annotated[str | None, Query(max_length=100)] = None,
        agency: Annotated[str | None, Query(max_length=100)] = None,
        raw: bool = False,
    ) -> Response:
        choice = ReplayFilter(
            ids=tuple(ids) if ids else None,
            reason=reason or None,
            event_type=event_type or None,
            agency=agency or None,
            raw=raw,
        )
        try:
            found = await console.preview_replay(_console(request), choice)
        except ReplayRefusedError as exc:
            return _refused(exc)
        except _ConsoleUnavailableError:
            return problem(NOT_READY, 503, "the dead-letter console is not available")
        return JSONResponse(found.model_dump(mode="json"))

    @app.post("/api/deadletters/replay")
    async def replay(request: Request, body: ReplayRequest) -> Response:
        caller: Credential[OpsRole] = request.state.caller
        try:
            count = await console.replay(
                _console(request), body, actor=f"ops:{caller.credential_id}"
            )
        except ReplayRefusedError as exc:
            return _refused(exc)
        except _ConsoleUnavailableError:
            return problem(NOT_READY, 503, "the dead-letter console is not available")
        return JSONResponse({"replayed": count, "confirmed": body.confirm})

    @app.get("/api/deadletters/{letter_id:int}")
    async def deadletter(request: Request, letter_id: int) -> Response:
        try:
            view = await console.open_letter(_console(request), letter_id)
        except _ConsoleUnavailableError:
            return problem(NOT_READY, 503, "the dead-letter console is not available")
        if view is None:
            return problem("deadletter_not_found", 404, f"no dead letter with id {letter_id}")
        return JSONResponse(view.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
