"""The OpenAPI 3.1 document of partner ingress, and its committed copy in ``docs/``.

FastAPI generates the document from the routes and the answer models; this module adds what the
route cannot declare because it reads the raw body itself: the request body (one inbound event, or
``{"events": [...]}``), with every event model's JSON Schema from the same pydantic models intake
validates with, each carrying a whole example event (``schemas.examples``), and one named example
per event type in the request body (Swagger UI's example menu); the bearer-key security scheme;
and ``application/problem+json`` as the media type of every error, each problem ``type`` a page
this API serves (``/problems/<code>``). ``python -m services.ingress.openapi`` writes
``docs/openapi-ingress.json`` from the default settings; ``--check`` writes nothing and exits 1
when the committed file is stale (CI runs it, like ``python -m schemas.export --check``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from schemas.envelope import EventBase
from schemas.events import INBOUND_MODELS
from schemas.examples import example
from schemas.registry import event_key
from services.ingress.domain.codes import RETIRED, Code
from services.ingress.responses import PROBLEM_MEDIA_TYPE, Problem, SubmissionReport

if TYPE_CHECKING:
    from fastapi import FastAPI

    from services.ingress.config import IngressSettings

TITLE = "frontdoor partner ingress"
VERSION = "1.0.0"
SECURITY_SCHEME = "agencyKey"
REF = "#/components/schemas/{model}"
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi-ingress.json"

DESCRIPTION = """\
Partner systems that cannot publish to Kafka submit front-door events here. Each agency has its own
API keys (`frontdoor agencies add <agency>`), sent as `Authorization: Bearer fd_<id>_<secret>`.

An agency may submit only events whose `source.agency` is itself, and only the event types its role
allows (403 `agency_mismatch` / `event_type_not_permitted`). Events are validated against the
published event contract (the same JSON Schemas as `partner.events`). The answer is sent only
after the accepted events and the submission's audit record are stored together in frontdoor's
database; they are then published to `partner.events`, and published again until the broker has
them, so an accepted event is never lost to a broker outage.

