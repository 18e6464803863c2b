"""The HTTP face of partner ingress: a FastAPI app that translates requests for the handler.

Why FastAPI: the OpenAPI document partners build against is generated from the same pydantic v2
models that validate events (``schemas/``) and shape the answers (``responses``), so the document
cannot drift from the code; it is async on Starlette and uvicorn, which suits a service that
spends its time waiting for the database's commit; and it is widely used and well kept,
with conventions (dependency-free routes, exception handlers, lifespan) an engineer new to the
project already knows. The route reads the raw body itself instead of declaring a pydantic
parameter: FastAPI would then reject a whole batch for one bad event, and would parse a body of
any size; here the size limit applies before parsing and every event gets its own verdict.

Routes: ``POST /v1/events`` (documented in ``openapi``), ``GET /healthz``, ``GET /metrics``
(Prometheus) and ``GET /openapi.json``. Every error — 404 and 405 included — is
``application/problem+json``; every answer carries ``X-Request-ID``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.ingress import openapi
from services.ingress.config import IngressSettings
from services.ingress.domain.codes import Code
from services.ingress.handlers import IncomingRequest, IngressHandler, Reply
from services.ingress.metrics import CONTENT_TYPE, IngressMetrics
from services.ingress.responses import PROBLEM_MEDIA_TYPE, Health, Problem

log = structlog.get_logger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
JSON = "application/json"
NO_STORE = {"Cache-Control": "no-store"}


def create_app(
    settings: IngressSettings,
    *,
    handler: IngressHandler | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The app: pass ``handler`` (fakes) or a ``lifespan`` that sets ``app.state.handler``."""
    app = FastAPI(
        title=openapi.TITLE,
        version=openapi.VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.handler = handler
    metrics = IngressMetrics()

    @app.post(
        "/v1/events",
        status_code=202,
        response_model=None,
        operation_id="submitEvents",
        tags=["events"],
        summary="Submit one event or a batch of events",
        description=openapi.submit_description(settings),
        responses=openapi.submit_responses(),
        openapi_extra={
            "requestBody": openapi.request_body(),
            "security": [{openapi.SECURITY_SCHEME: []}],
        },
    )
    async def submit_events(request: Request) -> Response:
        handler = request.app.state.handler
        request_id = uuid.uuid4()
        if handler is None:
            return _problem_response(Code.NOT_READY, "the service is not ready", request_id)
        reply = await handler.handle(
            IncomingRequest(
                authorization=request.headers.get("authorization"),
                content_type=request.headers.get("content-type"),
                read_body=lambda limit: _read_limited(request, limit),
                client_addr=request.client.host if request.client else None,
                request_id=request_id,
            )
        )
        metrics.observe(reply.audit)
        return _render(reply)

    @app.get(
        "/healthz",
        response_model=Health,
        operation_id="health",
        tags=["operations"],
        summary="Liveness and readiness",
        description="200 once the broker producer and the database pool are open, else 503.",
        responses={503: {"model": Problem, "description": "Starting or stopping."}},
    )
    async def healthz(request: Request) -> Response:
        if request.app.state.handler is None:
            return _problem_response(Code.NOT_READY, "the service is not ready", uuid.uuid4())
        return Response(Health(status="ok").model_dump_json(), media_type=JSON)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED}.get(exc.status_code)
        if code is None:
            code = Code.INVALID_REQUEST if exc.status_code < 500 else Code.INTERNAL_ERROR
        return _problem_response(
            code,
            str(exc.detail),
            uuid.uuid4(),
            status=exc.status_code,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        request_id = uuid.uuid4()
        log.error(
            "ingress_internal_error",
            request_id=str(request_id),
            error_class=type(exc).__name__,
            path=request.url.path,
        )
        return _problem_response(Code.INTERNAL_ERROR, "unexpected error; it was logged", request_id)

    app.openapi = lambda: openapi.document(app, settings)  # type: ignore[method-assign]
    return app


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` as soon as it is known to exceed ``limit`` bytes (before parsing)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    stream: AsyncIterator[bytes] = request.stream()
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _render(reply: Reply) -> Response:
    answer = reply.answer
    media_type = PROBLEM_MEDIA_TYPE if isinstance(answer.body, Problem) else JSON
    headers = {
        **NO_STORE,
        **answer.headers,
        "X-Request-ID": str(reply.audit.request_id),
    }
    return Response(
        answer.body.model_dump_json(exclude_none=True),
        status_code=answer.status,
        media_type=media_type,
        headers=headers,
    )


def _problem_response(
    code: Code,
    detail: str,
    request_id: uuid.UUID,
    *,
    status: int | None = None,
    headers: dict[str, Any] | None = None,
) -> Response:
    problem = Problem.of(code, detail, request_id=request_id, status=status)
    return Response(
        problem.model_dump_json(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={**(headers or {}), "X-Request-ID": str(request_id)},
    )
