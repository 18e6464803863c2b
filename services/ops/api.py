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
- ``GET /api/sla`` the SLA board (total, by kind, by team, per team and kind)
- ``GET /api/deadletters`` dead-letter counts by reason and the newest dead letters
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
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.common.apidocs import mount_api_docs
from services.common.authentication import Credential
from services.ops.domain.access import ROUTES, OpsRole, check_routes
from services.ops.guard import OpsAccess, add_login_routes, guard
from services.ops.handlers import BoardRefresher, Boards, LagPoller
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

    @app.get("/api/sla")
    async def sla(request: Request) -> dict[str, Any]:
        return _board(request, "board", lambda b: b.sla)

    @app.get("/api/deadletters")
    async def deadletters(request: Request) -> dict[str, Any]:
        return _board(request, "panel", lambda b: b.deadletters)

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


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
