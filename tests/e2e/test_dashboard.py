"""The ops dashboard in a real headless browser against the running embedded stack.

Debian's chromium (installed by ``scripts/install-browser.sh``) is driven with playwright's Python
package; playwright never downloads a browser here. The intake, SLA and ops workers run as
processes; a replay of simulated partner traffic must show on the page without a reload — more
partner events, the intake group's committed offsets on partner.events moving by exactly the
number published (once intake has read what earlier tests left there), and the SLA board's
figures changing — and a screenshot is saved to ``test-artifacts/dashboard.png``.
The page is behind the ops login: the browser is sent to the login form, signs in with an ops key
(the session cookie is Secure, HttpOnly, SameSite=Strict) and lands on the dashboard; a manager's
session sees the SLA board and is told the lag panel needs the ops role.

The workforce worker runs too, so the simulated borough's directory, allocations and supervision
fill the workforce section: it renders the rows ``/api/workforce`` gives (teams, workers, NQSWs,
children waiting, alerts), and a manager's page leads with it and does not show the lane panel.
At 1280, 1400 and 1920 px no two tables, no two panels and no table and its neighbour overlap,
and the SLA board's tables fit their columns (``test-artifacts/dashboard-<width>.png``). The ops
``/docs`` renders Swagger UI with no request leaving the app (no CDN). Records refused by
intake's real handler for leaving their lane turn the lane panel into a security-incident banner
above everything else, per claimed agency, with the refusals listed and no payload. The history
chart draws, from what the poller kept in PostgreSQL, a lag line for the intake group (and a
throughput line for the topics the replay filled) with time labels on its axis and the current
value in its legend, as inline SVG with nothing loaded from elsewhere
(``test-artifacts/dashboard-history.png``); a manager is told it needs the ops role.

The dead-letter console: a poisoned record kept by the real dead-letter worker is opened from its
row (reason, origin, headers, value with the child's name and date of birth masked; the panel
fits the window at 1280 and 1920 px) and replayed from the page — the confirmation names one
letter, and after it exactly that record is back on its original topic.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from schemas.roles import load_role_table
from schemas.topics import DEADLETTER
from services.cli.replay import publish_lines, read_lines
from services.common.embedded import free_port
from services.common.kafka import ensure_topics
from services.common.settings import Endpoints
from services.ops.adapters.kafka_lag import KafkaLagSource
from services.ops.domain.access import OpsRole
from services.simulate.cli import write_feed
from tests.conftest import ROOT, Workers, read_topic, wait_until
from tests.integration.test_deadletter import letter_id, produce, stored
from tests.integration.test_ops_auth import issue_ops_key
from tests.integration.test_ops_deadletter_console import SECRETS, poisoned_letter
from tests.integration.test_ops_workforce import refuse_through_intake
from tests.lanes import matrix

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
PARTNER = "partner.events"
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
      'tr.part[data-group="frontdoor-intake"][data-topic="partner.events"] td[data-field="committed"]')];
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


OVERLAPS_JS = """() => {
  // what the eye sees of an element: its box cut by every ancestor that clips (overflow)
  const seen = (el) => {
    const r = el.getBoundingClientRect();
    let box = { l: r.left, t: r.top, r: r.right, b: r.bottom };
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX === "visible" && style.overflowY === "visible") continue;
      const c = a.getBoundingClientRect();
      box = { l: Math.max(box.l, c.left), t: Math.max(box.t, c.top),
              r: Math.min(box.r, c.right), b: Math.min(box.b, c.bottom) };
    }
    return box;
  };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const meet = (a, b) => a.l < b.r - 1 && b.l < a.r - 1 && a.t < b.b - 1 && b.t < a.b - 1;
  const name = (el) => el.id || el.className || el.tagName;
  const found = [], cut = [], scrolling = [];
  const check = (els) => {
    els = els.filter(visible);
    for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++)
      if (meet(seen(els[i]), seen(els[j]))) found.push(name(els[i]) + " overlaps " + name(els[j]));
  };
  check([...document.querySelectorAll("main > section, main > .side > section, main > .kpis")]);
  check([...document.querySelectorAll("main table")]);
  for (const t of document.querySelectorAll("main table")) {
    if (!visible(t)) continue;
    const box = t.parentElement, style = getComputedStyle(box);
    const wider = t.getBoundingClientRect().width > box.clientWidth + 1;
    if (wider && style.overflowX === "auto") scrolling.push(name(t));
    else if (seen(t).r < t.getBoundingClientRect().right - 1) cut.push(name(t));
  }
  // a cell whose text runs out of it (into its neighbour's)
  const spilling = [...document.querySelectorAll("main th, main td")].filter(visible)
    .filter((c) => c.scrollWidth > c.clientWidth + 1)
    .map((c) => name(c.closest("table")) + ": " + c.textContent.trim().slice(0, 40));
  return { overlaps: found, cut, scrolling, spilling, width: innerWidth,
           pageWider: document.documentElement.scrollWidth > innerWidth + 1,
           tables: [...document.querySelectorAll("main table")].filter(visible).map(
             (t) => [name(t), Math.round(t.getBoundingClientRect().width), t.parentElement.clientWidth]) };
}"""

HISTORY_JS = """() => {
  const fig = (id) => document.getElementById(id);
  const items = (id) => [...document.querySelectorAll('#' + id + ' .item')].map(
    (e) => [e.dataset.series, e.querySelector('b').textContent]);
  return {
    lagSeries: Number(fig('hist-lag').dataset.series),
    rateSeries: Number(fig('hist-rate').dataset.series),
    plotted: document.querySelectorAll('#hist-lag-plot svg polyline.series, #hist-lag-plot svg circle.now').length,
    lagLegend: items('hist-lag-legend'),
    rateLegend: items('hist-rate-legend'),
    ticks: [...document.querySelectorAll('#hist-lag-plot svg text.tick')].map((t) => t.textContent),
    external: document.querySelectorAll('#history [href], #history img, #history image, #history use').length,
  };
}"""


WORKFORCE_JS = """() => {
  const rows = (id) => document.querySelectorAll('#' + id + ' tbody tr:not(:has(td.empty))').length;
  return {
    ready: document.getElementById('workforce').dataset.ready,
    teams: rows('wf-caseload-team'), workers: rows('wf-caseload-worker'), nqsw: rows('wf-nqsw'),
    unallocated: rows('wf-unallocated'), alerts: rows('wf-alerts'), attention: rows('wf-attention'),
    supervisors: rows('wf-supervision-supervisor'),
    lanesTotal: document.getElementById('lanes').dataset.total,
  };
}"""


async def sign_in(page: Any, url: str, key: str) -> None:
    """Open the dashboard, be shown the login form, sign in, land on the dashboard."""
    response = await page.goto(url)
    assert response is not None
    assert response.status == 401
    assert await page.locator("#login").count() == 1
    await page.fill("#key", key)
    await page.click("#sign-in")
    await page.wait_for_url(f"{url}/")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["frontdoor_ops_session"]
    assert (session["secure"], session["httpOnly"], session["sameSite"]) == (True, True, "Strict")


async def test_dashboard_shows_lag_and_sla_figures_change_after_a_replay(
    endpoints: Endpoints, workers: Workers, tmp_path: Path
) -> None:
    require_browser()
    from playwright.async_api import async_playwright

    port = free_port()
    workers.start("intake")
    workers.start("sla")
    workers.start("workforce")
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
    ops_key = await issue_ops_key(endpoints.database_url, OpsRole.OPS, "e2e dashboard")
    manager_key = await issue_ops_key(endpoints.database_url, OpsRole.MANAGER, "e2e dashboard")

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1100})
            # a full-page screenshot of this long page took more than Playwright's default 30 s
            # under the whole suite's load in one CI run; the waits that matter have their own
            page.set_default_timeout(120_000)
            await sign_in(page, url, ops_key)
            await page.wait_for_function(
                "document.body.dataset.refreshed && document.querySelector('#sla-total')"
            )
            await page.evaluate("window.__sameDocument = true")

            async def intake_caught_up() -> bool:
                """Intake has read what earlier tests left on partner.events (their records
                would otherwise count as this replay's)."""
                lag = await (await page.request.get(f"{url}/api/lag")).json()
                ends = sum(p["log_end"] for p in lag["partitions"] if p["topic"] == PARTNER)
                group = next((g for g in lag["groups"] if g["group"] == "frontdoor-intake"), None)
                mine = [p for p in group["partitions"] if p["topic"] == PARTNER] if group else []
                return sum(max(p["committed"], 0) for p in mine) == ends and all(
                    p["lag"] <= 0 for p in (group["partitions"] if group else [])
                )

            await wait_until(intake_caught_up, timeout=60, interval=0.5)
            polled = await page.evaluate("Number(document.body.dataset.refreshed)")
            await page.wait_for_function(f"Number(document.body.dataset.refreshed) > {polled}")
            before: dict[str, Any] = await page.evaluate(FIGURES_JS)
            if before["intakeShown"] and not before["intakeOpen"]:
                # a group caught up by earlier tests shows collapsed: open it and wait for its
                # partitions, or the committed offsets before the replay would read as 0
                await page.click('tr.group[data-group="frontdoor-intake"]')
                await page.wait_for_function(
                    "!!document.querySelector('tr.part[data-group=\"frontdoor-intake\"]')"
                )
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
                'tr.part[data-group="frontdoor-intake"][data-topic="partner.events"] '
                'td[data-field="lag"]'
            ).all_inner_texts()
            assert lag_cells == ["0"] * 8  # intake caught up with everything published
            status = await page.locator(
                'tr.group[data-group="frontdoor-intake"] td[data-field="status"]'
            ).inner_text()
            assert status.strip() == "OK"  # every partition at lag 0: Burrow's first rule
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            async def workforce_shown() -> dict[str, Any] | None:
                api = await (await page.request.get(f"{url}/api/workforce")).json()
                shown: dict[str, Any] = await page.evaluate(WORKFORCE_JS)
                board = api["board"]
                if not board or shown["ready"] != "yes" or len(board["caseload_by_worker"]) <= 10:
                    return None  # not yet the simulated borough's workforce (earlier tests' teams)
                want = {
                    "teams": len(board["caseload_by_team"]),
                    "workers": len(board["caseload_by_worker"]),
                    "nqsw": len(board["nqsw"]),
                    "unallocated": len(board["unallocated"]),
                    "alerts": len(board["alerts"]),
                    "attention": len(board["attention"]),
                    "supervisors": len(board["supervision_by_supervisor"]),
                }
                got = {k: shown[k] for k in want}
                return {"board": board, "shown": shown} if got == want else None

            seen = await wait_until(workforce_shown, timeout=90, interval=1.0)
            assert isinstance(seen, dict)
            assert seen["shown"]["teams"] >= 5
            lanes = (await (await page.request.get(f"{url}/api/lanes")).json())["panel"]
            assert seen["shown"]["lanesTotal"] == str(lanes["total"])
            assert await page.locator("section.lanes.incident").count() == (
                1 if lanes["total"] else 0
            )

            # records outside their lane, refused by intake's real handler: a security incident
            forbidden = [c for c in matrix(load_role_table()) if not c.allowed][:3]
            await refuse_through_intake(endpoints.database_url, forbidden)
            await page.wait_for_function(
                f"Number(document.getElementById('lanes').dataset.total) === "
                f"{lanes['total'] + len(forbidden)}"
            )
            banner = page.locator("section.lanes.incident")
            assert await banner.count() == 1
            assert (await page.locator("#lanes-title").inner_text()).startswith("Security incident")
            for agency in {c.event["source"]["agency"] for c in forbidden}:
                assert await banner.locator(f'.chip[data-agency="{agency}"]').count() == 1
            shown_types = await banner.locator('td[data-field="event-type"]').all_inner_texts()
            assert {c.event_type for c in forbidden} <= set(shown_types)
            text = await banner.inner_text()
            assert not any(c.event["subject"]["child_id"] in text for c in forbidden)  # no payload
            box = await banner.bounding_box()
            kpis = await page.locator("section.kpis").bounding_box()
            assert box is not None
            assert kpis is not None
            assert box["y"] < kpis["y"]  # above everything else
            await banner.screenshot(path=str(ARTIFACTS / "dashboard-lanes-incident.png"))

            # the history chart, from the samples the poller kept in PostgreSQL since it started
            async def history_drawn() -> dict[str, Any] | None:
                shown: dict[str, Any] = await page.evaluate(HISTORY_JS)
                groups = {name for name, _ in shown["lagLegend"]}
                ready = shown["lagSeries"] >= 1 and shown["rateSeries"] >= 1
                return shown if ready and "frontdoor-intake" in groups else None

            chart = await wait_until(history_drawn, timeout=60, interval=1.0)
            assert isinstance(chart, dict)
            assert chart["plotted"] >= 1  # a line (or, with one bucket so far, its newest point)
            assert any(re.fullmatch(r"\d\d:\d\d", t) for t in chart["ticks"]), chart["ticks"]
            intake_now = dict(chart["lagLegend"])["frontdoor-intake"]
            assert intake_now == "0" or intake_now.replace(",", "").isdigit(), intake_now
            assert chart["rateLegend"], chart  # the replay's topics have a throughput line
            assert chart["external"] == 0  # drawn by the page itself: no asset from anywhere
            api = await (await page.request.get(f"{url}/api/history?hours=1")).json()
            assert "frontdoor-intake" in {g["group"] for g in api["groups"]}
            await page.locator("#history").screenshot(path=str(ARTIFACTS / "dashboard-history.png"))

            for width in (1280, 1400, 1920):
                await page.set_viewport_size({"width": width, "height": 1100})
                await page.wait_for_timeout(300)
                layout: dict[str, Any] = await page.evaluate(OVERLAPS_JS)
                await page.screenshot(
                    path=str(ARTIFACTS / f"dashboard-{width}.png"), full_page=True
                )
                await page.locator("#workforce").screenshot(
                    path=str(ARTIFACTS / f"dashboard-workforce-{width}.png")
                )
                assert layout["overlaps"] == [], (width, layout)
                assert layout["cut"] == [], (width, layout)  # no column cut off unseen
                assert layout["spilling"] == [], (width, layout)  # no text over a neighbour
                assert not layout["pageWider"], (width, layout)
                assert layout["scrolling"] == [], (width, layout)  # every table fits its column

            # the API reference renders from ops' own assets: not one request leaves the app
            outside: list[str] = []
            page.on(
                "request",
                lambda r: None if r.url.startswith(url) else outside.append(r.url),
            )
            await page.goto(f"{url}/docs")
            await page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "frontdoor ops" in await page.locator(".swagger-ui .info .title").inner_text()
            assert await page.locator(".opblock-summary-path").count() >= 5  # the routes listed
            assert outside == []

            manager = await browser.new_page(viewport={"width": 1600, "height": 1100})
            await sign_in(manager, url, manager_key)
            await manager.wait_for_function(
                "document.body.dataset.refreshed && document.querySelector('#sla-total')"
            )
            assert await manager.locator("section.panel.lag.forbidden").count() == 1
            await manager.wait_for_selector("section.panel.history.forbidden")  # ops only
            assert await manager.locator("section.panel.sla.forbidden").count() == 0
            await manager.wait_for_function(
                "document.getElementById('workforce').dataset.ready === 'yes'"
                " && document.body.dataset.role === 'manager'"
            )
            assert await manager.locator("section.panel.workforce.forbidden").count() == 0
            assert await manager.locator("#lanes").is_hidden()  # lane refusals: ops only
            tops = await manager.evaluate(
                "['section.workforce', 'section.sla', 'section.lag'].map("
                "(sel) => document.querySelector(sel).getBoundingClientRect().top)"
            )
            assert tops[0] < tops[1] < tops[2], tops  # a manager's page leads with the workforce
            await manager.set_viewport_size({"width": 1400, "height": 1100})
            await manager.wait_for_timeout(300)
            layout = await manager.evaluate(OVERLAPS_JS)
            assert layout["overlaps"] == [], layout
            assert "manager" in await manager.locator("#who").inner_text()
            await manager.click("#sign-out")
            await manager.wait_for_url(f"{url}/login")
            await manager.goto(url)  # the session ended: the login form again
            assert await manager.locator("#login").count() == 1
        finally:
            await browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