Errors are RFC 9457 problem documents (`application/problem+json`) with a machine-readable `code`;
their `type` (`/problems/<code>`, relative to this API) is a page saying what the problem means and
what to do. `GET /v1/events/{event_id}` tells what became of one of your events. Every event type
has an example below (the request body's example menu, and each schema's `examples`).
Resubmitting an event unchanged (same `event_id`, same content) is always safe: it is recorded
once. Revoking a key takes effect within the service's verification cache TTL (30 s by default).
"""


def _event_models() -> Sequence[type[EventBase]]:
    return INBOUND_MODELS


def submit_description(settings: IngressSettings) -> str:
    codes = ", ".join(f"`{c.value}` ({c.status})" for c in Code if c not in RETIRED)
    return (
        'Body: one event object, or `{"events": [...]}` with 1 to '
        f"{settings.max_batch} events. The body may be at most {settings.max_body_bytes} bytes "
        f"and each event at most {settings.max_event_bytes} bytes. Each agency may submit "
        f"{settings.rate_per_second:g} events/s with bursts of {settings.burst} (429 with "
        "`Retry-After` beyond that).\n\n"
        "Answers: **202** every event accepted; **207** some accepted, some rejected (the body "
        "lists both; nothing was half-accepted); when none was accepted a problem document with "
        "the rejections' status — **403** all forbidden, **409** all reused ids, **413** all "
        "too large, otherwise **422** — and the same per-event `rejected` list. An `event_id` "
        "names one event for ever: the same event sent again is accepted again (202, stored "
        "once); other content under a used id is refused (`event_id_reused`). **503** means "
        "nothing was confirmed: resubmit unchanged.\n\n"
        f"Problem codes: {codes}."
    )


def problem(description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"model": Problem, "description": description}
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def submit_responses() -> dict[int | str, dict[str, Any]]:
    retry = "Seconds to wait before retrying."
    return {
        202: {"model": SubmissionReport, "description": "Every event was accepted."},
        207: {
            "model": SubmissionReport,
            "description": "Multi-Status: some events accepted, the others rejected with reasons.",
        },
        400: problem("The body is not valid JSON (`malformed_json`)."),
        401: problem(
            "No key, an unknown or malformed key, or a revoked key.",
            **{"WWW-Authenticate": "Bearer challenge (RFC 6750)."},
        ),
        403: problem("Every event names another agency or a type the agency may not submit."),
        409: problem(
            "Every event's `event_id` was already used for an event with different content "
            "(`event_id_reused`); an event_id names one event: resend it unchanged (202) or give "
            "a new event its own id."
        ),
        413: problem("The body, the batch or every event is too large."),
        415: problem("The body is not application/json."),
        422: problem("Not an event or a batch, or every event failed validation."),
        429: problem(
            "The agency's rate limit is exceeded (`rate_limited`), or too many failed "
            "authentications came from this address or for this credential id "
            "(`authentication_throttled`: no key is checked until the window ends).",
            **{"Retry-After": retry},
        ),
        503: problem(
            "The events could not be stored (or the key checked); nothing was accepted.",
            **{"Retry-After": retry},
        ),
    }


def request_examples() -> dict[str, Any]:
    """One named example per inbound event type and version, and a batch of two."""
    named: dict[str, Any] = {}
    for model in _event_models():
        event_type, version = event_key(model)
        named[f"{event_type}.v{version}"] = {
            "summary": f"{event_type} v{version}",
            "description": (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            "value": example(event_type, version),
        }
    named["batch"] = {
        "summary": "A batch: a contact and a police DA notification",
        "value": {"events": [example("contact.received", 2), example("police.da_notification", 1)]},
    }
    return named


def request_body() -> dict[str, Any]:
    return {
        "required": True,
        "description": "One event, or a batch of events under `events`.",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": REF.format(model="InboundEvent")},
                        {"$ref": REF.format(model="EventBatch")},
                    ]
                },
                "examples": request_examples(),
            }
        },
    }


def event_components(max_batch: int) -> dict[str, Any]:
    """JSON Schemas of every inbound event model, plus ``InboundEvent`` and ``EventBatch``."""
    refs, top = models_json_schema(
        [(model, "validation") for model in _event_models()], ref_template=REF
    )
    components: dict[str, Any] = dict(top.get("$defs", {}))
    for model in _event_models():
        name = refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1]
        components[name] = {**components[name], "examples": [example(*event_key(model))]}
    components["InboundEvent"] = {
        "title": "InboundEvent",
        "description": "Any event partners publish, in any registered schema_version.",
        "oneOf": [refs[(model, "validation")] for model in _event_models()],
    }
    components["EventBatch"] = {
        "title": "EventBatch",
        "type": "object",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch,
                "items": {"$ref": REF.format(model="InboundEvent")},
            }
        },
    }
    return components


def document(app: FastAPI, settings: IngressSettings) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (cached on the app like FastAPI's own)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        routes=app.routes,
        tags=[
            {"name": "events", "description": "Submitting events."},
            {"name": "operations", "description": "Health."},
        ],
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in event_components(settings.max_batch).items():
        if name in schemas and schemas[name] != schema:
            raise RuntimeError(f"two different schemas named {name}")
        schemas[name] = schema
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "fd_<credential_id>_<secret>",
            "description": "An agency API key from `frontdoor agencies add`.",
        }
    }
    for operation in (op for path in doc["paths"].values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status.isdigit() and int(status) >= 400 and "application/json" in content:
                content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    app.openapi_schema = doc
    return doc


def render() -> str:
    """The committed document's exact text, from the default settings (environment ignored)."""
    from services.ingress.api import create_app
    from services.ingress.config import IngressSettings

    app = create_app(IngressSettings.model_construct())
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def is_stale(path: Path = DOC_PATH) -> bool:
    return not path.is_file() or path.read_text(encoding="utf-8") != render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ingress.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    parser.add_argument("--out", type=Path, default=DOC_PATH, help="where the document lives")
    args = parser.parse_args(argv)
    if args.check:
        if is_stale(args.out):
            sys.stderr.write(f"stale: {args.out}\nrun: python -m services.ingress.openapi\n")
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
