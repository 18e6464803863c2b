"""The two export use cases: read the history, fold it, build the return, check it, write it.

``load_histories`` folds every child's events (from an ``EventSource``) before a cut-off into
``ChildHistory`` values; ``export_annex_a`` and ``export_cin_census`` build their return from
those, write the files and the list of issues, and report how it went. Long steps report to a
``Progress`` (the command line draws bars from it). The CIN census XML is checked against the
XSD before it is written; a schema violation is a bug in the export and raises. A year in which
no child can be reported raises ``EmptyCensusError`` after writing the list of issues.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

from services.common.calendar import WorkingCalendar
from services.returns.adapters.events import EventSource
from services.returns.cin_xml import CensusHeader, census_xml, xsd_errors
from services.returns.config import ReturnsSettings
from services.returns.domain.annex_a import AnnexA, annex_a
from services.returns.domain.census_return import CensusReturn, census_return
from services.returns.domain.history import ChildHistory, fold_child
from services.returns.domain.periods import census_year, start_of
from services.returns.files import (
    write_annex_a_csv,
    write_annex_a_xlsx,
    write_document,
    write_issues,
)

AnnexFormat = Literal["csv", "xlsx"]


class Progress(Protocol):
    def stage(self, label: str, total: int | None) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class NoProgress:
    def stage(self, label: str, total: int | None) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


class CensusSchemaError(RuntimeError):
    """The census XML broke the XSD: a defect in the export, never the data's fault."""


class EmptyCensusError(RuntimeError):
    """No child could be reported (the schema needs at least one); the issues say why."""

    def __init__(self, census: CensusReturn, issues_file: Path) -> None:
        self.census = census
        self.issues_file = issues_file
        super().__init__(
            f"no child can be reported for {census.year}: {len(census.left_out)} left out "
            f"(see {issues_file})"
        )


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a return is built.

    Tens of thousands of long-lived histories make every generation-2 collection walk them all,
    which cost a borough's year more time than the folding itself; nothing built here forms
    reference cycles, so reference counting frees all that needs freeing meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def load_histories(
    source: EventSource,
    *,
    until: datetime,
    referred_only: bool = False,
    progress: Progress | None = None,
) -> list[ChildHistory]:
    progress = progress or NoProgress()
    progress.stage("reading events", await source.count(until, referred_only=referred_only))
    histories = []
    with _cyclic_gc_paused():
        async for child_id, events in source.children(until, referred_only=referred_only):
            histories.append(fold_child(child_id, events, until=until))
            progress.advance(len(events))
    return histories


@dataclass(frozen=True)
class AnnexAExport:
    annex: AnnexA
    files: list[Path]
    issues_file: Path


async def export_annex_a(
    source: EventSource,
    *,
    as_of: date,
    out_dir: Path,
    fmt: AnnexFormat = "csv",
    progress: Progress | None = None,
) -> AnnexAExport:
    progress = progress or NoProgress()
    histories = await load_histories(source, until=start_of(as_of), progress=progress)
    progress.stage("building the lists", None)
    with _cyclic_gc_paused():
        annex = annex_a(histories, as_of=as_of)
    progress.stage("writing", None)
    if fmt == "xlsx":
        files = [write_annex_a_xlsx(annex, out_dir / f"annex_a_{as_of.isoformat()}.xlsx")]
    else:
        files = write_annex_a_csv(annex, out_dir)
    issues = write_issues(annex.issues, out_dir / f"annex_a_{as_of.isoformat()}_gaps.csv")
    return AnnexAExport(annex=annex, files=files, issues_file=issues)


@dataclass(frozen=True)
class CensusExport:
    census: CensusReturn
    file: Path
    issues_file: Path


async def export_cin_census(
    source: EventSource,
    *,
    year: int,
    out: Path,
    settings: ReturnsSettings,
    made_at: datetime,
    calendar: WorkingCalendar,
    progress: Progress | None = None,
) -> CensusExport:
    progress = progress or NoProgress()
    period = census_year(year)
    histories = await load_histories(
        source, until=period.ends_at, referred_only=True, progress=progress
    )
    progress.stage("building the census", None)
    with _cyclic_gc_paused():
        census = census_return(histories, year=year, calendar=calendar)
    header = CensusHeader(
        la_code=settings.la_code,
        software_code=settings.software_code,
        release=settings.release,
        serial_no=settings.serial_no,
        made_at=made_at,
    )
    progress.stage("writing", None)
    issues = write_issues(census.issues, out.with_name(f"{out.stem}_issues.csv"))
    if not census.children:
        raise EmptyCensusError(census, issues)
    document = census_xml(census.children, period=period, header=header)
    problems = xsd_errors(document)
    if problems:
        raise CensusSchemaError("; ".join(problems[:10]))
    write_document(document, out)
    return CensusExport(census=census, file=out, issues_file=issues)