async def test_dead_letter_console_opens_a_letter_masked_and_replays_it_after_confirmation(
    endpoints: Endpoints, workers: Workers
) -> None:
    require_browser()
    from playwright.async_api import async_playwright

    topic = f"e2e-console-{os.getpid()}-{free_port()}"
    await ensure_topics(endpoints.bootstrap_servers, [(topic, 1)])
    port = free_port()
    workers.start("deadletter")
    workers.start("ops", FRONTDOOR_OPS_PORT=str(port), FRONTDOOR_OPS_POLL_INTERVAL_SECONDS="1")
    url = f"http://127.0.0.1:{port}"
    # the session broker holds earlier tests' dead letters (the adversarial corpus alone leaves
    # thousands): let the worker keep them all first, or they land after ours and push it out of
    # the panel's newest ten (the CI run waited for a row that was never shown)
    await wait_until(lambda: _deadletters_kept(endpoints), timeout=240, interval=1.0)
    key, value, headers = poisoned_letter(topic)
    await produce(endpoints.bootstrap_servers, [(key, value, headers)])
    [row] = await wait_until(lambda: stored(endpoints.database_url, [letter_id(headers)]))
    ops_key = await issue_ops_key(endpoints.database_url, OpsRole.OPS, "e2e console")

    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(healthy, timeout=90, interval=0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            await sign_in(page, url, ops_key)
            letter_row = page.locator(f'#dlq-newest tr[data-id="{row["id"]}"]')
            await letter_row.wait_for()
            await letter_row.click()
            dialog = page.locator("#dlq-letter")
            await page.wait_for_function(
                f"document.getElementById('dlq-letter').open"
                f" && document.getElementById('dlq-letter').dataset.id === '{row['id']}'"
            )
            shown = await dialog.inner_text()
            for secret in SECRETS:
                assert secret not in shown, secret
            assert "validation" in shown
            assert topic in shown
            assert "•••" in await page.locator("#dlq-letter-value").inner_text()
            assert await page.locator("#dlq-letter-fields tbody tr").count() >= 1
            for width in (1280, 1920):
                await page.set_viewport_size({"width": width, "height": 900})
                await page.wait_for_timeout(200)
                fits = await page.evaluate(
                    """() => {
                      const d = document.getElementById('dlq-letter').getBoundingClientRect();
                      const c = document.querySelector('#dlq-letter .content');
                      return { inside: d.left >= 0 && d.right <= innerWidth,
                               noSideScroll: c.scrollWidth <= c.clientWidth + 1 };
                    }"""
                )
                assert fits == {"inside": True, "noSideScroll": True}, (width, fits)
                await dialog.screenshot(path=str(ARTIFACTS / f"dashboard-deadletter-{width}.png"))

            await page.click("#dlq-letter-replay")
            confirm = page.locator("#dlq-confirm")
            await page.wait_for_function("document.getElementById('dlq-confirm').open")
            assert await confirm.get_attribute("data-count") == "1"
            assert "1 dead letter will be re-sent" in await confirm.inner_text()
            assert await read_topic(endpoints.bootstrap_servers, topic, 1) == []  # not yet
            await page.click("#dlq-confirm-yes")
            result = page.locator("#dlq-replay-result")
            await result.wait_for()
            await page.wait_for_function(
                "document.getElementById('dlq-replay-result').textContent.startsWith('Re-sent')"
            )
            assert (await result.inner_text()).startswith("Re-sent 1 dead letter")
        finally:
            await browser.close()
    records = await read_topic(endpoints.bootstrap_servers, topic, 1)
    assert [(r.key, r.value) for r in records] == [(key, value)]


async def _deadletters_kept(endpoints: Endpoints) -> bool:
    """Whether the dead-letter worker has committed every record on the dead-letter topic."""
    source = KafkaLagSource(endpoints.bootstrap_servers, clock=lambda: datetime.now(UTC))
    await source.start()
    try:
        seen = await source.observe()
    finally:
        await source.stop()
    committed = next((g.committed for g in seen.groups if g.group == "frontdoor-deadletter"), {})
    return all(
        committed.get(tp, -1) >= end
        for tp, end in seen.log_ends.items()
        if tp[0] == DEADLETTER.name and end > seen.log_starts.get(tp, 0)
    )
