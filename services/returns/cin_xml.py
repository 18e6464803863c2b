"""The CIN census as XML (lxml), in the element order of the DfE schema, and its XSD check.

``census_xml`` writes ``Message`` → ``Header`` (``CollectionDetails``: Collection CIN, Year,
ReferenceDate 31 March; ``Source``: SourceLevel L, LEA, SoftwareCode, Release, SerialNo, DateTime)
→ ``Children`` → one ``Child`` per census record, every element in the order the schema's
sequences fix and optional elements left out when the record has no value. ``xsd_errors``
validates a document against ``xsd/cin_census_2024_25.xsd`` — the DfE CIN census schema for
2024-25, derived from the DfE 2023-24 schema that the liiatools 0.2.0 wheel ships
(``spec/cin_census/CIN_schema_2024.xsd``): ``GenderCurrent`` replaced by ``Sex`` (M/F/U) as the
2024-25 specification does, and ``NumberOfPreviousCPP`` allowed to be 0 (the file's header says
why). The DfE validator does not check the schema, so the export does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from pathlib import Path

from lxml import etree
from pydantic import BaseModel, ConfigDict

from services.returns.domain.census import CensusChild, CensusEpisode
from services.returns.domain.periods import Period

XSD_PATH = Path(__file__).resolve().parent / "xsd" / "cin_census_2024_25.xsd"


class CensusHeader(BaseModel):
    """The ``Source`` block: who sent the return, with what, and when it was made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    la_code: str
    software_code: str
    release: str
    serial_no: str
    made_at: datetime


def _sub(parent: etree._Element, tag: str, text: object | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = _text(text)
    return element


def _opt(parent: etree._Element, tag: str, text: object | None) -> None:
    if text is not None:
        _sub(parent, tag, text)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def census_xml(children: Iterable[CensusChild], *, period: Period, header: CensusHeader) -> bytes:
    """The whole return as UTF-8 XML bytes with a declaration."""
    message = etree.Element("Message")
    head = _sub(message, "Header")
    details = _sub(head, "CollectionDetails")
    _sub(details, "Collection", "CIN")
    _sub(details, "Year", period.last.year)
    _sub(details, "ReferenceDate", period.last)
    source = _sub(head, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", header.la_code)
    _sub(source, "SoftwareCode", header.software_code)
    _sub(source, "Release", header.release)
    _sub(source, "SerialNo", header.serial_no)
    _sub(source, "DateTime", header.made_at)
    container = _sub(message, "Children")
    for child in children:
        _child(container, child)
    return bytes(etree.tostring(message, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _child(parent: etree._Element, child: CensusChild) -> None:
    element = _sub(parent, "Child")
    ids = _sub(element, "ChildIdentifiers")
    _sub(ids, "LAchildID", child.la_child_id)
    _opt(ids, "UPN", child.upn)
    _opt(ids, "UPNunknown", child.upn_unknown)
    _opt(ids, "PersonBirthDate", child.birth_date)
    _opt(ids, "ExpectedPersonBirthDate", child.expected_birth_date)
    _sub(ids, "Sex", child.sex.value)
    characteristics = _sub(element, "ChildCharacteristics")
    _sub(characteristics, "Ethnicity", child.ethnicity.value)
    if child.disabilities:
        disabilities = _sub(characteristics, "Disabilities")
        for code in child.disabilities:
            _sub(disabilities, "Disability", code.value)
    for episode in child.episodes:
        _episode(element, episode)


def _episode(parent: etree._Element, e: CensusEpisode) -> None:
    element = _sub(parent, "CINdetails")
    _sub(element, "CINreferralDate", e.referral_date)
    _sub(element, "ReferralSource", e.source.value)
    _sub(element, "PrimaryNeedCode", e.primary_need.value)
    _opt(element, "CINclosureDate", e.closure_date)
    _opt(element, "ReasonForClosure", e.closure_reason.value if e.closure_reason else None)
    for a in e.assessments:
        assessment = _sub(element, "Assessments")
        _sub(assessment, "AssessmentActualStartDate", a.start)
        _opt(assessment, "AssessmentAuthorisationDate", a.authorised)
        if a.factors:
            factors = _sub(assessment, "FactorsIdentifiedAtAssessment")
            for factor in a.factors:
                _sub(factors, "AssessmentFactors", factor.value)
    for s in e.s47s:
        s47 = _sub(element, "Section47")
        _sub(s47, "S47ActualStartDate", s.start)
        _sub(s47, "InitialCPCtarget", s.icpc_target)
        _opt(s47, "DateOfInitialCPC", s.icpc)
        _sub(s47, "ICPCnotRequired", s.icpc_not_required)
    _sub(element, "ReferralNFA", e.referral_nfa)
    for p in e.plans:
        plan = _sub(element, "ChildProtectionPlans")
        _sub(plan, "CPPstartDate", p.start)
        _opt(plan, "CPPendDate", p.end)
        _sub(plan, "InitialCategoryOfAbuse", p.initial_category.value)
        _sub(plan, "LatestCategoryOfAbuse", p.latest_category.value)
        _sub(plan, "NumberOfPreviousCPP", p.previous_plans)
        if p.reviews:
            reviews = _sub(plan, "Reviews")
            for day in p.reviews:
                _sub(reviews, "CPPreviewDate", day)


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def xsd_errors(document: bytes) -> list[str]:
    """Every schema violation in ``document`` as "line N: message"; empty when it is valid."""
    schema = _schema()
    tree = etree.fromstring(document, parser=etree.XMLParser(resolve_entities=False))
    if schema.validate(tree):
        return []
    log = schema.error_log
    return [f"line {e.line}: {e.message}" for e in log]  # type: ignore[attr-defined]  # lxml-stubs omits __iter__
