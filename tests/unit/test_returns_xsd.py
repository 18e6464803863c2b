"""The CIN census XML against the XSD (lxml), and the XSD against the one it was derived from.

``services/returns/xsd/cin_census_2024_25.xsd`` is the DfE 2023-24 CIN schema shipped in the
liiatools 0.2.0 wheel (``spec/cin_census/CIN_schema_2024.xsd``) with ``GenderCurrent`` replaced by
``Sex`` (M/F/U, as the 2024-25 specification does) and ``NumberOfPreviousCPP`` allowed to be 0.
"""

from __future__ import annotations

import copy
import importlib.util
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from services.returns.cin_xml import XSD_PATH, CensusHeader, census_xml, xsd_errors
from services.returns.domain.periods import census_year
from tests.unit.test_returns_annex_a import plan_ended
from tests.unit.test_returns_census import census
from tests.unit.test_returns_story import Story, at, details

HEADER = CensusHeader(
    la_code="372",
    software_code="frontdoor",
    release="0.1.0",
    serial_no="001",
    made_at=datetime(2025, 4, 2, 9, 30, tzinfo=UTC),
)
XS = "{http://www.w3.org/2001/XMLSchema}"


def document() -> bytes:
    nfa = Story("NFA1")
    referral = nfa.referral(at(date(2024, 6, 3)))
    nfa.closed(referral, at(date(2024, 6, 4)), reason="RC8", nfa=True)
    unborn = Story("UNBORN2", details(date_of_birth=None, expected_birth_date="2025-05-10", sex="U"))
    unborn.referral(at(date(2025, 2, 3)))
    result = census(plan_ended(), nfa, unborn)
    return census_xml(result.children, period=census_year(2025), header=HEADER)


def test_the_census_xml_is_valid_against_the_2024_25_schema() -> None:
    assert xsd_errors(document()) == []


def test_the_header_carries_the_collection_the_reference_date_and_the_la() -> None:
    root = etree.fromstring(document())
    assert [e.tag for e in root] == ["Header", "Children"]
    assert root.findtext("Header/CollectionDetails/Collection") == "CIN"
    assert root.findtext("Header/CollectionDetails/Year") == "2025"
    assert root.findtext("Header/CollectionDetails/ReferenceDate") == "2025-03-31"
    assert [e.tag for e in root.find("Header/Source")] == [
        "SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime",
    ]  # fmt: skip
    assert root.findtext("Header/Source/LEA") == "372"


def test_children_follow_the_schema_order_with_absent_items_left_out() -> None:
    root = etree.fromstring(document())
    (bilal,) = root.xpath("Children/Child[ChildIdentifiers/LAchildID='BILAL2']")
    assert [e.tag for e in bilal.find("ChildIdentifiers")] == ["LAchildID", "PersonBirthDate", "Sex"]
    details_ = bilal.find("CINdetails")
    assert [e.tag for e in details_] == [
        "CINreferralDate", "ReferralSource", "PrimaryNeedCode", "Assessments", "Section47",
        "ReferralNFA", "ChildProtectionPlans",
    ]  # fmt: skip
    plan = details_.find("ChildProtectionPlans")
    assert [e.tag for e in plan] == [
        "CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse", "LatestCategoryOfAbuse",
        "NumberOfPreviousCPP", "Reviews",
    ]  # fmt: skip
    assert [e.text for e in plan.find("Reviews")] == ["2025-01-22", "2025-03-12"]
    (nfa,) = root.xpath("Children/Child[ChildIdentifiers/LAchildID='NFA1']")
    assert nfa.findtext("ChildIdentifiers/UPNunknown") == "UN7"
    assert nfa.findtext("CINdetails/ReferralNFA") == "true"


def test_an_element_out_of_order_is_a_schema_error() -> None:
    root = etree.fromstring(document())
    ids = root.find("Children/Child/ChildIdentifiers")
    sex = ids.find("Sex")
    ids.remove(sex)
    ids.insert(0, sex)
    errors = xsd_errors(etree.tostring(root))
    assert len(errors) == 1
    assert "Sex" in errors[0]


def test_a_gender_current_element_from_the_old_schema_is_refused() -> None:
    root = etree.fromstring(document())
    sex = root.find("Children/Child/ChildIdentifiers/Sex")
    sex.tag = "GenderCurrent"
    sex.text = "1"
    assert xsd_errors(etree.tostring(root)) != []


def _liiatools_xsd() -> Path:
    spec = importlib.util.find_spec("liiatools")
    assert spec is not None, "liiatools==0.2.0 (installed --no-deps) ships the DfE schemas"
    (root,) = spec.submodule_search_locations or []
    return Path(root) / "spec" / "cin_census" / "CIN_schema_2024.xsd"


def test_our_xsd_differs_from_the_dfe_2023_24_schema_only_by_sex_and_previous_plans() -> None:
    ours = etree.parse(str(XSD_PATH)).getroot()
    theirs = etree.parse(str(_liiatools_xsd())).getroot()
    gender = theirs.find(f".//{XS}element[@name='GenderCurrent']")
    gender.set("name", "Sex")
    gender.set("type", "sextype")
    theirs.find(f".//{XS}element[@name='NumberOfPreviousCPP']").set("type", "xs:nonNegativeInteger")
    old_type = theirs.find(f"{XS}simpleType[@name='gendertype']")
    new_type = ours.find(f"{XS}simpleType[@name='sextype']")
    theirs.replace(old_type, copy.deepcopy(new_type))
    assert [e.get("value") for e in new_type.iter(f"{XS}enumeration")] == ["M", "F", "U"]
    canon = etree.tostring(theirs, method="c14n2", strip_text=True)
    assert etree.tostring(ours, method="c14n2", strip_text=True) == canon
