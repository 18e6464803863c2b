"""The ops dashboard in a real headless browser against the running embedded stack.

Debian's chromium (installed by ``scripts/install-browser.sh``) is driven with playwright's Python
package; playwright never downloads a browser here. The intake, SLA and ops workers run as
processes; a replay of simulated partner traffic must show on the page without a reload — more
partner events, the intake group's committed offsets moving by exactly the number published, and
the SLA board's figures changing — and a screenshot is saved to ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.cli.replay import publish_lines, read_lines
from services.common.embedded import free_port
from services.common.settings import Endpoints
from services.simulate.cli import write_feed
from tests.conftest import ROOT, Workers, wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"


def require_browser() -> None:
    missing = not Path(CHROMIUM).exists() or shutil.which("chromium") is None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        message = "chromium or playwright missing: run scripts/install-browser.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


FIGURES_JS = """() => {
  const num = (el) => el ? Number(el.textContent.replace(/[^0-9-]/g, '') || 0) : 0;
  const q = (sel) => document.querySelector(sel);
  const committed = [...document.querySelectorAll(
      'tr.part[data-group="frontdoor-intake"] td[data-field="committed"]')];
  return {
    refreshed: Number(document.body.dataset.refreshed || 0),
    partnerLogEnd: num(q('#throughput-table tr[data-topic="partner.events"] td[data-field="log-end"]')),
    intakeShown: !!q('tr.group[data-group="frontdoor-intake"]'),
    intakeOpen: !!q('tr.group[data-group="frontdoor-intake"]:not(.collapsed)'),
    intakeCommitted: committed.reduce((sum, td) => sum + num(td), 0),
    intakePartitions: committed.length,
    slaOpen: num(q('#sla-total td[data-field="open"]')),
    slaOverdue: num(q('#sla-total td[data-field="overdue"]')),
    slaDueToday: num(q('#sla-total td[data-field="due-today"]')),
    slaShown: !!q('#sla-total'),
  };
}"""


async def test_dashboard_shows_lag_and_sla_figures_change_after_a_replay(
    endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    require_browser()
    from playwright.async_api import async_playwright

    port = free_port()
    workers.start("intake")
    workers.start("sla")
    workers.start("ops", FRONTDOOR_OPS_PORT=str(port), FRONTDOOR_OPS_POLL_INTERVAL_SECONDS="1")
    url = f"http://127.0.0.1:{port}"

    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(healthy, timeout=90, interval=0.5)

    feed = tmp_path / "feed.jsonl"
    count = write_feed(
        feed,
        days=4,
        seed=29,
        start=datetime.now(ZoneInfo("Europe/London")).date() - timedelta(days=4),
    )
    lines = read_lines(feed)
    assert count == len(lines) > 100

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1100})
            await page.goto(url)
            await page.wait_for_function(
                "document.body.dataset.refreshed && document.querySelector('#sla-total')"
            )
            await page.evaluate("window.__sameDocument = true")
            before: dict[str, Any] = await page.evaluate(FIGURES_JS)
            if before["intakeShown"] and not before["intakeOpen"]:
                await page.click('tr.group[data-group="frontdoor-intake"]')
            before = await page.evaluate(FIGURES_JS)

            sent = await publish_lines(endpoints.bootstrap_servers, lines)
            assert sent == len(lines)

            async def shows_the_replay() -> dict[str, Any] | None:
                if not await page.evaluate(
                    "!!document.querySelector('tr.group[data-group=\"frontdoor-intake\"]:not(.collapsed)')"
                ):
                    group_row = page.locator('tr.group[data-group="frontdoor-intake"]')
                    if await group_row.count():
                        await group_row.click()
                now: dict[str, Any] = await page.evaluate(FIGURES_JS)
                moved = (
                    now["partnerLogEnd"] == before["partnerLogEnd"] + sent
                    and now["intakeCommitted"] == before["intakeCommitted"] + sent
                    and now["intakePartitions"] == 8
                    and (now["slaOpen"], now["slaOverdue"], now["slaDueToday"])
                    != (before["slaOpen"], before["slaOverdue"], before["slaDueToday"])
                )
                return now if moved else None

            after = await wait_until(shows_the_replay, timeout=180, interval=1.0)
            assert isinstance(after, dict)
            assert after["refreshed"] > before["refreshed"]
            assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
            lag_cells = await page.locator(
                'tr.part[data-group="frontdoor-intake"] td[data-field="lag"]'
            ).all_inner_texts()
            assert lag_cells == ["0"] * 8  # intake caught up with everything published
            status = await page.locator(
                'tr.group[data-group="frontdoor-intake"] td[data-field="status"]'
            ).inner_text()
            assert status.strip() == "OK"  # every partition at lag 0: Burrow's first rule
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            await browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
