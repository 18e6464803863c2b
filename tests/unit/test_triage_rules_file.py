"""The triage rule set as data: the shipped edition loads, and a bad file is refused clearly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from schemas.codes import HighRiskMarker, TriagePriority
from services.screening.adapters.rules_file import (
    InvalidRulesError,
    default_rules_path,
    load_rule_book,
    load_rules,
    parse_rules,
)
from services.screening.domain.conditions import (
    Comparison,
    ConditionError,
    FlagIs,
    MarkersAll,
    MarkersAny,
    parse_clause,
)
from services.screening.domain.rulebook import NoRulesInForceError

HEADER = """
version = "test-1"
effective_from = 2024-01-01

[dash]
medium_from = 10
high_from = 14

[operation_encompass]
youngest_school_age = 4
oldest_school_age = 16

[routing]
mash_team = "MASH"
"""


def rules_with(body: str, header: str = HEADER) -> str:
    return header + body


def one_rule(when: str, effect: str = 'sets = "red"', rule_id: str = "test.rule") -> str:
    return rules_with(f'\n[[rules]]\nid = "{rule_id}"\nwhen = {when}\n{effect}\ntext = "t"\n')


def test_the_shipped_rule_set_loads_with_its_version_and_date() -> None:
    rules = load_rules()
    assert rules.version == "mash-2024.1"
    assert rules.effective_from == date(2013, 4, 15)
    assert rules.dash.medium_from == 10
    assert rules.dash.high_from == 14
    assert rules.not_shared is not None


def test_every_contract_marker_is_named_by_a_red_rule() -> None:
    named: set[HighRiskMarker] = set()
    for rule in load_rules().rules:
        for clause in rule.when:
            for atom in clause.atoms:
                if isinstance(atom, MarkersAny | MarkersAll):
                    assert rule.sets is TriagePriority.RED, rule.id
                    named |= atom.markers
    assert named == set(HighRiskMarker)


def test_the_shipped_editions_cover_every_day_from_2010_and_differ_only_in_encompass() -> None:
    """DOMAIN.md §2: screening rule sets are dated like Working Together; the 2011 edition
    predates Operation Encompass and is otherwise the current matrix."""
    book = load_rule_book()
    old = book.in_force(datetime(2011, 5, 10, 12, tzinfo=UTC))
    assert old.version == "mash-2011.1"
    assert book.in_force(datetime(2013, 4, 14, 22, 59, tzinfo=UTC)).version == "mash-2011.1"
    assert book.in_force(datetime(2013, 4, 14, 23, 0, tzinfo=UTC)).version == "mash-2024.1"
    assert book.in_force(datetime(2026, 12, 2, tzinfo=UTC)) == book.current
    assert old.operation_encompass is None
    assert book.current.operation_encompass is not None
    assert book.current.operation_encompass.oldest_school_age == 17
    assert old.rules == book.current.rules
    assert old.dash == book.current.dash
    assert old.not_shared == book.current.not_shared
    with pytest.raises(NoRulesInForceError, match="2010-03-31"):
        book.in_force(datetime(2010, 3, 31, 12, tzinfo=UTC))


def _edition(tmp_path: Path, name: str, dates: str) -> None:
    text = one_rule('"child_injured"').replace('version = "test-1"', f'version = "{name}"')
    (tmp_path / f"{name}.toml").write_text(
        text.replace("effective_from = 2024-01-01", dates), encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ("effective_from = 2024-01-01", "both take effect on 2024-01-01"),
        ("effective_from = 2020-01-01\neffective_to = 2024-06-01", "overlaps"),
        ("effective_from = 2020-01-01\neffective_to = 2023-06-01", "without rules"),
    ],
)
def test_editions_that_overlap_or_leave_a_gap_are_refused_naming_both_files(
    tmp_path: Path, second: str, message: str
) -> None:
    _edition(tmp_path, "a", "effective_from = 2024-01-01")
    _edition(tmp_path, "b", second)
    with pytest.raises(InvalidRulesError, match=message) as caught:
        load_rule_book(tmp_path)
    assert "a.toml" in str(caught.value)
    assert "b.toml" in str(caught.value)


def test_an_edition_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRulesError, match="effective_to is before effective_from"):
        parse_rules(one_rule('"child_injured"').replace(
            "effective_from = 2024-01-01", "effective_from = 2024-01-01\neffective_to = 2023-01-01"
        ), origin="x.toml")  # fmt: skip


def test_load_rules_reads_a_given_path(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    path.write_text(one_rule('"child_injured"'), encoding="utf-8")
    rules = load_rules(path)
    assert rules.version == "test-1"
    assert [rule.id for rule in rules.rules] == ["test.rule"]


def test_default_path_is_the_shipped_file() -> None:
    assert default_rules_path().name == "mash-2024.toml"
    assert default_rules_path().is_file()


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRulesError, match="cannot read triage rules"):
        load_rules(tmp_path / "absent.toml")


def test_text_that_is_not_toml_is_refused() -> None:
    with pytest.raises(InvalidRulesError, match="not valid TOML"):
        parse_rules("version = ", origin="bad.toml")


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ('"dash_score >= 14"', "unknown fact 'dash_score'"),
        ('"dash_level >= severe"', "'severe' is not a DashRiskLevel"),
        ('"marker in [strangling]"', "'strangling' is not a HighRiskMarker"),
        ('"markers_all []"', "the marker list is empty"),
        ('"kind >= contact"', "kind takes only == or !="),
        ('"kind == letter"', "'letter' is not a kind"),
        ('"child_injured == 1"', "child_injured is a yes/no fact"),
        ('"youngest_age"', "youngest_age is not a yes/no fact"),
        ('"youngest_age < seven"', "compared with a whole number"),
        ('"children present"', "is not a condition"),
        ('"child_injured or "', "empty condition"),
        ("[]", "at least one condition"),
    ],
)
def test_an_unknown_condition_is_refused_with_its_place_and_reason(when: str, message: str) -> None:
    with pytest.raises(InvalidRulesError) as caught:
        parse_rules(one_rule(when), origin="local.toml")
    text = str(caught.value)
    assert text.startswith("local.toml: invalid triage rules")
    assert "rules.0.when" in text
    assert message in text


@pytest.mark.parametrize(
    ("effect", "message"),
    [
        (
            'sets = "red"\nraises = 1',
            "exactly one of sets, raises, at_least, note (found sets, raises)",
        ),
        ("marac = true", "(found none)"),
        ('sets = "blue"', "blue comes only from [not_shared]"),
        ('at_least = "purple"', "rules.0.at_least"),
        ("raises = 0", "rules.0.raises"),
    ],
)
def test_a_rule_needs_exactly_one_valid_effect(effect: str, message: str) -> None:
    with pytest.raises(InvalidRulesError) as caught:
        parse_rules(one_rule('"child_injured"', effect=effect))
    assert message in str(caught.value)


def test_rule_ids_follow_the_contract_and_avoid_reserved_prefixes() -> None:
    with pytest.raises(InvalidRulesError, match=r"rules\.0\.id"):
        parse_rules(one_rule('"child_injured"', rule_id="Child-Injured"))
    with pytest.raises(InvalidRulesError, match="reserved"):
        parse_rules(one_rule('"child_injured"', rule_id="dash.mine"))


def test_duplicate_rule_ids_are_refused() -> None:
    rule = '\n[[rules]]\nid = "same"\nwhen = "child_injured"\nsets = "red"\ntext = "t"\n'
    with pytest.raises(InvalidRulesError, match="'same' is used twice"):
        parse_rules(rules_with(rule + rule))


def test_a_reason_longer_than_the_contract_allows_is_refused() -> None:
    body = f'\n[[rules]]\nid = "long"\nwhen = "child_injured"\nsets = "red"\ntext = "{"x" * 201}"\n'
    with pytest.raises(InvalidRulesError, match=r"rules\.0\.text"):
        parse_rules(rules_with(body))


def test_dash_thresholds_must_be_in_order() -> None:
    header = HEADER.replace("high_from = 14", "high_from = 9")
    with pytest.raises(InvalidRulesError, match="high_from must be above"):
        parse_rules(one_rule('"child_injured"').replace(HEADER, header))


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(InvalidRulesError, match=r"rules\.0\.colour"):
        parse_rules(one_rule('"child_injured"', effect='sets = "red"\ncolour = "red"'))


def test_a_rule_set_needs_rules() -> None:
    with pytest.raises(InvalidRulesError, match="rules"):
        parse_rules(HEADER)


def test_or_joins_atoms_into_one_clause() -> None:
    clause = parse_clause("youngest_age < 7 or special_needs")
    assert clause.atoms == (
        Comparison(fact="youngest_age", op="<", value=7),
        FlagIs(fact="special_needs"),
    )


def test_not_negates_a_flag() -> None:
    assert parse_clause("not children_present").atoms == (
        FlagIs(fact="children_present", negated=True),
    )


def test_marker_lists_parse_to_sets() -> None:
    (atom,) = parse_clause("markers_all [separation, violence]").atoms
    assert atom == MarkersAll(
        markers=frozenset({HighRiskMarker.SEPARATION, HighRiskMarker.VIOLENCE})
    )


def test_parse_clause_raises_a_condition_error() -> None:
    with pytest.raises(ConditionError, match="unknown fact"):
        parse_clause("age < 7")


def test_every_fact_the_language_names_exists_on_the_facts_model() -> None:
    from services.screening.domain.conditions import FACT_TYPES, Facts

    assert set(FACT_TYPES) == set(Facts.model_fields) - {"markers"}
