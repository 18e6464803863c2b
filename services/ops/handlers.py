"""The ops service's use cases: poll consumer lag, keep the boards (SLA, dead letters, lane
refusals, workforce) fresh.

`LagPoller.poll_once` reads one `Observation` through an `ObservationSource` port (the broker in
production) and folds it into the pure `LagBoard`; its newest `LagReport` is what the dashboard,
``/metrics`` and ``frontdoor lag`` show. `BoardRefresher.refresh_once` reads the SLA rows, SLA
totals, dead letters, lane refusals and the workforce's read model through a `BoardStore` port,
assembles the boards with the pure domain, and settles the event-to-view latency ledger
(publishes seen on ``partner.events`` matched with ``events.recorded_at``), handing each latency
to ``on_latency`` (the Prometheus histogram in production, a list in tests). Each `run`
repeats its step every ``interval`` seconds and keeps the last error instead of dying; the web
page and ``/metrics`` read the newest results, so however many people watch, the broker and the
database are asked once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from services.common.calendar import WorkingCalendar
from services.ops.domain.boards import (
    DeadLetter,
    DeadLetterPanel,
    ReasonCount,
    SlaBoard,
    SlaRow,
    SlaTotals,
    deadletter_panel,
    sla_board,
)
from services.ops.domain.lag import LagBoard, LagReport, Observation, observe
from services.ops.domain.lanes import AgencyRefusals, LaneRefusal, LaneRefusalPanel, lane_panel
from services.ops.domain.latency import PublishLedger
from services.ops.domain.workforce import WorkforceBoard, workforce_board

log = structlog.get_logger(__name__)

MATCH_BATCH = 20_000


class SourceUnavailableError(RuntimeError):
    """The broker could not be read this time (down, restarting); the poll is retried."""


class ObservationSource(Protocol):
    async def observe(self) -> Observation: ...


class LagPoller:
    """Polls a `KafkaLagSource` every ``interval`` seconds; ``report`` is the newest result."""

    def __init__(self, source: ObservationSource, *, board: LagBoard, interval: float) -> None:
        self._source = source
        self._board = board
        self.interval = interval
        self.report: LagReport | None = None
        self.polled_at: datetime | None = None
        self.last_error: str | None = None

    @property
    def window_size(self) -> int:
        return self._board.window_size

    async def poll_once(self) -> LagReport:
        observation = await self._source.observe()
        self._board, report = observe(self._board, observation)
        self.report, self.polled_at, self.last_error = report, observation.at, None
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; an error is logged, kept in ``last_error`` and retried."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                await self.poll_once()
            except (SourceUnavailableError, OSError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("lag_poll_failed", error=type(exc).__name__)
            delay = max(0.0, self.interval - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


class StoreUnavailableError(RuntimeError):
    """The store could not answer (database down, connection lost); the refresh is retried."""


class BoardStore(Protocol):
    async def sla_rows(self) -> list[SlaRow]: ...
    async def sla_totals(self) -> SlaTotals: ...
    async def deadletter_counts(self) -> list[ReasonCount]: ...
    async def newest_deadletters(self, limit: int) -> list[DeadLetter]: ...
    async def recorded_at(self, event_ids: Sequence[UUID]) -> dict[UUID, datetime]: ...
    async def lane_refusal_counts(self) -> list[AgencyRefusals]: ...
    async def newest_lane_refusals(self, limit: int) -> list[LaneRefusal]: ...
    async def workforce_facts(self, now: datetime, alerts: int) -> Mapping[str, Any] | None: ...


class Boards(BaseModel):
    model_config = ConfigDict(frozen=True)

    sla: SlaBoard
    sla_totals: SlaTotals
    deadletters: DeadLetterPanel
    lanes: LaneRefusalPanel
    workforce: WorkforceBoard | None
    """``None`` until the workforce service's tables exist, or when it could not be built."""
    workforce_error: str | None = None
    """Why the workforce section could not be built from what the tables hold (the other boards
    still refresh)."""


def _reason(exc: ValueError) -> str:
    """The error's class and where it failed; a validation error's fields and rules, never the
    values (they may name a child)."""
    if isinstance(exc, ValidationError):
        where = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        return f"ValidationError: {where}"
    return f"{type(exc).__name__}: {exc}"


class BoardRefresher:
    def __init__(
        self,
        store: BoardStore,
        *,
        ledger: PublishLedger,
        on_latency: Callable[[float], None],
        clock: Callable[[], datetime],
        calendar: WorkingCalendar,
        newest_deadletters: int = 10,
        newest_refusals: int = 10,
        workforce_alerts: int = 20,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._on_latency = on_latency
        self._clock = clock
        self._calendar = calendar
        self._newest = newest_deadletters
        self._newest_refusals = newest_refusals
        self._workforce_alerts = workforce_alerts
        self.boards: Boards | None = None
        self.refreshed_at: datetime | None = None
        self.last_error: str | None = None

    async def refresh_once(self) -> Boards:
        now = self._clock()
        store = self._store
        boards = Boards(
            sla=sla_board(await store.sla_rows(), at=now),
            sla_totals=await store.sla_totals(),
            deadletters=deadletter_panel(
                await store.deadletter_counts(),
                await store.newest_deadletters(self._newest),
                at=now,
            ),
            lanes=lane_panel(
                await store.lane_refusal_counts(),
                await store.newest_lane_refusals(self._newest_refusals),
                at=now,
            ),
            **await self._workforce(now),
        )
        waiting = self._ledger.waiting(limit=MATCH_BATCH)
        if waiting:
            for seconds in self._ledger.settle(await store.recorded_at(waiting)):
                self._on_latency(seconds)
        self._ledger.expire(now)
        self.boards, self.refreshed_at, self.last_error = boards, now, None
        return boards

    async def _workforce(self, now: datetime) -> dict[str, Any]:
        facts = await self._store.workforce_facts(now, self._workforce_alerts)
        if facts is None:
            return {"workforce": None}
        try:
            return {"workforce": workforce_board(facts, now=now, calendar=self._calendar)}
        except ValueError as exc:  # a value the section cannot show (pydantic, calendar range)
            log.warning("workforce_board_failed", error=type(exc).__name__)
            return {"workforce": None, "workforce_error": _reason(exc)}

    async def run(self, stop: asyncio.Event, *, interval: float) -> None:
        """Refresh until ``stop`` is set; an error is logged, kept in ``last_error``, retried."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                await self.refresh_once()
            except (StoreUnavailableError, OSError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("boards_refresh_failed", error=type(exc).__name__)
            delay = max(0.0, interval - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
