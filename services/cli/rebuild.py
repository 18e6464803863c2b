"""``frontdoor rebuild [--view NAME]``: every materialised view recomputed from ``events``.

Invariant: the views are replaced in one commit by what the services' own subscriptions make of
the accepted history, or not at all (``services/common/rebuild.py`` says how).

``CHAIN`` is the data flow of DESIGN.md in topological order: screening's records
(``screening.triaged``, ``crisis.raised``) feed conferences, out-of-hours and SLA; conferences'
records feed SLA; out-of-hours' ``crisis.raised`` feeds its own record and SLA. Workforce reads
only intake's output (``frontdoor.workforce`` and four casework types) and no rebuilt service
reads its alerts: it comes last and ``reads`` nothing, so rebuilding it runs it alone and
rebuilding another never runs it. Its clocks are its own ``workforce_clocks`` (the SLA board reads
them beside ``sla_timers``), so the sla and workforce rebuilds replace disjoint tables. Views are
named by their service. Intake is not re-run: ``events`` is its output and the rebuild's input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from services.common.rebuild import Apart, Rebuildable, Report, rebuild
from services.common.settings import Endpoints

NAMES = ("screening", "conferences", "outofhours", "sla", "workforce")


class UnknownViewError(ValueError):
    """``--view`` named no service with views."""


def chain() -> list[Rebuildable]:
    # the rebuild reads the full history from ``events`` itself: screening need not wait for
    # intake's horizon
    os.environ.setdefault("FRONTDOOR_SCREENING_HISTORY_WAIT_SECONDS", "0")
    from services.conferences import bootstrap as conferences
    from services.outofhours import bootstrap as outofhours
    from services.screening import bootstrap as screening
    from services.sla import bootstrap as sla
    from services.workforce import bootstrap as workforce

    return [
        Rebuildable("screening", screening.service(), screening.VIEWS),
        Rebuildable("conferences", conferences.service(), conferences.VIEWS),
        Rebuildable("outofhours", outofhours.service(), outofhours.VIEWS),
        Rebuildable("sla", sla.service(), sla.VIEWS),
        Rebuildable("workforce", workforce.service(), workforce.VIEWS, reads=()),
    ]


def processing_time_columns() -> dict[str, tuple[str, ...]]:
    """Every view table with its processing-time columns (the services' declarations), the one
    list a comparison of views may leave out."""
    out: dict[str, tuple[str, ...]] = {}
    for r in chain():
        for table in r.views.tables:
            out[table] = r.views.processing_time.get(table, ())
    return out


def targets(view: str | None) -> list[str]:
    if view is None:
        return list(NAMES)
    if view not in NAMES:
        raise UnknownViewError(f"unknown view {view!r}; known views: {', '.join(NAMES)}")
    return [view]


async def run(
    endpoints: Endpoints,
    names: Sequence[str],
    *,
    on_total: Callable[[int], None] = lambda _n: None,
    on_progress: Callable[[int], None] = lambda _n: None,
    jobs: int | None = None,
) -> Report:
    import asyncpg

    from services.common.retention import Retention
    from services.intake.domain.routing import route

    conn: Any = await asyncpg.connect(endpoints.database_url)
    reader: Any = await asyncpg.connect(endpoints.database_url)
    try:
        return await rebuild(
            conn,
            reader,
            chain(),
            names,
            route=route,
            ledger_days=Retention.from_env().processed_days,
            on_total=on_total,
            on_progress=on_progress,
            # a lane (process) per service unless told otherwise
            apart=Apart(endpoints.database_url, chain, jobs=jobs),
        )
    finally:
        await reader.close()
        await conn.close()
