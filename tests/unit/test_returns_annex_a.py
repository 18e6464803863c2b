"""Annex A lists from hand-written histories, against rows computed by hand.

As of 1 April 2025 the window is 1 October 2024 – 31 March 2025 and "the last 12 months" is
1 April 2024 – 31 March 2025. Ava (``two_referrals``) was referred in July 2024 and again in
February 2025 (and once in March 2024, outside the year); Bilal (``plan_ended``) was referred in
October 2024, went through a section 47 enquiry to a child protection plan that ended in March
2025, and had an earlier plan in 2023; an unborn baby and a child whose expected birth date has
passed each appear only as a contact.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook

from services.returns.domain.annex_a import AnnexA, annex_a
from services.returns.domain.history import ChildHistory, fold_child
from services.returns.domain.periods import start_of
from services.returns.files import write_annex_a_csv, write_annex_a_xlsx
from tests.unit.test_returns_story import Story, at, details

AS_OF = date(2025, 4, 1)


def history(story: Story) -> ChildHistory:
    return fold_child(story.child_id, story.events, until=start_of(AS_OF))


def two_referrals() -> Story:
    s = Story("AVA1")
    s.referral(at(date(2024, 3, 1)), source="2A")
    first = s.referral(at(date(2024, 7, 15)), source="2A")
    s.closed(first, at(date(2024, 7, 16)), reason="RC8", nfa=True)
    s.contact(at(date(2025, 2, 10), 9), source="2A")
    second = s.referral(at(date(2025, 2, 10), 11), source="6", team="Team B", worker="SW010")
    s.assessment(
        second, at(date(2025, 2, 11)), at(date(2025, 3, 20)), outcome="early_help", seen=True
    )
    s.closed(second, at(date(2025, 3, 25)), reason="RC9")
    return s


def plan_ended() -> Story:
    s = Story(
        "BILAL2",
        details(
            given_name="Bilal",
            family_name="Khan",
            date_of_birth="2012-11-03",
            sex="M",
            ethnicity="APKN",
            disabilities=["AUT"],
        ),
    )
    old = s.referral(at(date(2023, 1, 9)))
    old_s47 = s.s47(old, at(date(2023, 1, 10)))
    s.s47_completed(old, old_s47, at(date(2023, 1, 20)), icpc=True)
    old_plan = s.icpc(old, old_s47, at(date(2023, 1, 25)), category="PHY")
    assert old_plan is not None
    s.plan_ended(old_plan, at(date(2023, 6, 14)))
    s.closed(old, at(date(2023, 6, 20)))
    s.police_protection(at(date(2024, 10, 5), 23))
    referral = s.referral(at(date(2024, 10, 7)), team="Team C", worker="SW020")
    s.assessment(
        referral,
        at(date(2024, 10, 8)),
        at(date(2024, 11, 20)),
        outcome="section_47",
        worker="SW021",
    )
    s47 = s.s47(referral, at(date(2024, 10, 8), 14), at(date(2024, 10, 8), 15))
    s.s47_completed(referral, s47, at(date(2024, 10, 21)), icpc=True)
    plan = s.icpc(referral, s47, at(date(2024, 10, 24)), category="NEG")
    assert plan is not None
    s.visit(referral, plan, at(date(2024, 11, 1)), alone=True)
    s.visit(referral, plan, at(date(2025, 1, 10)), alone=False)
    s.review(plan, at(date(2025, 1, 22)), latest="EMO")
    s.review(plan, at(date(2025, 3, 12)), latest=None)
    s.plan_ended(plan, at(date(2025, 3, 12), 12))
    return s


def unborn() -> Story:
    s = Story(
        "BABY3",
        details(
            given_name=None,
            date_of_birth=None,
            expected_birth_date="2025-06-01",
            sex="U",
            ethnicity="NOBT",
            disabilities=[],
        ),
    )
    s.police_notification(at(date(2024, 12, 24), 22))
    return s


def overdue_birth() -> Story:
    s = Story("DUE4", details(date_of_birth=None, expected_birth_date="2024-08-01", sex="U"))
    s.contact(at(date(2024, 11, 5)), source="3B")
    return s


def lists() -> AnnexA:
    return annex_a(
        [
            history(two_referrals()),
            history(plan_ended()),
            history(unborn()),
            history(overdue_birth()),
        ],
        as_of=AS_OF,
    )


def rows(annex: AnnexA, number: int) -> list[tuple[object, ...]]:
    (found,) = [x for x in annex.lists if x.number == number]
    return list(found.rows)


AVA = ("AVA1", "b) Female", "a) WBRI", "20/05/2016", 8)
BILAL = ("BILAL2", "a) Male", "k) APKN", "03/11/2012", 12)


def test_list_1_has_every_contact_in_the_six_months_with_its_coded_source() -> None:
    assert rows(lists(), 1) == [
        (
            "DUE4",
            "c) Not stated/recorded",
            "a) WBRI",
            None,
            None,
            "05/11/2024",
            "h) 3B: Health services",
        ),
        ("BABY3", "c) Not stated/recorded", "t) NOBT", None, None, "24/12/2024", "q) 6: Police"),
        (*AVA, "10/02/2025", "e) 2A: Schools"),
    ]


def test_list_3_counts_both_referrals_of_the_last_twelve_months_but_lists_only_the_recent_one() -> (
    None
):
    assert rows(lists(), 3) == [
        (*BILAL, "07/10/2024", "q) 6: Police", "b) No", 1, "Team C", "SW020"),
        (*AVA, "10/02/2025", "q) 6: Police", "b) No", 2, "Team B", "SW010"),
    ]


def test_list_4_has_assessments_open_in_the_window_with_the_assessors_allocation() -> None:
    assert rows(lists(), 4) == [
        (
            *BILAL,
            "a) Yes",
            "08/10/2024",
            "a) Yes",
            "20/11/2024",
            "a) Yes",
            "Assessment Team",
            "SW021",
        ),
        (*AVA, "b) No", "11/02/2025", "a) Yes", "20/03/2025", "b) No", "Assessment Team", "SW002"),
    ]


def test_list_5_dates_the_enquiry_from_its_strategy_discussion_and_counts_the_last_year() -> None:
    assert rows(lists(), 5) == [
        (
            *BILAL,
            "a) Yes",
            "08/10/2024",
            "b) No",
            "24/10/2024",
            "a) Yes",
            1,
            1,
            "Assessment Team",
            "SW021",
        ),
    ]


def test_list_7_shows_the_ended_plan_with_latest_category_visit_review_and_previous_plans() -> None:
    assert rows(lists(), 7) == [
        (
            *BILAL, "a) Yes", "24/10/2024", "a) Neglect", "d) Emotional abuse", "10/01/2025",
            "b) No", "12/03/2025", "12/03/2025", "a) Yes", 1, "Assessment Team", "SW021",
        ),
    ]  # fmt: skip


def test_a_passed_expected_birth_date_is_reported_as_a_missing_date_of_birth() -> None:
    gaps = [(i.child_id, i.item) for i in lists().issues]
    assert gaps == [("DUE4", "date of birth")]


def test_unrecorded_disability_is_unknown_in_the_list_and_reported_as_a_gap() -> None:
    s = Story("NODIS5", details(disabilities=[]))
    referral = s.referral(at(date(2025, 1, 6)))
    s.assessment(referral, at(date(2025, 1, 7)))
    annex = annex_a([history(s)], as_of=AS_OF)
    (row,) = rows(annex, 4)
    assert row[5] == "c) Unknown"
    assert row[7:11] == (None, None, None, "Assessment Team")  # open: not yet concluded
    assert [(i.child_id, i.item) for i in annex.issues] == [("NODIS5", "disability")]


def test_events_on_or_after_the_as_of_date_are_not_in_the_lists() -> None:
    s = Story("LATE6")
    s.contact(at(date(2025, 4, 1), 0, 1))
    s.contact(at(date(2025, 3, 31), 23, 59))
    assert [r[5] for r in rows(annex_a([history(s)], as_of=AS_OF), 1)] == ["31/03/2025"]


def test_csv_files_start_with_the_headings_and_leave_missing_items_blank(tmp_path: Path) -> None:
    annex = lists()
    paths = write_annex_a_csv(annex, tmp_path)
    assert [p.name for p in paths] == [
        "annex_a_list_1_contacts.csv",
        "annex_a_list_3_referrals.csv",
        "annex_a_list_4_assessments.csv",
        "annex_a_list_5_s47_enquiries_and_icpcs.csv",
        "annex_a_list_7_child_protection.csv",
    ]
    with paths[0].open(encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == list(annex.lists[0].headings)
    assert table[2] == [
        "BABY3",
        "c) Not stated/recorded",
        "t) NOBT",
        "",
        "",
        "24/12/2024",
        "q) 6: Police",
    ]


def test_the_workbook_has_a_sheet_per_list_with_the_same_cells(tmp_path: Path) -> None:
    annex = lists()
    book = load_workbook(write_annex_a_xlsx(annex, tmp_path / "annex.xlsx"))
    assert book.sheetnames == ["List 1", "List 3", "List 4", "List 5", "List 7"]
    sheet = book["List 7"]
    cells = [tuple(c.value for c in row) for row in sheet.iter_rows()]
    as_text = [
        tuple(v.strftime("%d/%m/%Y") if isinstance(v, datetime) else v for v in row)
        for row in cells
    ]
    assert as_text == [annex.lists[4].headings, *annex.lists[4].rows]


def test_workbook_dates_are_date_cells_under_a_frozen_filtered_header(tmp_path: Path) -> None:
    """Issue 14 (analysts): an analyst sorts and filters the dates as dates, header in view."""
    annex = lists()
    book = load_workbook(write_annex_a_xlsx(annex, tmp_path / "annex.xlsx"))
    sheet = book["List 1"]
    headings = [c.value for c in sheet[1]]
    contact = headings.index("Date of Contact") + 1
    dated = [r[contact - 1] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert dated
    assert all(isinstance(v, datetime) for v in dated)
    assert sheet.cell(row=2, column=contact).number_format == "dd/mm/yyyy"
    assert sheet.cell(row=2, column=1).data_type == "s"  # ids stay text
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:G{len(annex.lists[0].rows) + 1}"
    assert sheet.column_dimensions["B"].width > len("Gender")


def test_every_gap_names_the_dfe_rule_that_needs_the_same_item() -> None:
    """Issue 14 (analysts): DfE rules 4180, 4220, 8525Q/8530Q, 8540, 8615 (cin2024_25)."""
    issues = lists().issues
    assert issues
    assert all(i.rule for i in issues)
    assert [(i.item, i.rule) for i in issues if i.child_id == "DUE4"] == [
        ("date of birth", "8530Q")
    ]
