"""The CSWW export: XSD-valid (the liiatools 2022 XSD), liiatools' workforce rules, no invention."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.registry import parse_event
from services.returns.csww_xml import csww_document, schema
from services.returns.domain.csww import check, worker_records
from tests.factories import envelope
from tests.unit.workforce_examples import WORKFORCE_PAYLOADS


def _event(event_type: str, at: datetime, **changes: Any) -> Any:
    payload = {**WORKFORCE_PAYLOADS[(event_type, 1)][1](), **changes}
    child = changes.pop("_child", "workforce")
    return parse_event(envelope(event_type, 1, payload, child=child, at=at))


def _history() -> list[Any]:
    t = datetime(2025, 3, 3, 9, tzinfo=UTC)
    return [
        _event("worker.joined", t, worker_id="W1"),
        _event("worker.joined", t, worker_id="W2", swe_number="SW0000000002"),
        _event("worker.leave_started", datetime(2025, 9, 1, tzinfo=UTC), worker_id="W1"),
        _event(
            "worker.left", datetime(2025, 6, 30, tzinfo=UTC), worker_id="W2", left_on="2025-06-30"
        ),
        _event("worker.joined", t, worker_id="W3", swe_number=None),
    ]


def test_a_year_exports_xsd_valid_with_no_liiatools_rule_errors() -> None:
    records, issues = worker_records(_history(), 2025)
    assert issues == ["worker W3: SWENo is not in the history (mandatory); left out"]
    assert [check(r) for r in records] == [[], []]
    doc = csww_document(records, year=2025, lea="999", vacancies=Decimal("3"))
    xsd = schema()
    assert xsd.validate(doc), xsd.error_log
    w1, w2 = records
    assert (w1["Absat30Sept"], w1["ReasonAbsence"], w1["FTE30"]) == ("1", "SIC", "0.800000")
    assert (w2["FTE"], w2["RoleEndDate"], w2["ReasonLeave"]) == ("0.000000", "2025-06-30", "1")


def test_a_leaver_with_fte_is_caught_by_the_same_rule_as_liiatools() -> None:
    records, _ = worker_records(_history(), 2025)
    broken = {**records[1], "FTE": "0.500000"}
    assert check(broken) == ["FTE: must be 0 for leavers"]


def test_a_missing_mandatory_item_names_the_worker_and_the_item() -> None:
    t = datetime(2025, 3, 3, 9, tzinfo=UTC)
    records, issues = worker_records(
        [_event("worker.joined", t, worker_id="W9", census=None)], 2025
    )
    assert records == []
    assert "worker W9: PersonBirthDate: mandatory for a non-agency worker" in issues[0]


def test_an_agency_worker_without_a_qualifying_institution_is_named_not_exported() -> None:
    # the 2022 XSD asks QualInst of every worker (minOccurs 1), an agency worker's too
    t = datetime(2025, 3, 3, 9, tzinfo=UTC)
    records, issues = worker_records(
        [_event("worker.joined", t, worker_id="A7", census=None, agency_worker=True)], 2025
    )
    assert records == []
    assert issues == [
        "worker A7: QualInst: mandatory for every worker (the XSD), not in the history"
    ]
