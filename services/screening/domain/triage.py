"""Triage: turn one contact's facts and a rule set into a priority, its reasons and a route.

The matrix (the rule set's data; the 2024 edition in ``rules/mash-2024.toml``):

1. DASH level: from the "yes" count (14+ high, 10–13 medium, otherwise standard), else the
   police-recorded level. The police-recorded level, officer judgement and professional judgement
   may each RAISE it, never lower it; a judgement below the computed level is ignored and the
   reasons say so.
2. ``sets`` rules: police risk high → red, medium → amber, standard → green; any high-risk
   marker (strangulation, threats to kill, stalking, escalation, honour-based abuse, pregnancy,
   or separation + coercive control + violence together) → red; a child injured → red. The
   starting priority is the highest of these (green when none fires).
3. ``raises`` rules, cumulative, never past the rule set's ``raises_at_most`` (amber): a child
   under 7 or with special needs raises one level, once — a baby is under 7 too and the factors
   do not stack; escalation (the third police DA incident in 12 months, this one counted) raises
   one level and is a MARAC criterion. Age alone never makes a contact red: red needs a factor
   that sets it (DOMAIN.md §3, Barnardo's matrix).
4. ``at_least`` rules: an open CP plan → at least amber. ``note`` rules only add their reason
   (one earlier police DA incident: a repeat; a baby in the household).
5. Blue ("not shared"): a green police notification with a completed DASH checklist at standard
   risk, where no child was present or injured and the child is not open to a team (the rule
   set's ``[not_shared]``), is recorded on the child's history but not passed on for partner
   screening. Nothing that raised the priority above green can end blue; a missing DASH is never
   treated as standard, so adding a judgement can never turn green into blue.

The route is the open case's team when the child is already open, else the MASH queue. The
screening deadline comes from the injected ``calendar_due``; ``crisis`` is red out of office
hours; a police DA notification with a child of school age starts Operation Encompass when the
edition has the scheme. Every input is the contact's own (its time is ``received_at``, the
contact's ``contact_at``), so the result is a function of the event and its history. The result
never closes screening: a recorded human decision does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.codes import DashRiskLevel, TriagePriority
from schemas.events.triage import Route, RouteKind, TriageReason
from services.screening.domain.conditions import Clause, Facts
from services.screening.domain.inputs import TriageInput
from services.screening.domain.levels import highest_priority, priority_rank, raised
from services.screening.domain.rules import DashThresholds, Rule, RuleSet

CalendarDue = Callable[[TriagePriority, datetime], datetime]
"""The working-hour triage window: (priority, received_at) → when screening is due."""

DEFAULT_REASON = TriageReason(
    rule="priority.default",
    text="No police risk level or high-risk factor set a starting priority: green",
)


class TriageResult(BaseModel):
    """The outcome of triage for one contact; a human screening decision still closes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: TriagePriority
    dash_level: DashRiskLevel | None
    reasons: tuple[TriageReason, ...] = Field(min_length=1)
    screening_due_at: AwareDatetime
    route: Route
    starts_operation_encompass: bool
    crisis: bool
    marac_indicated: bool
    rules_version: str


def triage(
    triage_input: TriageInput,
    rules: RuleSet,
    *,
    calendar_due: CalendarDue,
    out_of_hours: bool,
) -> TriageResult:
    """Apply ``rules`` to one contact; see the module docstring for the matrix."""
    dash_level, reasons = resolve_dash_level(triage_input, rules.dash)
    facts = facts_for(triage_input, dash_level)
    fired = [rule for rule in rules.rules if _all_hold(rule.when, facts)]
    if not any(rule.sets for rule in fired):
        reasons.append(DEFAULT_REASON)
    reasons.extend(TriageReason(rule=rule.id, text=rule.text) for rule in fired)

    priority = _priority(fired, rules.raises_at_most)
    not_shared = rules.not_shared
    if priority is TriagePriority.GREEN and not_shared and _all_hold(not_shared.when, facts):
        priority = TriagePriority.BLUE
        reasons.append(TriageReason(rule=not_shared.id, text=not_shared.text))

    due = calendar_due(priority, triage_input.received_at)
    if due < triage_input.received_at:
        raise ValueError("calendar_due returned a deadline before the contact was received")
    return TriageResult(
        priority=priority,
        dash_level=dash_level,
        reasons=tuple(reasons),
        screening_due_at=due,
        route=_route(triage_input, rules),
        starts_operation_encompass=_starts_operation_encompass(triage_input, rules),
        crisis=priority is TriagePriority.RED and out_of_hours,
        marac_indicated=any(rule.marac for rule in fired),
        rules_version=rules.version,
    )


