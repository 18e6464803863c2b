"""The adversarial corpus, short form (issue 11): bad records among good ones on both paths.

``bench/adversarial.py`` builds the corpus (hand-written nasties, hypothesis mutants of every
event's JSON Schema, schemathesis bodies from the OpenAPI document) and judges it with the
contract's own code; here a few hundred records go through the production ingress app and raw
to the partner topic, with a real intake worker behind them on the session's broker and
database. The full ≥10,000-record form: ``python bench/adversarial.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from schemas.envelope import Agency
from services.common.db import create_pool
from services.common.settings import Endpoints
from services.ingress import openapi
from services.ingress.adapters.postgres import PostgresCredentialStore
from services.ingress.bootstrap import build_api
from services.ingress.config import IngressSettings
from services.ingress.credentials import CredentialAdmin
from tests.conftest import Workers
from tests.factories import bench_module

pytestmark = pytest.mark.integration


def _bench() -> Any:
    return bench_module("adversarial")


async def test_bad_records_on_both_paths_are_refused_with_reasons_and_good_ones_land(
    endpoints: Endpoints, workers: Workers
) -> None:
    bench = _bench()
    intake = workers.start("intake")
    settings = IngressSettings(rate_per_second=1e6, burst=10**6, auth_cache_ttl_seconds=300)
    app = build_api(endpoints, settings)
    async with app.router.lifespan_context(app):
        pool = await create_pool(endpoints.database_url, max_size=2)
        admin = CredentialAdmin(PostgresCredentialStore(pool), clock=lambda: datetime.now(UTC))
        keys = {a: (await admin.add(a, "adversarial"))[1].text for a in Agency}
        await pool.close()
        transport = httpx.ASGITransport(app=app, client=("192.0.2.77", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
            result = await bench.run_corpus(
                endpoints, client, keys, settings, openapi.document(app, settings),
                seed=7, n_good=90, n_hypothesis=180, n_schemathesis=150, landing_timeout=60,
                intake_alive=lambda: intake.poll() is None,
            )  # fmt: skip
    print(result)
    assert result["failures"] == []
    assert result["server_errors"] == 0
    assert result["records"] >= 800
    assert result["landed"] == result["must_land"] > 0
    assert result["dead_letters"] == result["must_dead_letter"] > 0
