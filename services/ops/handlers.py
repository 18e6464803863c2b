"""The ops service's use cases: poll consumer lag, keep the boards (SLA, dead letters, lane
refusals, workforce) fresh.

`LagPoller.poll_once` reads one `Observation` through an `ObservationSource` port (the broker in
production) and folds it into the pure `LagBoard`; its newest `LagReport` is what the dashboard,
``/metrics`` and ``frontdoor lag`` show; with a `HistoryStore` it also writes the round's samples
(``domain/history.py``) there, one write a round. `LagHistory` reads those back as the
dashboard's chart lines and applies their retention. `BoardRefresher.refresh_once` reads the
SLA rows, SLA totals, dead letters, lane refusals and the workforce's read model through a
`BoardStore` port, assembles the boards with the pure domain, and settles the event-to-view
latency ledger (publishes seen on ``partner.events`` matched with ``events.recorded_at``),
handing each latency to ``on_latency`` (the Prometheus histogram in production, a list in
tests). Each `run` repeats its step every ``interval`` seconds and keeps the last error instead of
dying; the web page and ``/metrics`` read the newest results, so however many people watch, the
broker and the database are asked once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
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
from services.ops.domain.history import (
    HistoryBucket,
    HistorySample,
    HistoryWindow,
    LagHistoryReport,
    bucket_seconds,
    history_series,
    samples,
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


class HistoryStore(Protocol):
    """Where the lag history is kept (``ops_lag_history`` in production)."""

    async def record(self, samples: Sequence[HistorySample]) -> None: ...
    async def buckets(
        self, since: datetime, until: datetime, *, bucket_seconds: int
    ) -> list[HistoryBucket]: ...
    async def prune(self, before: datetime, *, limit: int) -> int: ...


class LagPoller:
    """Polls a `KafkaLagSource` every ``interval`` seconds; ``report`` is the newest result.

    With a ``history`` store, each round's report is also written there (one write a round); a
    write that fails is logged and kept in ``history_error``, and never fails the poll."""

    def __init__(
        self,
        source: ObservationSource,
        *,
        board: LagBoard,
        interval: float,
        history: HistoryStore | None = None,
    ) -> None:
        self._source = source
        self._board = board
        self._history = history
        self.interval = interval
        self.report: LagReport | None = None
        self.polled_at: datetime | None = None
        self.last_error: str | None = None
        self.history_error: str | None = None

    @property
    def window_size(self) -> int:
        return self._board.window_size

    async def poll_once(self) -> LagReport:
        observation = await self._source.observe()
        self._board, report = observe(self._board, observation)
        self.report, self.polled_at, self.last_error = report, observation.at, None
        if self._history is not None:
            await self._keep(self._history, report)
        return report

    async def _keep(self, history: HistoryStore, report: LagReport) -> None:
        try:
            await history.record(samples(report))
        except (StoreUnavailableError, OSError, TimeoutError) as exc:
            self.history_error = f"{type(exc).__name__}: {exc}"
            log.warning("lag_history_write_failed", error=type(exc).__name__)
        else:
            self.history_error = None

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


class LagHistory:
    """Lag and throughput over time: the chart's lines for the last hours, and the retention.

    `read(hours)` answers from the store in buckets (at most ``MAX_POINTS`` a line); the answer
    for the same hours is reused for ``reuse_seconds`` (the poll interval: nothing newer exists
    before then), so many dashboards cost one read. `prune_once` deletes what is past the
    window in chunks of ``chunk`` rows, at most ``chunks_per_round`` of them, and returns how
    many rows went; the background loop calls it every few minutes.
    """

    def __init__(
        self,
        store: HistoryStore,
        *,
        window: HistoryWindow,
        clock: Callable[[], datetime],
        poll_interval: float,
        chunk: int = 5000,
        chunks_per_round: int = 20,
    ) -> None:
        self._store = store
        self.window = window
        self._clock = clock
        self._poll_interval = poll_interval
        self._chunk = chunk
        self._chunks_per_round = chunks_per_round
        self._answered: dict[float, tuple[datetime, LagHistoryReport]] = {}

    async def read(self, hours: float | None = None) -> LagHistoryReport:
        span = self.window.hours(hours)
        now = self._clock()
        kept = self._answered.get(span)
        if kept is not None and (now - kept[0]).total_seconds() < self._poll_interval:
            return kept[1]
        since = now - timedelta(hours=span)
        width = bucket_seconds(span, at_least=self._poll_interval)
        groups, topics = history_series(await self._store.buckets(since, now, bucket_seconds=width))
        report = LagHistoryReport(
            since=since,
            until=now,
            hours=span,
            kept_hours=self.window.keep_hours,
            bucket_seconds=width,
            groups=groups,
            topics=topics,
        )
        self._answered = {span: (now, report)}
        return report

    async def prune_once(self) -> int:
        before = self.window.cutoff(self._clock())
        deleted = 0
        for _ in range(self._chunks_per_round):
            gone = await self._store.prune(before, limit=self._chunk)
            deleted += gone
            if gone < self._chunk:
                break
        if deleted:
            log.info("lag_history_pruned", rows=deleted, before=before.isoformat())
        return deleted


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