def dash_level_from_count(yes_count: int, thresholds: DashThresholds) -> DashRiskLevel:
    """The DASH risk level a count of "yes" answers gives on its own."""
    if yes_count >= thresholds.high_from:
        return DashRiskLevel.HIGH
    if yes_count >= thresholds.medium_from:
        return DashRiskLevel.MEDIUM
    return DashRiskLevel.STANDARD


def resolve_dash_level(
    triage_input: TriageInput, thresholds: DashThresholds
) -> tuple[DashRiskLevel | None, list[TriageReason]]:
    """The DASH level after judgement, with a reason for each step; judgement never lowers it.

    The level comes from the "yes" count when there is one, else from the police-recorded level.
    Officer judgement, the police-recorded level (when a count exists) and professional judgement
    are then applied in that order: each may raise the level, and one below it is ignored with a
    reason saying so.
    """
    reasons: list[TriageReason] = []
    level: DashRiskLevel | None = None
    raisers: list[tuple[str, DashRiskLevel | None]] = [
        ("Officer judgement", triage_input.officer_judgement_level),
        ("Professional judgement", triage_input.professional_judgement_level),
    ]
    count = triage_input.dash_yes_count
    if count is not None:
        level = dash_level_from_count(count, thresholds)
        high, medium = thresholds.high_from, thresholds.medium_from
        reasons.append(
            TriageReason(
                rule="dash.count",
                text=(
                    f"DASH: {count} 'yes' answers = {level} risk "
                    f"({high}+ high, {medium}–{high - 1} medium, up to {medium - 1} standard)"
                ),
            )
        )
        raisers.insert(1, ("The police-recorded risk level", triage_input.dash_risk_level))
    elif triage_input.dash_risk_level is not None:
        level = triage_input.dash_risk_level
        reasons.append(
            TriageReason(rule="dash.police_level", text=f"Police-recorded DASH risk level: {level}")
        )

    for who, judged in raisers:
        if judged is None:
            continue
        if level is None:
            level = judged
            reasons.append(
                TriageReason(
                    rule="dash.judgement", text=f"{who} sets the DASH risk level: {judged}"
                )
            )
        elif judged.rank > level.rank:
            reasons.append(
                TriageReason(
                    rule="dash.judgement_raised",
                    text=f"{who} raised the DASH risk level from {level} to {judged}",
                )
            )
            level = judged
        elif judged.rank < level.rank:
            reasons.append(
                TriageReason(
                    rule="dash.judgement_ignored",
                    text=(
                        f"{who} of {judged} is below the DASH risk level {level} and was not "
                        "applied: judgement may raise the level, never lower it"
                    ),
                )
            )
    return level, reasons


def facts_for(triage_input: TriageInput, dash_level: DashRiskLevel | None) -> Facts:
    """The facts the condition language can name, for one contact."""
    return Facts(
        kind=triage_input.kind,
        source_agency=triage_input.source_agency,
        dash_completed=triage_input.dash_yes_count is not None,
        dash_level=dash_level,
        dash_yes_count=triage_input.dash_yes_count,
        youngest_age=triage_input.youngest_age,
        repeat_incidents_12m=triage_input.previous_incidents_12m,
        markers=triage_input.high_risk_markers,
        children_present=triage_input.children_present,
        child_injured=triage_input.child_injured,
        special_needs=triage_input.special_needs,
        open_cp_plan=triage_input.open_cp_plan,
        open_case=triage_input.open_case_team is not None,
    )


def _all_hold(clauses: Iterable[Clause], facts: Facts) -> bool:
    return all(clause.holds(facts) for clause in clauses)


def _priority(fired: list[Rule], ceiling: TriagePriority) -> TriagePriority:
    start = highest_priority(TriagePriority.GREEN, *(rule.sets for rule in fired if rule.sets))
    levels = sum(rule.raises for rule in fired if rule.raises)
    lifted = raised(start, levels)
    if priority_rank(lifted) > max(priority_rank(start), priority_rank(ceiling)):
        lifted = ceiling  # a raise never reaches red; a red that a rule set stays red
    return highest_priority(lifted, *(rule.at_least for rule in fired if rule.at_least))


def _route(triage_input: TriageInput, rules: RuleSet) -> Route:
    if triage_input.open_case_team is not None:
        return Route(kind=RouteKind.OPEN_CASE, team=triage_input.open_case_team)
    return Route(kind=RouteKind.MASH_QUEUE, team=rules.routing.mash_team)


def _starts_operation_encompass(triage_input: TriageInput, rules: RuleSet) -> bool:
    if triage_input.kind != "da_notification":
        return False
    school = rules.operation_encompass
    if school is None:  # an edition from before the scheme
        return False
    return any(
        school.youngest_school_age <= age <= school.oldest_school_age
        for age in triage_input.child_ages_years
    )
