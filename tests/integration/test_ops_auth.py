"""The ops service's door, on the real ops app (``build_api``) over a real PostgreSQL and broker.

Every route the app has (enumerated from ``app.routes``, so a new route cannot escape the test)
answers 401 without a credential, 403 to a credential whose role the route does not allow and 200
to one whose role it does — and the roles per route are written out here, from issue 11, not read
from the table under test. Staff keys are issued with the same machinery as partners' keys
(``CredentialAdmin`` over ``ops_credentials``). The browser's way in: the login form sets a
Secure, HttpOnly, SameSite=Strict signed session cookie that expires, is refused when tampered
with, ends when its key is revoked, and never redirects off-site. ``/metrics`` takes the scrape
token or an ops key, or anyone only when explicitly configured; ``/healthz`` stays open.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Mount, Route

from services.common.credentials import CredentialAdmin
from services.common.db import create_pool
from services.common.kafka import ensure_topics
from services.common.settings import Endpoints
from services.ops.adapters.credentials import OpsCredentialStore
from services.ops.bootstrap import build_api
from services.ops.config import OpsSettings
from services.ops.domain.access import OpsRole

pytestmark = pytest.mark.integration

OPS, MANAGER, OOH, ANALYST = (
    OpsRole.OPS,
    OpsRole.MANAGER,
    OpsRole.OUT_OF_HOURS,
    OpsRole.ANALYST,
)
EVERYONE = frozenset(OpsRole)

EXPECTED: dict[str, frozenset[OpsRole]] = {
    "/": frozenset({OPS, MANAGER}),  # the dashboard
    "/api/me": EVERYONE,
    "/api/lag": frozenset({OPS}),
    "/api/throughput": frozenset({OPS}),
    "/api/history": frozenset({OPS}),  # issue 14: lag and throughput over time
    "/api/sla": frozenset({OPS, MANAGER, ANALYST}),  # SLA read API: managers and analysts
    "/api/deadletters": frozenset({OPS}),  # may carry what a partner sent: ops only
    "/api/deadletters/{letter_id:int}": frozenset({OPS}),  # issue 14: open a letter
    "/api/deadletters/replay": frozenset({OPS}),  # issue 14: replay (GET preview, POST send)
    "/api/lanes": frozenset({OPS}),  # lane refusals: a security incident, for the platform team
    "/api/workforce": frozenset({OPS, MANAGER}),  # issue 13 §4: the team managers' section
    "/metrics": frozenset({OPS}),  # or the scrape token
    "/docs": EVERYONE,
    "/docs/assets": EVERYONE,  # the self-hosted Swagger UI / ReDoc files (no CDN)
    "/redoc": EVERYONE,
    "/openapi.json": EVERYONE,
}
"""Issue 11: ops → everything; manager → dashboard + workforce/SLA; analyst → returns/SLA read;
out-of-hours → OOH APIs (the ops app has none yet); docs to any signed-in role."""

OPEN = {"/healthz", "/login", "/logout"}
SCRAPE_TOKEN = "scrape-" + "t" * 24


async def issue_ops_key(database_url: str, role: OpsRole, label: str = "test") -> str:
    """A new staff key of ``role``, issued as ``frontdoor ops-keys add`` does; its text."""
    pool = await create_pool(database_url, max_size=1)
    try:
        admin = CredentialAdmin(OpsCredentialStore(pool), clock=lambda: datetime.now(UTC))
        _, key = await admin.add(role, label)
    finally:
        await pool.close()
    return key.text


async def revoke_ops_key(database_url: str, key: str) -> None:
    pool = await create_pool(database_url, max_size=1)
    try:
        admin = CredentialAdmin(OpsCredentialStore(pool), clock=lambda: datetime.now(UTC))
        await admin.revoke(key.split("_")[1])
    finally:
        await pool.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _address() -> str:
    """A client address of its own per app: the failed sign-in counters are per address."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


