"""The HTTP face of partner ingress: a FastAPI app that translates requests for the handler.

Why FastAPI: the OpenAPI document partners build against is generated from the same pydantic v2
models that validate events (``schemas/``) and shape the answers (``responses``), so the document
cannot drift from the code; it is async on Starlette and uvicorn, which suits a service that
spends its time waiting for the database's commit; and it is widely used and well kept,
with conventions (dependency-free routes, exception handlers, lifespan) an engineer new to the
project already knows. The route reads the raw body itself instead of declaring a pydantic
parameter: FastAPI would then reject a whole batch for one bad event, and would parse a body of
any size; here the size limit applies before parsing and every event gets its own verdict.

Routes: ``POST /v1/events`` and ``GET /v1/events/{event_id}`` (documented in ``openapi``),
``GET /healthz``, ``GET /metrics`` (Prometheus), ``GET /openapi.json``, the API reference at
``/docs`` (Swagger UI) and ``/redoc`` with their assets served by this app
(``services.common.apidocs``: nothing is loaded from the internet), and one HTML page per problem
code at ``/problems/<code>`` — the path every problem's ``type`` names — with ``/problems``
listing them. Every error — 404 and 405 included — is ``application/problem+json``; every answer
to the API's own routes carries ``X-Request-ID``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.apidocs import mount_api_docs, page
from services.ingress import openapi
from services.ingress.config import IngressSettings
from services.ingress.domain.codes import PROBLEM_BASE_URI, RETIRED, Code
from services.ingress.handlers import Answer, IncomingRequest, IngressHandler, Reply
from services.ingress.metrics import CONTENT_TYPE, IngressMetrics
from services.ingress.responses import PROBLEM_MEDIA_TYPE, EventStatus, Health, Problem

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
        docs_url=None,  # served by mount_api_docs from the installed assets, not a CDN
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
        "/v1/events/{event_id}",
        response_model=EventStatus,
        operation_id="getEventStatus",
        tags=["events"],
        summary="What became of one of your events",
        description=(
            "`accepted` (stored, on its way to the history), `recorded` (in the history) or "
            "`refused` (the latest submission with this id was refused; `code` says why). "
            "404 for an id your agency never submitted — another agency's events included."
        ),
        responses={
            401: openapi.problem("No key, or an invalid or revoked key."),
            404: openapi.problem("Your agency never submitted an event with this id."),
            429: openapi.problem("Too many failed authentications (`authentication_throttled`)."),
            503: openapi.problem("The store could not be reached; try again."),
        },
        openapi_extra={"security": [{openapi.SECURITY_SCHEME: []}]},
    )
    async def event_status(request: Request, event_id: str) -> Response:
        handler = request.app.state.handler
        request_id = uuid.uuid4()
        if handler is None:
            return _problem_response(Code.NOT_READY, "the service is not ready", request_id)
        try:
            wanted = uuid.UUID(event_id)
        except ValueError:
            return _problem_response(
                Code.NOT_FOUND,
                "an event_id is a UUID, e.g. 0f0e4a3c-…; no event has this one",
                request_id,
            )
        found = await handler.status(
            IncomingRequest(
                authorization=request.headers.get("authorization"),
                content_type=None,
                read_body=_no_body,
                client_addr=request.client.host if request.client else None,
                request_id=request_id,
            ),
            wanted,
        )
        if isinstance(found, Answer):
            return _render_answer(found, request_id)
        body = EventStatus(event_id=wanted, status=found.status, at=found.at, code=found.code)
        return Response(
            body.model_dump_json(exclude_none=True),
            media_type=JSON,
            headers={**NO_STORE, "X-Request-ID": str(request_id)},
        )

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

    @app.get("/problems", include_in_schema=False)
    async def problem_index() -> Response:
        return page(
            "Problem types of the partner API",
            [
                (
                    "Reading a problem",
                    "Every refusal is an RFC 9457 problem document (`application/problem+json`) "
                    "whose `type` is one of the pages below and whose `code` is its last part. "
                    "In a batch, each rejected event carries its own `code`.",
                )
            ],
            links=[(_problem_path(c), f"`{c.value}` — {c.problem_title}") for c in Code]
            + [("/docs", "API reference (Swagger UI)"), ("/redoc", "API reference (ReDoc)")],
        )

    @app.get(PROBLEM_BASE_URI + "{code}", include_in_schema=False)
    async def problem_page(code: str) -> Response:
        known = Code.__members__.get(code.upper())
        if known is None or known.value != code:
            return _problem_response(
                Code.NOT_FOUND, f"no problem type {code[:80]!r}; see /problems", uuid.uuid4()
            )
        return _problem_page(known)

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
    mount_api_docs(app)
    return app


def _problem_path(code: Code) -> str:
    return PROBLEM_BASE_URI + code.value


def _problem_page(code: Code) -> Response:
    status = f"HTTP {code.status}" + (
        " — no longer sent; kept so that older clients still recognise it."
        if code in RETIRED
        else "."
    )
    return page(
        f"{code.value}: {code.problem_title}",
        [
            ("What it means", code.meaning),
            ("What to do", code.advice),
            ("Status", status),
            (
                "In the answer",
                f"`code` is `{code.value}` and `type` is `{code.type_uri}`; `detail` says what "
                "was wrong with this request, `errors` names each field (`loc`) and the "
                "problem with it (`msg`), and `instance` is the request id to quote when asking "
                "the council for help.",
            ),
        ],
        links=[("/problems", "Every problem type"), ("/docs", "API reference")],
    )


async def _no_body(_limit: int) -> bytes | None:
    return b""


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
    return _render_answer(reply.answer, reply.audit.request_id)


def _render_answer(answer: Answer, request_id: uuid.UUID) -> Response:
    media_type = PROBLEM_MEDIA_TYPE if isinstance(answer.body, Problem) else JSON
    headers = {
        **NO_STORE,
        **answer.headers,
        "X-Request-ID": str(request_id),
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
