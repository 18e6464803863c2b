"""The CSWW census XML (DfE 2022 specification, the XSD the liiatools wheel ships) and its check.

Invariant: a document is only written after it validates against that XSD; the LA-level
``NumberOfVacancies`` is not in the history, so it is passed in (and the export says so).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources

from lxml import etree

XSD_RESOURCE = ("liiatools", "spec/social_work_workforce/social_work_workforce_2022.xsd")


def schema() -> etree.XMLSchema:
    path = resources.files(XSD_RESOURCE[0]).joinpath(XSD_RESOURCE[1])
    return etree.XMLSchema(etree.parse(str(path)))


def csww_document(
    records: list[dict[str, str]], *, year: int, lea: str, vacancies: Decimal
) -> etree._Element:
    message = etree.Element("Message")
    header = etree.SubElement(message, "Header")
    details = etree.SubElement(header, "CollectionDetails")
    etree.SubElement(details, "Collection").text = "CSWW"
    etree.SubElement(details, "Year").text = str(year)
    etree.SubElement(details, "ReferenceDate").text = date(year, 9, 30).isoformat()
    source = etree.SubElement(header, "Source")
    etree.SubElement(source, "SourceLevel").text = "L"
    etree.SubElement(source, "LEA").text = lea
    la = etree.SubElement(message, "LALevelVacancies")
    agency = [r for r in records if r["AgencyWorker"] == "1" and "RoleEndDate" not in r]
    etree.SubElement(la, "NumberOfVacancies").text = f"{vacancies:.2f}"
    fte = sum((Decimal(r["FTE30"]) for r in agency), Decimal(0))
    etree.SubElement(la, "NoAgencyFTE").text = f"{fte:.2f}"
    etree.SubElement(la, "NoAgencyHeadcount").text = str(len(agency))
    for r in records:
        worker = etree.SubElement(message, "CSWWWorker")
        for tag, value in r.items():
            etree.SubElement(worker, tag).text = value
    return message