@asynccontextmanager
async def ops_app(
    endpoints: Endpoints, root_path: str = "", **settings: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The production ops app in this process, served over https (the cookie is Secure)."""
    values: dict[str, Any] = {"track_latency": False, "poll_interval_seconds": 0.5, **settings}
    app = build_api(endpoints, OpsSettings(**values))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(_address(), 40000), root_path=root_path)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://ops.test", follow_redirects=False
        ) as client:
            yield app, client


PROBE = {
    "/docs/assets": "/docs/assets/swagger-ui.css",
    "/api/deadletters/{letter_id:int}": "/api/deadletters/{letter}",
    "/api/deadletters/replay": "/api/deadletters/replay?id={letter}",
}
"""What to ask for on a mount (a folder of files): one of its files; on a route with a
parameter: the probe letter (``letter``)."""


def probe(path: str, letter: int) -> str:
    return PROBE.get(path, path).replace("{letter}", str(letter))


def probe_body(path: str, method: str, letter: int) -> dict[str, Any] | None:
    """The body a POST needs to succeed: the replay of the probe letter, confirmed."""
    if (path, method) == ("/api/deadletters/replay", "POST"):
        return {"ids": [letter], "confirm": 1}
    return None


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(path, method) of every route the app serves, HEAD aside; a mount of files is a GET."""
    found = [
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    mounts = [(route.path, "GET") for route in app.routes if isinstance(route, Mount)]
    assert len(found) + len(mounts) == len(app.routes)  # plain one-method routes and mounts
    assert {p for p, _ in mounts} <= set(PROBE)
    return found + mounts


def guarded(app: FastAPI) -> list[tuple[str, str]]:
    return [(p, m) for p, m in routes(app) if p not in OPEN]


@pytest.fixture(scope="module")
def letter(endpoints: Endpoints) -> int:
    """A dead letter waiting, from a topic of its own: what the console's routes are asked for
    (the ops role's replay of it is the walk's one POST that succeeds)."""

    async def keep() -> int:
        topic = f"ops-auth-probe-{uuid.uuid4().hex[:8]}"
        await ensure_topics(endpoints.bootstrap_servers, [(topic, 1)])
        conn = await asyncpg.connect(endpoints.database_url)
        try:
            return int(
                await conn.fetchval(
                    """INSERT INTO deadletters (dlq_partition, dlq_offset, reason, exception_class,
                           exception_message, original_topic, original_partition,
                           original_offset, consumer_group, failed_at, record_key, record_value,
                           record_headers)
                       VALUES (0, 0, 'processing', 'ValueError', 'probe', $1, 0, 0,
                               'frontdoor-intake', now(), 'child-1', '{"probe": true}',
                               '{}'::jsonb)
                       RETURNING id""",
                    topic,
                )
            )
        finally:
            await conn.close()

    return asyncio.run(keep())


@pytest.fixture(scope="module")
def keys(endpoints: Endpoints) -> dict[OpsRole, str]:
    async def issue() -> dict[OpsRole, str]:
        return {role: await issue_ops_key(endpoints.database_url, role) for role in OpsRole}

    return asyncio.run(issue())


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"].endswith("/" + code)


async def test_the_routes_under_test_are_every_route_the_app_has(endpoints: Endpoints) -> None:
    async with ops_app(endpoints) as (app, _):
        paths = {p for p, _ in routes(app)}
    assert paths - OPEN == set(EXPECTED), "a route was added: give it its roles in EXPECTED"
    assert paths >= OPEN


async def test_every_route_answers_401_problem_json_without_a_credential(
    endpoints: Endpoints, letter: int
) -> None:
    async with ops_app(endpoints) as (app, client):
        for path, method in guarded(app):
            response = await client.request(
                method, probe(path, letter), json=probe_body(path, method, letter)
            )
            assert_problem(response, 401, "missing_credentials")
            assert response.headers["www-authenticate"].startswith("Bearer")
        page = await client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 401  # a browser gets the login form, still 401
        assert 'action="/login"' in page.text
        assert (await client.get("/healthz")).status_code in (200, 503)  # open, never 401


async def test_every_route_is_403_to_a_wrong_role_and_200_to_a_right_one(
    endpoints: Endpoints, keys: dict[OpsRole, str], letter: int
) -> None:
    counts = {"200": 0, "403": 0}
    async with ops_app(endpoints) as (app, client):
        for path, method in guarded(app):
            for role, key in keys.items():
                response = await client.request(
                    method,
                    probe(path, letter),
                    headers=bearer(key),
                    json=probe_body(path, method, letter),
                )
                if role in EXPECTED[path]:
                    assert response.status_code == 200, (path, role, response.text)
                    counts["200"] += 1
                else:
                    assert_problem(response, 403, "role_not_permitted")
                    assert role.value in response.json()["detail"]
                    counts["403"] += 1
        me = (await client.get("/api/me", headers=bearer(keys[MANAGER]))).json()
    assert me["role"] == "manager"
    assert "/api/deadletters" not in me["may_open"]
    assert "/api/sla" in me["may_open"]
    assert "/api/workforce" in me["may_open"]
    assert "/api/lanes" not in me["may_open"]
    assert counts == {"200": 36, "403": 32}


async def test_a_path_no_route_has_is_401_then_404_and_no_spelling_slips_past_the_roles(
    endpoints: Endpoints, keys: dict[OpsRole, str]
) -> None:
    async with ops_app(endpoints) as (_, client):
        assert_problem(await client.get("/api/nothing-here"), 401, "missing_credentials")
        assert (await client.get("/api/nothing-here", headers=bearer(keys[OPS]))).status_code == 404
        for spelling in ("/api/deadletters/", "/api/%64eadletters", "/api/./deadletters"):
            response = await client.get(spelling, headers=bearer(keys[MANAGER]))
            assert response.status_code in (403, 404, 307), (spelling, response.status_code)
            if response.status_code == 307:  # the slash redirect leads back to the door
                target = response.headers["location"]
                again = await client.get(target, headers=bearer(keys[MANAGER]))
                assert_problem(again, 403, "role_not_permitted")
        post = await client.post("/api/deadletters", headers=bearer(keys[MANAGER]))
        assert_problem(post, 403, "role_not_permitted")  # judged before the 405
    # behind a proxy that mounts ops under a prefix, the route is still the one judged
    async with ops_app(endpoints, root_path="/ops") as (_, client):
        behind = await client.get("/ops/api/deadletters", headers=bearer(keys[MANAGER]))
        assert_problem(behind, 403, "role_not_permitted")
        assert (await client.get("/ops/api/sla", headers=bearer(keys[MANAGER]))).status_code == 200


async def test_a_bad_unknown_or_revoked_key_is_401(
    endpoints: Endpoints, keys: dict[OpsRole, str]
) -> None:
    revoked = await issue_ops_key(endpoints.database_url, OPS, "leaver")
    await revoke_ops_key(endpoints.database_url, revoked)
    unknown = f"fd_{uuid.uuid4().hex[:16]}_{'s' * 43}"
    partner_shaped_wrong = keys[OPS][:-4] + "AAAA"
    async with ops_app(endpoints) as (_, client):
        assert_problem(
            await client.get("/api/lag", headers=bearer("not-a-key")), 401, "invalid_credentials"
        )
        assert_problem(
            await client.get("/api/lag", headers=bearer(unknown)), 401, "invalid_credentials"
        )
        assert_problem(
            await client.get("/api/lag", headers=bearer(partner_shaped_wrong)),
            401,
            "invalid_credentials",
        )
        assert_problem(
            await client.get("/api/lag", headers={"Authorization": "Basic b3BzOm9wcw=="}),
            401,
            "invalid_credentials",
        )
        assert_problem(
            await client.get("/api/lag", headers=bearer(revoked)), 401, "credential_revoked"
        )


async def test_a_partners_agency_key_does_not_open_ops(endpoints: Endpoints) -> None:
    from schemas.envelope import Agency
    from services.ingress.adapters.postgres import PostgresCredentialStore

    pool = await create_pool(endpoints.database_url, max_size=1)
    try:
        admin = CredentialAdmin(PostgresCredentialStore(pool), clock=lambda: datetime.now(UTC))
        _, partner = await admin.add(Agency.POLICE, "niche")
    finally:
        await pool.close()
    async with ops_app(endpoints) as (_, client):
        response = await client.get("/api/sla", headers=bearer(partner.text))
    assert_problem(response, 401, "invalid_credentials")


def _cookie_attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    attrs = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        attrs[name.lower()] = value
    return attrs


async def test_the_login_form_sets_a_secure_httponly_strict_short_lived_session(
    endpoints: Endpoints, keys: dict[OpsRole, str]
) -> None:
    async with ops_app(endpoints, session_minutes=30) as (_, client):
        form = await client.get("/login?next=/")
        assert form.status_code == 200
        assert 'name="key"' in form.text
        assert keys[MANAGER] not in form.text

        wrong = await client.post("/login", data={"key": keys[MANAGER][:-4] + "AAAA", "next": "/"})
        assert wrong.status_code == 401
        assert "set-cookie" not in wrong.headers

        signed_in = await client.post("/login", data={"key": keys[MANAGER], "next": "/"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/"
        set_cookie = signed_in.headers["set-cookie"]
        assert set_cookie.startswith("frontdoor_ops_session=")
        attrs = _cookie_attributes(set_cookie)
        assert {"secure", "httponly"} <= attrs.keys()
        assert attrs["samesite"].lower() == "strict"
        assert attrs["path"] == "/"
        assert int(attrs["max-age"]) == 30 * 60
        assert keys[MANAGER].split("_")[2] not in set_cookie  # no secret in the cookie

        cookie = {"Cookie": set_cookie.split(";", 1)[0]}
        assert (await client.get("/", headers=cookie)).status_code == 200
        assert (await client.get("/api/sla", headers=cookie)).status_code == 200
        assert_problem(
            await client.get("/api/deadletters", headers=cookie), 403, "role_not_permitted"
        )
        me = (await client.get("/api/me", headers=cookie)).json()
        assert me["role"] == "manager"

        name, _, value = cookie["Cookie"].partition("=")
        tampered = {"Cookie": f"{name}={value.replace('.', '.x', 1)}"}
        assert_problem(await client.get("/api/sla", headers=tampered), 401, "session_expired")
        forged = value.split(".")
        forged[1] = forged[1][::-1]
        assert_problem(
            await client.get("/api/sla", headers={"Cookie": f"{name}={'.'.join(forged)}"}),
            401,
            "session_expired",
        )

        out = await client.post("/logout", headers=cookie)
        assert out.status_code == 303
        assert 'frontdoor_ops_session=""' in out.headers["set-cookie"] or (
            "max-age=0" in out.headers["set-cookie"].lower()
        )


async def test_a_session_expires_and_ends_when_its_key_is_revoked(endpoints: Endpoints) -> None:
    key = await issue_ops_key(endpoints.database_url, ANALYST, "temp")
    async with ops_app(endpoints, session_minutes=1 / 60) as (_, client):  # one second
        signed_in = await client.post("/login", data={"key": key, "next": "/api/sla"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/api/sla"
        cookie = {"Cookie": signed_in.headers["set-cookie"].split(";", 1)[0]}
        assert (await client.get("/api/sla", headers=cookie)).status_code == 200
        await asyncio.sleep(1.6)
        assert_problem(await client.get("/api/sla", headers=cookie), 401, "session_expired")
    async with ops_app(endpoints, session_minutes=30) as (_, client):
        signed_in = await client.post("/login", data={"key": key})
        assert signed_in.headers["location"] == "/api/me"  # an analyst has no dashboard
        cookie = {"Cookie": signed_in.headers["set-cookie"].split(";", 1)[0]}
        assert (await client.get("/api/sla", headers=cookie)).status_code == 200
        await revoke_ops_key(endpoints.database_url, key)
        assert_problem(await client.get("/api/sla", headers=cookie), 401, "credential_revoked")


async def test_login_never_redirects_off_site(
    endpoints: Endpoints, keys: dict[OpsRole, str]
) -> None:
    async with ops_app(endpoints) as (_, client):
        for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            response = await client.post("/login", data={"key": keys[OPS], "next": evil})
            assert response.status_code == 303
            assert response.headers["location"] == "/"


async def test_failed_sign_ins_are_throttled_before_argon2(endpoints: Endpoints) -> None:
    key = await issue_ops_key(endpoints.database_url, OPS, "target")
    wrong = key[:-4] + "AAAA"
    async with ops_app(endpoints, auth_failures_per_credential=3) as (_, client):
        for _ in range(3):
            assert (await client.post("/login", data={"key": wrong})).status_code == 401
        assert (await client.post("/login", data={"key": wrong})).status_code == 429
        throttled = await client.get("/api/lag", headers=bearer(wrong))
        assert_problem(throttled, 429, "authentication_throttled")
        assert int(throttled.headers["retry-after"]) >= 1


async def test_metrics_need_the_scrape_token_or_an_ops_key(
    endpoints: Endpoints, keys: dict[OpsRole, str]
) -> None:
    async with ops_app(endpoints, metrics_token=SCRAPE_TOKEN) as (_, client):
        assert_problem(await client.get("/metrics"), 401, "missing_credentials")
        assert_problem(
            await client.get("/metrics", headers=bearer("scrape-" + "x" * 24)),
            401,
            "invalid_credentials",
        )
        scraped = await client.get("/metrics", headers=bearer(SCRAPE_TOKEN))
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        assert "frontdoor_event_to_view_latency_seconds" in scraped.text
        assert (await client.get("/metrics", headers=bearer(keys[OPS]))).status_code == 200
        assert_problem(
            await client.get("/metrics", headers=bearer(keys[ANALYST])), 403, "role_not_permitted"
        )
        # the scrape token opens /metrics only
        assert_problem(
            await client.get("/api/lag", headers=bearer(SCRAPE_TOKEN)), 401, "invalid_credentials"
        )
    async with ops_app(endpoints) as (_, client):  # no token configured: an ops key only
        assert_problem(
            await client.get("/metrics", headers=bearer(SCRAPE_TOKEN)), 401, "invalid_credentials"
        )


async def test_metrics_are_open_only_when_explicitly_configured(endpoints: Endpoints) -> None:
    async with ops_app(endpoints, metrics_open=True) as (_, client):
        assert (await client.get("/metrics")).status_code == 200
        assert_problem(await client.get("/api/lag"), 401, "missing_credentials")


async def test_the_docs_load_nothing_from_the_internet(
    endpoints: Endpoints, keys: dict[OpsRole, str]
) -> None:
    """Issue 14: Swagger UI and ReDoc with their bundles served by ops itself (no CDN)."""
    async with ops_app(endpoints, root_path="/ops") as (_, client):
        for page in ("/docs", "/redoc"):
            response = await client.get(page, headers=bearer(keys[ANALYST]))
            assert response.status_code == 200, page
            assert response.headers["content-security-policy"].startswith("default-src 'self'")
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
            assert assets, page
            for asset in assets:
                assert asset.startswith("/ops/docs/assets/"), (page, asset)  # root path kept
                # as uvicorn behind the proxy passes it: the path with the root path in front
                served = await client.get(asset, headers=bearer(keys[OOH]))
                assert served.status_code == 200, asset
                assert len(served.content) > 1000
            assert "/ops/openapi.json" in response.text
            assert not re.search(r"https?://(?!ops\.test)", response.text.split("<body", 1)[-1])
        assert_problem(await client.get("/docs/assets/swagger-ui.css"), 401, "missing_credentials")
