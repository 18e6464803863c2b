"""Write the synthetic feed as JSON lines: the entry point behind ``frontdoor simulate``.

``write_feed`` builds the England & Wales bank-holiday set for the simulated years (``holidays``,
``country_holidays("GB", subdiv="ENG")``, which includes the one-off days), runs the pure
generator and writes one event envelope per line with orjson — to a file, or to standard output
when no path is given. It returns the number of events written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import holidays as holiday_calendars
import orjson

from services.simulate.domain.emitter import Event
from services.simulate.domain.feed import iter_feed

CHILD_PREFIX = re.compile(r"[A-Za-z0-9]{0,20}")
"""Letters and digits only: the DfE CIN census takes an alphanumeric LAchildID (rule 1580)."""


def england_bank_holidays(start: date, days: int) -> frozenset[date]:
    """England & Wales bank holidays in every year the simulation (and its aftermath) touches."""
    years = range(start.year, (start + timedelta(days=days)).year + 3)
    calendar = holiday_calendars.country_holidays("GB", subdiv="ENG", years=years)
    return frozenset(calendar.keys())


def write_feed(
    path: Path | None,
    *,
    days: int,
    seed: int,
    start: date,
    scale: float = 1.0,
    child_prefix: str | None = None,
) -> int:
    """Write ``days`` of synthetic events from ``start`` as JSON lines; return the count.

    ``child_prefix`` starts every child and family id (default ``S<seed>``: each seed its own
    id space)."""
    if days < 0 or scale < 0:
        raise ValueError("days and scale must not be negative")
    if child_prefix is not None and not CHILD_PREFIX.fullmatch(child_prefix):
        raise ValueError(
            "child prefix: up to 20 letters or digits (LAchildID is alphanumeric, DfE rule 1580)"
        )
    events = iter_feed(
        start=start,
        days=days,
        seed=seed,
        holidays=england_bank_holidays(start, days),
        scale=scale,
        child_prefix=child_prefix,
    )
    if path is None:
        return _write(sys.stdout.buffer, events)
    with path.open("wb") as out:
        return _write(out, events)


def _write(out: BinaryIO, events: Iterable[Event]) -> int:
    count = 0
    for event in events:
        out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    out.flush()
    return count
