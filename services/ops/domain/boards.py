"""What the SLA board and the dead-letter panel show, and how their totals add up.

The SLA board counts statutory clocks per team and kind: ``open`` (running, not yet due),
``due_today`` (live and due before the end of today, Europe/London), ``overdue`` (breached and
still owed), ``breached_this_month`` and ``met_in_time_this_month``. The SLA service's views
provide the per team-and-kind rows; `sla_board` adds them up by kind, by team and overall, so the
three tables on the page always agree with each other.

The dead-letter panel counts dead letters by ``dlq.reason`` (all ever received, and those still
waiting for a replay) and lists the newest few with their exception class and message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class SlaCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    open: int = Field(default=0, ge=0)
    due_today: int = Field(default=0, ge=0)
    overdue: int = Field(default=0, ge=0)
    breached_this_month: int = Field(default=0, ge=0)
    met_in_time_this_month: int = Field(default=0, ge=0)

    def __add__(self, other: SlaCounts) -> SlaCounts:
        return SlaCounts(
            open=self.open + other.open,
            due_today=self.due_today + other.due_today,
            overdue=self.overdue + other.overdue,
            breached_this_month=self.breached_this_month + other.breached_this_month,
            met_in_time_this_month=self.met_in_time_this_month + other.met_in_time_this_month,
        )


class SlaRow(BaseModel):
    """Counts of one team's clocks of one kind."""

    model_config = ConfigDict(frozen=True)

    team: str
    kind: str
    counts: SlaCounts


class SlaLine(BaseModel):
    """One line of a summary table: a kind or a team, and its counts."""

    model_config = ConfigDict(frozen=True)

    name: str
    counts: SlaCounts


class SlaBoard(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    total: SlaCounts
    by_kind: tuple[SlaLine, ...]
    by_team: tuple[SlaLine, ...]
    rows: tuple[SlaRow, ...]


def _lines(rows: Iterable[SlaRow], key: str) -> tuple[SlaLine, ...]:
    sums: dict[str, SlaCounts] = {}
    for row in rows:
        name = getattr(row, key)
        sums[name] = sums.get(name, SlaCounts()) + row.counts
    ordered = sorted(sums.items(), key=lambda kv: (-kv[1].overdue, -kv[1].due_today, kv[0]))
    return tuple(SlaLine(name=name, counts=counts) for name, counts in ordered)


def sla_board(rows: Iterable[SlaRow], *, at: datetime) -> SlaBoard:
    """Totals by kind and by team (most overdue first, then most due today) and overall."""
    merged: dict[tuple[str, str], SlaCounts] = {}
    for row in rows:
        key = (row.team, row.kind)
        merged[key] = merged.get(key, SlaCounts()) + row.counts
    all_rows = tuple(
        SlaRow(team=team, kind=kind, counts=counts)
        for (team, kind), counts in sorted(merged.items())
    )
    total = SlaCounts()
    for row in all_rows:
        total = total + row.counts
    return SlaBoard(
        at=at,
        total=total,
        by_kind=_lines(all_rows, "kind"),
        by_team=_lines(all_rows, "team"),
        rows=all_rows,
    )


class SlaTotals(BaseModel):
    """Per kind: clocks open, overdue (breached, still owed) and ever breached (for /metrics)."""

    model_config = ConfigDict(frozen=True)

    open: dict[str, int] = {}
    overdue: dict[str, int] = {}
    breached: dict[str, int] = {}
    announce_delay: dict[str, float] = {}
    """Per kind: the longest wait, in seconds, from a deadline (or, for a clock recorded after
    its deadline, from its recording) to its breach being recorded by the SLA scanner, among the
    breaches recorded in the last 15 minutes (``adapters/postgres.py``). DESIGN: within seconds."""
    unannounced: dict[str, float] = {}
    """Per kind: how long, in seconds, the oldest clock past its deadline (or recorded after it)
    has been waiting for its breach to be recorded at all (a stopped scanner shows here)."""


class ReasonCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str
    total: int = Field(ge=0)
    waiting: int = Field(ge=0)


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    failed_at: AwareDatetime
    reason: str
    exception_class: str
    exception_message: str
    original_topic: str
    original_partition: int
    original_offset: int
    consumer_group: str
    replayed: bool


class DeadLetterPanel(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    total: int
    waiting: int
    by_reason: tuple[ReasonCount, ...]
    newest: tuple[DeadLetter, ...]


def deadletter_panel(
    counts: Iterable[ReasonCount], newest: Iterable[DeadLetter], *, at: datetime
) -> DeadLetterPanel:
    """Counts by reason (most first) with their totals, and the newest dead letters."""
    by_reason = tuple(sorted(counts, key=lambda c: (-c.total, c.reason)))
    return DeadLetterPanel(
        at=at,
        total=sum(c.total for c in by_reason),
        waiting=sum(c.waiting for c in by_reason),
        by_reason=by_reason,
        newest=tuple(newest),
    )
