"""The committed OpenAPI document, and fuzzing the API from it with schemathesis (in-process ASGI).

The fuzzer generates requests from the document — valid and invalid events, batches, headers —
and checks that the app never answers 5xx, answers only with documented statuses, content types
and bodies, and that every 4xx is a problem document with a machine-readable reason. It runs
against the real app with in-memory ports and an agency key, so requests get past authentication.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schemas.envelope import Agency
from services.common.outbox import RecordingSender, Relay
from services.ingress import openapi
from services.ingress.adapters.memory import (
    MemoryAuditLog,
    MemoryCredentialStore,
    MemoryRateLimit,
)
from services.ingress.api import create_app
from services.ingress.auth import Authenticator
from services.ingress.config import IngressSettings
from services.ingress.credentials import StoredCredential
from services.ingress.domain.keys import make_key
from services.ingress.handlers import IngressHandler, Limits

MAX_EXAMPLES = 150
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
KEY = make_key("00000000000000aa", "fuzz-secret-" + "x" * 24)


def _fuzz_app() -> tuple[Any, MemoryAuditLog]:
    store, audit = MemoryCredentialStore(), MemoryAuditLog()
    store.rows[KEY.credential_id] = StoredCredential(
        credential_id=KEY.credential_id,
        principal=Agency.SOCIAL_CARE,
        label="fuzz",
        secret_hash=CHEAP.hash(KEY.secret),
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    app_settings = IngressSettings.model_construct()
    handler = IngressHandler(
        authenticator=Authenticator(
            store,
            ttl_seconds=60,
            clock=lambda: datetime.now(UTC),
            monotonic=time.monotonic,
        ),
        audit=audit,
        relay=Relay(audit.ledger, RecordingSender()),
        limiter=MemoryRateLimit(rate=1e9, burst=10**9, monotonic=time.monotonic),
        roles=app_settings.role_table(),
        limits=Limits(
            max_body_bytes=app_settings.max_body_bytes,
            max_batch=app_settings.max_batch,
            max_event_bytes=app_settings.max_event_bytes,
            publish_timeout_seconds=5,
        ),
        clock=lambda: datetime.now(UTC),
        monotonic=time.monotonic,
    )
    return create_app(app_settings, handler=handler), audit


APP, AUDIT = _fuzz_app()


def _claim_own_agency(body: Any) -> None:
    """Let every other generated event claim the key's own agency, so it can be accepted."""
    events = body.get("events") if isinstance(body, dict) else None
    for event in events if isinstance(events, list) else [body]:
        source = event.get("source") if isinstance(event, dict) else None
        if isinstance(source, dict) and next(_TURNS) % 2:
            source["agency"] = Agency.SOCIAL_CARE.value


_TURNS = itertools.count()
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    APP,
    # the coverage phase enumerates boundary values of ~80 component schemas: minutes, not seconds
    config=schemathesis.Config.from_dict(
        {
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "generation": {"mode": "all", "database": "none"},
        }
    ),
)


def test_the_committed_openapi_document_is_fresh() -> None:
    assert not openapi.is_stale(), "run: python -m services.ingress.openapi"
    assert openapi.main(["--check"]) == 0


def test_check_mode_fails_on_a_stale_document_and_writing_fixes_it(tmp_path: Path) -> None:
    path = tmp_path / "openapi-ingress.json"
    assert openapi.main(["--check", "--out", str(path)]) == 1  # missing
    path.write_text("{}\n", encoding="utf-8")
    assert openapi.main(["--check", "--out", str(path)]) == 1  # stale
    assert openapi.main(["--out", str(path)]) == 0
    assert openapi.main(["--check", "--out", str(path)]) == 0


def test_the_served_document_is_the_committed_one() -> None:
    committed = json.loads(openapi.DOC_PATH.read_text(encoding="utf-8"))
    assert APP.openapi() == committed


def test_the_document_describes_every_inbound_event_and_the_security_scheme() -> None:
    doc = APP.openapi()
    assert doc["openapi"].startswith("3.1")
    inbound = doc["components"]["schemas"]["InboundEvent"]["oneOf"]
    assert {"$ref": "#/components/schemas/PoliceDaNotification"} in inbound
    assert doc["components"]["securitySchemes"][openapi.SECURITY_SCHEME]["scheme"] == "bearer"
    responses = doc["paths"]["/v1/events"]["post"]["responses"]
    assert set(responses) >= {"202", "207", "400", "401", "403", "413", "415", "422", "429", "503"}
    assert "application/problem+json" in responses["403"]["content"]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_fuzzing_finds_no_server_error_and_every_4xx_has_a_reason(case: Any) -> None:
    _claim_own_agency(case.body)  # else almost every generated event is a spoof (403)
    response = case.call(headers={"Authorization": f"Bearer {KEY.text}"})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == ["application/problem+json"]
        body = json.loads(response.content)
        assert body["code"]
        assert body["detail"]
        assert body["status"] == response.status_code
