"""What a partner integrator meets on the real partner API: served docs that load nothing from the
internet, a page behind every problem ``type``, and examples that the API itself accepts.

The app is the production one: ``frontdoor worker ingress``'s code in a uvicorn process on the
session's embedded broker and PostgreSQL (``uvicorn_ingress``), fetched over real HTTP; the
examples are submitted through the production app's ASGI interface with real keys (``serving``).
Debian's chromium renders /docs and /redoc with every request outside the API refused and recorded
(screenshots in ``test-artifacts/``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from schemas.envelope import Agency
from schemas.events import INBOUND_MODELS
from schemas.examples import example, fresh_ids
from schemas.registry import event_key
from services.common.apidocs import CONTENT_SECURITY_POLICY, REDOC_BRANDING, mount_api_docs
from services.common.settings import Endpoints
from services.ingress.domain.codes import Code
from tests.conftest import ROOT
from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.integration.test_ingress import new_key, serving, uvicorn_ingress

pytestmark = pytest.mark.integration

ARTIFACTS = ROOT / "test-artifacts"
ATTRIBUTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
CSP_BLOCKED = re.compile(
    r"Loading the \w+ '([^']+)' violates the following Content Security Policy"
)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)""", re.IGNORECASE)
ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)


@pytest.fixture(scope="module")
def api(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("ingress-docs") / "ingress.log"
    with uvicorn_ingress(endpoints, log) as url:
        yield url


def _same_origin(base: str, reference: str) -> bool:
    target = urlsplit(urljoin(base, reference))
    return (target.scheme, target.netloc) == tuple(urlsplit(base)[:2])


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_assets_served_by_the_api_itself(api: str, path: str) -> None:
    with httpx.Client(base_url=api, timeout=10) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert ABSOLUTE.findall(page.text) == [], "the page names an outside address"
        assets = ATTRIBUTE_URL.findall(page.text)
        assert any(a.endswith(".js") for a in assets)
        for asset in assets:
            assert _same_origin(api + path, asset), asset
            answer = client.get(urljoin(api + path, asset))
            assert answer.status_code == 200, asset
            assert len(answer.content) > 100, asset
            if asset.endswith(".css"):
                outside = [u for u in CSS_URL.findall(answer.text) if ABSOLUTE.match(u)]
                assert outside == [], f"{asset} loads {outside}"
                assert "@import" not in answer.text
        document = client.get("/openapi.json")
        assert document.status_code == 200
        assert f"'{'/openapi.json'}'" in page.text or '"/openapi.json"' in page.text
        refs = re.findall(r'"\$ref":\s*"([^"]+)"', document.text)
        assert refs
        assert all(r.startswith("#/") for r in refs)


async def test_any_fastapi_app_behind_a_path_prefix_gets_docs_whose_assets_resolve() -> None:
    """The reusable part (``mount_api_docs``) on a bare app served under a proxy's root path."""
    app = FastAPI(title="another service", docs_url=None, redoc_url=None)
    mount_api_docs(app)
    transport = httpx.ASGITransport(app=app, root_path="/svc")
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.local") as client:
        for path in ("/docs", "/redoc"):
            page = await client.get(f"/svc{path}")
            assert page.status_code == 200
            assets = ATTRIBUTE_URL.findall(page.text)
            assert assets
            assert all(a.startswith("/svc/docs/assets/") for a in assets), assets
            assert "/svc/openapi.json" in page.text
            for asset in assets:
                assert (await client.get(asset)).status_code == 200


def test_a_missing_asset_is_a_problem_document_not_a_traceback(api: str) -> None:
    answer = httpx.get(f"{api}/docs/assets/nothing-here.js", timeout=10)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "not_found"


def test_every_problem_type_uri_answers_with_a_page_saying_what_to_do(api: str) -> None:
    with httpx.Client(timeout=10) as client:
        # a real refusal, its type resolved against the request's URI (RFC 9457 §3.1.1)
        refused = client.post(f"{api}/v1/events", json=example("contact.received", 2))
        assert refused.status_code == 401
        problem = refused.json()
        assert problem["type"] == "/problems/missing_credentials"
        page = client.get(urljoin(str(refused.request.url), problem["type"]))
        assert page.status_code == 200
        assert "No API key was presented" in page.text
        for code in Code:
            answer = client.get(urljoin(api, code.type_uri))
            assert answer.status_code == 200, code
            assert answer.headers["content-type"].startswith("text/html")
            text = answer.text
            assert f"<title>{code.value}: {html.escape(code.problem_title)}</title>" in text
            assert "What it means" in text
            assert "What to do" in text
            assert html.escape(code.advice.split("`")[0]) in text
            assert ABSOLUTE.findall(text) == []
        index = client.get(f"{api}/problems")
        assert index.status_code == 200
        assert all(f'href="{c.type_uri}"' in index.text for c in Code)
        unknown = client.get(f"{api}/problems/no_such_code")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"


def test_the_served_openapi_document_has_an_example_of_every_inbound_type(api: str) -> None:
    document = httpx.get(f"{api}/openapi.json", timeout=10).json()
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    for model in INBOUND_MODELS:
        event_type, version = event_key(model)
        assert body["examples"][f"{event_type}.v{version}"]["value"] == example(event_type, version)
    described = [s for s in document["components"]["schemas"].values() if "examples" in s]
    assert len(described) == len(INBOUND_MODELS)


async def test_the_api_accepts_every_published_example(endpoints: Endpoints) -> None:
    """The examples are real events: each is accepted (202) from a key of its own agency."""
    async with serving(endpoints) as (client, admin):
        keys: dict[str, dict[str, str]] = {}
        for model in INBOUND_MODELS:
            event_type, version = event_key(model)
            event = example(event_type, version, ids=fresh_ids)
            agency = event["source"]["agency"]
            if agency not in keys:
                keys[agency] = (await new_key(admin, Agency(agency)))[1]
            answer = await client.post("/v1/events", json=event, headers=keys[agency])
            assert answer.status_code == 202, (event_type, answer.json())
            status = await client.get(f"/v1/events/{event['event_id']}", headers=keys[agency])
            assert status.status_code == 200
            assert status.json()["status"] in {"accepted", "recorded"}


async def _render(url: str, ready: str, shot: Path) -> tuple[str, list[str], list[str]]:
    """The page's text once ``ready`` is visible, the requests that left for another origin
    (refused here), and the console errors but for loads the page's own policy blocked (a
    blocked load never reaches the network; ``_blocked`` lists them)."""
    from playwright.async_api import async_playwright

    origin = tuple(urlsplit(url)[:2])
    outside: list[str] = []
    errors: list[str] = []

    async def only_the_api(route: Any) -> None:
        request_url = route.request.url
        if tuple(urlsplit(request_url)[:2]) == origin:
            await route.continue_()
        else:
            outside.append(request_url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.route("**/*", only_the_api)
            await page.goto(url)
            await page.wait_for_selector(ready, timeout=30_000)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(shot), full_page=False)
            text = await page.inner_text("body")
        finally:
            await browser.close()
    return text, outside, errors


async def test_swagger_ui_renders_the_operations_offline(api: str) -> None:
    require_browser()
    text, outside, errors = await _render(
        f"{api}/docs", ".opblock-summary-path", ARTIFACTS / "ingress-docs.png"
    )
    assert outside == []
    assert errors == []
    for operation in ("/v1/events", "/v1/events/{event_id}", "/healthz"):
        assert operation in text
    assert "Submit one event or a batch of events" in text
    assert "What became of one of your events" in text


async def test_redoc_renders_the_operations_offline(api: str) -> None:
    require_browser()
    text, outside, errors = await _render(
        f"{api}/redoc", "[data-section-id]", ARTIFACTS / "ingress-redoc.png"
    )
    assert outside == []
    assert _blocked(errors) == [REDOC_BRANDING]  # its sidebar logo: refused by the policy
    assert "API docs by Redocly" not in text  # and its link to the maker's site hidden
    assert [e for e in errors if not CSP_BLOCKED.match(e)] == []
    assert "Submit one event or a batch of events" in text
    assert "What became of one of your events" in text


def _blocked(errors: list[str]) -> list[str]:
    return sorted({m.group(1) for e in errors if (m := CSP_BLOCKED.match(e))})
