"""Triage rules of the 2024 MASH rule set: each rule alone, combinations, judgement, routing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.codes import DashRiskLevel, HighRiskMarker, TriagePriority
from schemas.events.triage import RouteKind
from services.screening.adapters.rules_file import load_rules
from services.screening.domain.inputs import TriageInput
from services.screening.domain.levels import priority_rank
from services.screening.domain.rules import RuleSet
from services.screening.domain.triage import TriageResult, triage

RULES = load_rules()
RECEIVED = datetime(2024, 6, 5, 10, 30, tzinfo=UTC)
WINDOW_HOURS = {
    TriagePriority.RED: 4,
    TriagePriority.AMBER: 24,
    TriagePriority.GREEN: 72,
    TriagePriority.BLUE: 72,
}

RED, AMBER, GREEN, BLUE = (
    TriagePriority.RED,
    TriagePriority.AMBER,
    TriagePriority.GREEN,
    TriagePriority.BLUE,
)
STANDARD, MEDIUM, HIGH = DashRiskLevel.STANDARD, DashRiskLevel.MEDIUM, DashRiskLevel.HIGH


def fake_due(priority: TriagePriority, received_at: datetime) -> datetime:
    return received_at + timedelta(hours=WINDOW_HOURS[priority])


def notification(**changes: Any) -> TriageInput:
    """A standard-risk police notification, a 10-year-old present: green unless changed."""
    facts: dict[str, Any] = {
        "kind": "da_notification",
        "source_agency": "police",
        "received_at": RECEIVED,
        "dash_yes_count": 5,
        "children_present": True,
        "child_ages_years": (10,),
    }
    return TriageInput.model_validate({**facts, **changes})


def run(
    triage_input: TriageInput, *, out_of_hours: bool = False, rules: RuleSet = RULES
) -> TriageResult:
    return triage(triage_input, rules, calendar_due=fake_due, out_of_hours=out_of_hours)


def fired(result: TriageResult) -> list[str]:
    return [reason.rule for reason in result.reasons]


def test_the_baseline_notification_is_green_for_standard_risk() -> None:
    result = run(notification())
    assert result.priority is GREEN
    assert fired(result) == ["dash.count", "police_risk.standard", "child.present"]


@pytest.mark.parametrize(
    ("yes_count", "level", "priority"),
    [
        (0, STANDARD, GREEN),
        (9, STANDARD, GREEN),
        (10, MEDIUM, AMBER),
        (13, MEDIUM, AMBER),
        (14, HIGH, RED),
        (27, HIGH, RED),
    ],
)
def test_dash_count_sets_the_police_risk_level_and_its_colour(
    yes_count: int, level: DashRiskLevel, priority: TriagePriority
) -> None:
    result = run(notification(dash_yes_count=yes_count))
    assert result.dash_level is level
    assert result.priority is priority
    assert f"{yes_count} 'yes' answers = {level} risk" in result.reasons[0].text
    assert f"police_risk.{level}" in fired(result)


def test_police_recorded_level_is_used_when_there_is_no_count() -> None:
    result = run(notification(dash_yes_count=None, dash_risk_level=MEDIUM))
    assert result.dash_level is MEDIUM
    assert result.priority is AMBER
    assert fired(result)[0] == "dash.police_level"


def test_a_contact_without_dash_starts_green_and_says_why() -> None:
    contact = notification(
        kind="contact", source_agency="education", dash_yes_count=None, children_present=False
    )
    result = run(contact)
    assert result.dash_level is None
    assert result.priority is GREEN
    assert fired(result) == ["priority.default"]


def test_high_risk_dash_meets_the_marac_criterion() -> None:
    assert run(notification(dash_yes_count=14)).marac_indicated
    assert not run(notification(dash_yes_count=13)).marac_indicated


@pytest.mark.parametrize(
    ("marker", "rule"),
    [
        (HighRiskMarker.NON_FATAL_STRANGULATION, "marker.strangulation"),
        (HighRiskMarker.THREATS_TO_KILL, "marker.threats_to_kill"),
        (HighRiskMarker.STALKING, "marker.stalking"),
        (HighRiskMarker.ESCALATION, "marker.escalation"),
        (HighRiskMarker.HONOUR_BASED_ABUSE, "marker.honour_based_abuse"),
        (HighRiskMarker.PREGNANCY, "marker.pregnancy"),
    ],
)
def test_a_high_risk_marker_alone_makes_a_standard_notification_red(
    marker: HighRiskMarker, rule: str
) -> None:
    result = run(notification(high_risk_markers={marker}))
    assert result.priority is RED
    assert rule in fired(result)


def test_strangulation_reason_reads_as_a_high_risk_marker() -> None:
    result = run(notification(high_risk_markers={HighRiskMarker.NON_FATAL_STRANGULATION}))
    texts = [reason.text for reason in result.reasons]
    assert "Non-fatal strangulation reported: high-risk marker (DASH guidance)" in texts


def test_separation_coercive_control_and_violence_together_make_red() -> None:
    trio = {
        HighRiskMarker.SEPARATION,
        HighRiskMarker.COERCIVE_CONTROL,
        HighRiskMarker.VIOLENCE,
    }
    assert run(notification(high_risk_markers=trio)).priority is RED
    for pair in itertools.combinations(trio, 2):
        result = run(notification(high_risk_markers=set(pair)))
        assert result.priority is GREEN, pair
        assert "marker.separation_control_violence" not in fired(result)


def test_an_injured_child_makes_red() -> None:
    result = run(notification(child_injured=True))
    assert result.priority is RED
    assert "child.injured" in fired(result)


@pytest.mark.parametrize(
    ("age", "priority", "rules"),
    [
        (0, AMBER, ["child.under_1", "child.under_7_or_special_needs"]),
        (1, AMBER, ["child.under_7_or_special_needs"]),
        (6, AMBER, ["child.under_7_or_special_needs"]),
        (7, GREEN, []),
    ],
)
def test_under_1_and_under_7_raise_once_not_twice_domain_3_barnardos(
    age: int, priority: TriagePriority, rules: list[str]
) -> None:
    """DOMAIN.md §3: under 7 raises the level once; a baby is under 7 too, the factors do not
    stack (the under-1 reason is shown, it does not raise again)."""
    result = run(notification(child_ages_years=(12, age)))
    assert result.priority is priority
    raised = [rule for rule in fired(result) if rule.startswith("child.under")]
    assert raised == rules


@pytest.mark.parametrize(
    "changes",
    [
        {"child_ages_years": (0,)},
        {"child_ages_years": (0,), "special_needs": True},
        {"dash_yes_count": 12, "child_ages_years": (0,)},
        {"dash_yes_count": 12, "child_ages_years": (3,), "previous_incidents_12m": 4},
        {"kind": "contact", "dash_yes_count": None, "child_ages_years": (0,)},
    ],
)
def test_age_alone_never_makes_a_contact_red_domain_3(changes: dict[str, Any]) -> None:
    """DOMAIN.md §3: a red result needs a risk factor (high DASH, a high-risk marker, injury,
    judgement); the age raises stop at amber."""
    result = run(notification(**changes))
    assert result.priority is AMBER
    assert not result.crisis or result.priority is RED


@pytest.mark.parametrize(
    "changes",
    [
        {"child_ages_years": (0,), "dash_yes_count": 15},
        {"child_ages_years": (0,), "high_risk_markers": frozenset({HighRiskMarker.STALKING})},
        {"child_ages_years": (0,), "child_injured": True},
        {"child_ages_years": (0,), "professional_judgement_level": HIGH},
    ],
)
def test_a_baby_with_a_risk_factor_is_red_domain_3(changes: dict[str, Any]) -> None:
    assert run(notification(**changes)).priority is RED


def test_a_baby_out_of_hours_without_a_risk_factor_is_no_crisis() -> None:
    result = run(notification(child_ages_years=(0,)), out_of_hours=True)
    assert result.priority is AMBER
    assert result.crisis is False


def test_special_needs_raises_one_level_like_under_7() -> None:
    assert run(notification(special_needs=True)).priority is AMBER


def test_under_7_with_special_needs_raises_only_once() -> None:
    result = run(notification(child_ages_years=(5,), special_needs=True))
    assert result.priority is AMBER


@pytest.mark.parametrize(
    ("previous", "priority", "repeat", "escalation"),
    [(0, GREEN, False, False), (1, GREEN, True, False), (2, AMBER, True, True),
     (3, AMBER, True, True)],
)  # fmt: skip
def test_repeat_shown_at_the_second_incident_escalation_at_the_third_domain_3(
    previous: int, priority: TriagePriority, repeat: bool, escalation: bool
) -> None:
    """DOMAIN.md §3: one earlier incident is already a repeat a screener must see; escalation
    to MARAC consideration is the third incident in 12 months (the current one counts)."""
    result = run(notification(previous_incidents_12m=previous))
    assert result.priority is priority
    assert ("history.repeat" in fired(result)) is repeat
    assert ("history.escalation" in fired(result)) is escalation
    assert result.marac_indicated is escalation
    if escalation:
        text = next(r.text for r in result.reasons if r.rule == "history.escalation")
        assert "MARAC" in text


def test_repeat_and_escalation_apply_to_police_notifications_only_domain_3() -> None:
    """DOMAIN.md §3: repeat incidents are police DA notifications, not other contacts."""
    school = notification(
        kind="contact", source_agency="education", dash_yes_count=None, previous_incidents_12m=3
    )
    result = run(school)
    assert result.priority is GREEN
    assert result.marac_indicated is False
    assert not {"history.repeat", "history.escalation"} & set(fired(result))


def test_raises_add_up_but_never_reach_red() -> None:
    standard = notification(child_ages_years=(4,), previous_incidents_12m=3)
    assert run(standard).priority is AMBER
    medium_baby = notification(dash_yes_count=11, child_ages_years=(0,), previous_incidents_12m=5)
    assert run(medium_baby).priority is AMBER
    high = notification(dash_yes_count=20, child_ages_years=(0,), previous_incidents_12m=5)
    assert run(high).priority is RED


def test_medium_risk_with_a_child_under_7_stays_amber_without_a_red_factor() -> None:
    assert run(notification(dash_yes_count=12, child_ages_years=(3,))).priority is AMBER


def test_an_open_cp_plan_makes_at_least_amber() -> None:
    result = run(notification(open_cp_plan=True, open_case_team="Team North"))
    assert result.priority is AMBER
    assert "plan.open_cp" in fired(result)


def test_an_open_cp_plan_never_lowers_red() -> None:
    result = run(notification(dash_yes_count=20, open_cp_plan=True))
    assert result.priority is RED


def test_open_cp_plan_floor_applies_after_the_raises() -> None:
    # under 7 raises green to amber; the floor then keeps amber, it does not add a level
    result = run(notification(child_ages_years=(3,), open_cp_plan=True))
    assert result.priority is AMBER


def test_officer_judgement_of_standard_on_a_fifteen_yes_dash_stays_red() -> None:
    result = run(notification(dash_yes_count=15, officer_judgement_level=STANDARD))
    assert result.priority is RED
    assert result.dash_level is HIGH
    ignored = [reason for reason in result.reasons if reason.rule == "dash.judgement_ignored"]
    assert len(ignored) == 1
    assert "never lower" in ignored[0].text


def test_police_recorded_level_below_the_count_is_ignored() -> None:
    result = run(notification(dash_yes_count=15, dash_risk_level=MEDIUM))
    assert result.dash_level is HIGH
    assert "dash.judgement_ignored" in fired(result)


def test_professional_judgement_raises_the_level() -> None:
    result = run(notification(dash_yes_count=5, professional_judgement_level=HIGH))
    assert result.dash_level is HIGH
    assert result.priority is RED
    assert "dash.judgement_raised" in fired(result)
    assert result.marac_indicated


def test_judgement_equal_to_the_count_adds_no_reason() -> None:
    result = run(notification(dash_yes_count=11, officer_judgement_level=MEDIUM))
    assert not [rule for rule in fired(result) if rule.startswith("dash.judgement")]


def test_adding_a_judgement_never_lowers_the_priority() -> None:
    """Exhaustive over counts, recorded levels, judgements and the child factors."""
    levels: list[DashRiskLevel | None] = [None, STANDARD, MEDIUM, HIGH]
    checked = 0
    for count, recorded, present, age, open_team in itertools.product(
        [None, 0, 9, 10, 13, 14],
        levels,
        [False, True],
        [None, 0, 5, 10],
        [None, "Team North"],
    ):
        base: dict[str, Any] = {
            "dash_yes_count": count,
            "dash_risk_level": recorded,
            "children_present": present,
            "child_ages_years": () if age is None else (age,),
            "open_case_team": open_team,
        }
        without = priority_rank(run(notification(**base)).priority)
        for officer, professional in itertools.product(levels, levels):
            judged = notification(
                **base, officer_judgement_level=officer, professional_judgement_level=professional
            )
            assert priority_rank(run(judged).priority) >= without, (base, officer, professional)
            checked += 1
    assert checked == 6 * 4 * 2 * 4 * 2 * 16


@pytest.mark.parametrize(
    ("ages", "starts"),
    [((3,), False), ((4,), True), ((16,), True), ((17,), True), ((18,), False), ((3, 18), False),
     ((2, 9), True)],
)  # fmt: skip
def test_operation_encompass_starts_for_a_school_age_child_reception_to_17_domain_2(
    ages: tuple[int, ...], starts: bool
) -> None:
    assert run(notification(child_ages_years=ages)).starts_operation_encompass is starts


def test_operation_encompass_is_only_for_police_notifications() -> None:
    contact = notification(kind="contact", source_agency="health", child_ages_years=(10,))
    assert not run(contact).starts_operation_encompass


def test_standard_risk_with_no_child_present_is_blue() -> None:
    result = run(notification(children_present=False))
    assert result.priority is BLUE
    assert fired(result)[-1] == "not_shared"


@pytest.mark.parametrize(
    "changes",
    [
        {"children_present": True},
        {"child_injured": True},
        {"open_case_team": "Team North"},
        {"child_ages_years": (5,)},
        {"dash_yes_count": 10},
        {"dash_yes_count": None},
        {"kind": "contact"},
        {"high_risk_markers": {HighRiskMarker.STALKING}},
    ],
)
def test_blue_needs_every_not_shared_condition(changes: dict[str, Any]) -> None:
    result = run(notification(**{"children_present": False, **changes}))
    assert result.priority is not BLUE
    assert "not_shared" not in fired(result)


def test_child_open_to_a_team_routes_to_that_team() -> None:
    result = run(notification(open_case_team="Team North"))
    assert result.route.kind is RouteKind.OPEN_CASE
    assert result.route.team == "Team North"


def test_child_not_open_goes_to_the_mash_queue() -> None:
    result = run(notification())
    assert result.route.kind is RouteKind.MASH_QUEUE
    assert result.route.team == RULES.routing.mash_team


@pytest.mark.parametrize(
    ("yes_count", "out_of_hours", "crisis"),
    [(20, True, True), (20, False, False), (11, True, False), (5, True, False)],
)
def test_crisis_is_red_out_of_office_hours(
    yes_count: int, out_of_hours: bool, crisis: bool
) -> None:
    assert run(notification(dash_yes_count=yes_count), out_of_hours=out_of_hours).crisis is crisis


def test_screening_deadline_comes_from_the_calendar_for_the_final_priority() -> None:
    asked: list[tuple[TriagePriority, datetime]] = []

    def due(priority: TriagePriority, received_at: datetime) -> datetime:
        asked.append((priority, received_at))
        return received_at + timedelta(hours=WINDOW_HOURS[priority])

    result = triage(
        notification(child_ages_years=(3,)), RULES, calendar_due=due, out_of_hours=False
    )
    assert asked == [(AMBER, RECEIVED)]
    assert result.screening_due_at == RECEIVED + timedelta(hours=24)


def test_a_deadline_before_receipt_is_refused() -> None:
    with pytest.raises(ValueError, match="before the contact was received"):
        triage(
            notification(),
            RULES,
            calendar_due=lambda _p, t: t - timedelta(seconds=1),
            out_of_hours=False,
        )


def test_reasons_follow_the_dash_steps_then_the_rule_file_order() -> None:
    result = run(
        notification(
            dash_yes_count=11,
            officer_judgement_level=HIGH,
            child_ages_years=(0, 8),
            previous_incidents_12m=3,
            open_cp_plan=True,
            high_risk_markers={HighRiskMarker.STALKING},
        )
    )
    file_order = [rule.id for rule in RULES.rules]
    rule_reasons = [rule for rule in fired(result) if not rule.startswith("dash.")]
    assert fired(result)[:2] == ["dash.count", "dash.judgement_raised"]
    assert rule_reasons == sorted(rule_reasons, key=file_order.index)
    assert rule_reasons == [
        "police_risk.high",
        "marker.stalking",
        "child.present",
        "child.under_1",
        "child.under_7_or_special_needs",
        "history.repeat",
        "history.escalation",
        "plan.open_cp",
    ]
    texts = {rule.id: rule.text for rule in RULES.rules}
    for reason in result.reasons:
        assert reason.text
        if reason.rule in texts:
            assert reason.text == texts[reason.rule]


def test_result_records_the_rule_set_version() -> None:
    assert run(notification()).rules_version == RULES.version
