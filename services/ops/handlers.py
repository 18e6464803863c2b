"""The ops service's use cases: poll consumer lag, keep the SLA and dead-letter boards fresh.

`LagPoller.poll_once` reads one `Observation` through an `ObservationSource` port (the broker in
production) and folds it into the pure `LagBoard`; its newest `LagReport` is what the dashboard,
``/metrics`` and ``frontdoor lag`` show. `BoardRefresher.refresh_once` reads the SLA rows, SLA
totals and dead letters through a `BoardStore` port, assembles the boards with the pure domain,
and settles the event-to-view latency ledger (publishes seen on ``partner.events`` matched with
``events.recorded_at``), handing each latency to ``on_latency`` (the Prometheus histogram in
production, a list in tests). Each `run` repeats its step every ``interval`` seconds and keeps
the last error instead of dying; the web page and ``/metrics`` read the newest results, so however
many people watch, the broker and the database are asked once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog
from pydantic import BaseModel, ConfigDict

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
from services.ops.domain.latency import PublishLedger

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


class Boards(BaseModel):
    model_config = ConfigDict(frozen=True)

    sla: SlaBoard
    sla_totals: SlaTotals
    deadletters: DeadLetterPanel


class BoardRefresher:
    def __init__(
        self,
        store: BoardStore,
        *,
        ledger: PublishLedger,
        on_latency: Callable[[float], None],
        clock: Callable[[], datetime],
        newest_deadletters: int = 10,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._on_latency = on_latency
        self._clock = clock
        self._newest = newest_deadletters
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
        )
        waiting = self._ledger.waiting(limit=MATCH_BATCH)
        if waiting:
            for seconds in self._ledger.settle(await store.recorded_at(waiting)):
                self._on_latency(seconds)
        self._ledger.expire(now)
        self.boards, self.refreshed_at, self.last_error = boards, now, None
        return boards

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
