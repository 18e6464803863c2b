"""The CIN census return for one year: the records, the children left out, and why.

``census_return`` builds each child's record (``census.census_child``), runs the export's own
checks (``census_rules``) on it and across children, and keeps a child in the return only when
no check found an error; every query and every error is listed, named by child, item and DfE
rule. Choice, documented in services/returns/README.md: a child whose history lacks a required
item, or breaks a DfE rule, is left out of the file and listed rather than sent with an invented
or invalid value; the command can be told to fail instead (``--strict``).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from services.common.calendar import WorkingCalendar
from services.returns.domain.census import CensusChild, census_child
from services.returns.domain.census_rules import check_child, check_return
from services.returns.domain.history import ChildHistory
from services.returns.domain.issues import Issue, Severity, error
from services.returns.domain.periods import Period, census_year


class CensusReturn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int
    period: Period
    children: tuple[CensusChild, ...]
    left_out: tuple[str, ...]
    issues: tuple[Issue, ...]

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def queries(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.QUERY)


def census_return(
    histories: Iterable[ChildHistory],
    *,
    year: int,
    calendar: WorkingCalendar,
    keep_invalid: bool = False,
) -> CensusReturn:
    """Records for every child in the census year ending 31 March ``year``.

    ``keep_invalid`` keeps children with errors in the records (their errors still listed): for
    showing the DfE validator what the export's own checks caught, never for a real return.
    """
    period = census_year(year)
    records: list[CensusChild] = []
    issues: list[Issue] = []
    for history in histories:
        record, problems = census_child(history, period, calendar)
        issues.extend(problems)
        if record is not None:
            records.append(record)
            issues.extend(check_child(record, history, period, calendar))
        elif history.anomalies and not problems:
            # casework that names a referral the history lacks: say so, never drop it silently
            issues.extend(
                error(history.child_id, "history", "history", text) for text in history.anomalies
            )
    issues.extend(check_return(records))
    failed = {i.child_id for i in issues if i.severity is Severity.ERROR}
    kept = records if keep_invalid else [r for r in records if r.la_child_id not in failed]
    return CensusReturn(
        year=year,
        period=period,
        children=tuple(sorted(kept, key=lambda r: r.la_child_id)),
        left_out=tuple(sorted(failed)) if not keep_invalid else (),
        issues=tuple(sorted(issues, key=lambda i: (i.child_id, i.rule or "", i.item))),
    )
