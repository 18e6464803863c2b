"""Shipped SLA policies, local overrides, merging and the event → action index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.sla.domain.deadlines import Deadline, WarnBefore
from services.sla.domain.policies import (
    PolicyError,
    merge_policy_documents,
    parse_policy,
)
from services.sla.domain.triggers import Verb
from services.sla.policies import load_policy, shipped_policy_names

WT2013_DEADLINES = {
    "screening_decision": Deadline(working_days=1),
    "assessment": Deadline(working_days=45),
    "icpc": Deadline(working_days=15),
    "conference_reports": Deadline(working_days=-2),
    "first_core_group": Deadline(working_days=10),
    "core_group": Deadline(weeks=6),
    "first_review": Deadline(calendar_months=3),
    "review": Deadline(calendar_months=6),
    "cp_visit": Deadline(working_days=10),
    "ooh_handover": Deadline.model_validate({"next_working_day_at": "09:00"}),
    "police_protection": Deadline(hours=72),
    "operation_encompass": Deadline.model_validate({"next_school_day": "08:30"}),
}


def test_every_shipped_policy_loads() -> None:
    assert set(shipped_policy_names()) == {
        *("wt2010", "wt2013", "wt2015", "wt2018", "wt2023", "wt2026"),
        "local-example",
    }
    for name in shipped_policy_names():
        assert load_policy(name).name == name


@pytest.mark.parametrize(("kind", "deadline"), sorted(WT2013_DEADLINES.items()))
def test_wt2013_clock_deadlines(kind: str, deadline: Deadline) -> None:
    assert load_policy("wt2013").rule(kind).deadline == deadline


def test_wt2013_is_the_default_policy() -> None:
    assert load_policy().name == "wt2013"


def test_wt2013_triage_window_depends_on_priority() -> None:
    starts = load_policy("wt2013").rule("triage").start
    by_priority = {t.when[0].equals: t.deadline for t in starts}
    assert by_priority == {
        "red": Deadline(triage_window="red"),
        "amber": Deadline(triage_window="amber"),
        "green": Deadline(triage_window="green"),
    }


def test_wt2010_replaces_single_assessment_with_initial_and_core() -> None:
    policy = load_policy("wt2010")
    assert "assessment" not in policy.kinds
    assert policy.rule("initial_assessment").deadline == Deadline(working_days=10)
    assert policy.rule("core_assessment").deadline == Deadline(working_days=35)
    assert policy.rule("core_assessment").start_events == ("assessment.started",)
    assert policy.rule("icpc").deadline == Deadline(working_days=15)
    assert policy.extends == ("wt2013",)


def test_local_example_overrides_only_what_it_writes() -> None:
    policy = load_policy("local-example")
    assert policy.extends == ("wt2010", "wt2013")
    assert policy.rule("initial_assessment").deadline == Deadline(working_days=7)
    assert policy.rule("initial_assessment").start_events == ("referral.accepted",)
    assert policy.rule("core_group").deadline == Deadline(calendar_months=1)
    assert policy.rule("cp_visit").deadline == Deadline(weeks=2)
    assert policy.rule("core_assessment").deadline == Deadline(working_days=35)
    assert "police_protection" not in policy.kinds
    green = [t for t in policy.rule("triage").start if t.when[0].equals == "green"]
    assert green[0].deadline == Deadline(working_days=5)


def test_unknown_policy_name_is_refused() -> None:
    with pytest.raises(PolicyError, match="no shipped policy 'wt1999'"):
        load_policy("wt1999")


# -- override files -----------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "council.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_file_changes_a_deadline_and_keeps_the_triggers(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "rotherham"\nversion = 3\n[timers.icpc]\ndeadline = { working_days = 10 }\n',
    )
    base = load_policy("wt2013")
    policy = load_policy("wt2013", path)
    assert (policy.name, policy.version, policy.extends) == ("rotherham", 3, ("wt2013",))
    assert policy.rule("icpc").deadline == Deadline(working_days=10)
    assert policy.rule("icpc").start == base.rule("icpc").start
    assert policy.rule("assessment") == base.rule("assessment")


def test_override_file_can_turn_a_clock_off_and_change_office_hours(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "night-owls"\n[office_hours]\nopens = "08:00"\n[timers.triage]\nenabled = false\n',
    )
    policy = load_policy("wt2013", path)
    assert "triage" not in policy.kinds
    assert policy.office_hours.opens.hour == 8
    assert policy.office_hours.closes.hour == 17


def test_override_file_must_name_itself(tmp_path: Path) -> None:
    path = _write(tmp_path, "[timers.icpc]\ndeadline = { working_days = 10 }\n")
    with pytest.raises(PolicyError, match="must set its own name"):
        load_policy("wt2013", path)


def test_override_file_extending_another_policy_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "wt2010"\nname = "x"\n')
    with pytest.raises(PolicyError, match="extends 'wt2010'"):
        load_policy("wt2013", path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "x"\n[timers.icpc]\ndeadline = { fortnights = 1 }\n', "fortnights"),
        ('name = "x"\n[timers.icpc]\nbreach_early = true\n', "breach_early"),
        ('name = "x"\n[timers.icpc\n', "not valid TOML"),
    ],
)
def test_invalid_override_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, match: str
) -> None:
    with pytest.raises(PolicyError, match=match):
        load_policy("wt2013", _write(tmp_path, text))


# -- documents and the action index -------------------------------------------------------------


def test_merge_replaces_a_deadline_whole_and_merges_other_tables() -> None:
    base: dict[str, Any] = {
        "timers": {"cp_visit": {"deadline": {"working_days": 10}, "description": "a"}}
    }
    override = {"timers": {"cp_visit": {"deadline": {"weeks": 2}}}}
    merged = merge_policy_documents(base, override)
    assert merged["timers"]["cp_visit"] == {"deadline": {"weeks": 2}, "description": "a"}
    assert base["timers"]["cp_visit"]["deadline"] == {"working_days": 10}


def _document(**rule: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "version": 1,
        "timers": {"icpc": {"deadline": {"working_days": 15}, **rule}},
    }


def test_a_start_must_name_its_subject() -> None:
    with pytest.raises(PolicyError, match="must name its subject"):
        parse_policy(_document(start=[{"event": "s47.started"}]))


def test_only_a_start_may_set_a_deadline() -> None:
    start = [{"event": "s47.started", "subject": "payload.strategy_id"}]
    stop = [{"event": "conference.icpc_held", "deadline": {"working_days": 1}}]
    with pytest.raises(PolicyError, match="only a start"):
        parse_policy(_document(start=start, stop=stop))


def test_actions_for_an_event_list_cancels_then_stops_then_starts() -> None:
    actions = load_policy("wt2013").actions_for("core_group.held")
    assert [(a.verb, a.kind) for a in actions] == [
        (Verb.STOP, "first_core_group"),
        (Verb.STOP, "core_group"),
        (Verb.START, "core_group"),
    ]
    cancels = load_policy("wt2013").actions_for("cp_plan.ended")
    assert {a.verb for a in cancels} == {Verb.CANCEL}


def test_an_event_no_rule_mentions_has_no_actions() -> None:
    policy = load_policy("wt2013")
    assert policy.actions_for("child.missing_reported") == []
    assert "referral.accepted" in policy.event_types


def test_unknown_kind_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="no timer 'assessment'"):
        load_policy("wt2010").rule("assessment")


def test_warning_defaults_to_one_working_day_and_rules_can_change_it() -> None:
    policy = load_policy("wt2013")
    assert policy.warning_for("icpc") == WarnBefore(working_days=1)
    assert policy.warning_for("police_protection") == WarnBefore(hours=12)
    assert policy.warning_for("icpc", "none") is None
