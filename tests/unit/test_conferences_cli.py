"""``frontdoor conferences`` output and the service's settings (policy by FRONTDOOR_POLICY)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from rich.console import Console

from services.cli.conferences import conferences_json, print_conferences
from services.conferences.adapters.rules import load_rules
from services.conferences.bootstrap import service
from services.conferences.config import ConferencesSettings
from services.conferences.domain.processing import HANDLED_EVENT_TYPES
from services.conferences.domain.rules import RulesError


def upcoming_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "conference_id": uuid.UUID("6d3c1c3e-0b55-4b4c-9c47-1f0e9bbd2d5a"),
        "child_id": "C-cli",
        "kind": "icpc",
        "sequence": 0,
        "policy": "wt2013",
        "plan_id": None,
        "target_date": date(2025, 5, 8),
        "conference_at": None,
        "reports_due_by": datetime(2025, 5, 6, 22, 59, 59, tzinfo=UTC),
        "invited_agencies": ["police", "health", "education", "social_care"],
        "reports_received": ["health", "police", "social_care"],
        "reports_missing": ["education"],
        "reports_late": ["health"],
        "reports_not_shared": [],
        "reports_overdue": True,
        "quorate_on_invitations": True,
        "quorate_on_reports": True,
    }
    return {**row, **overrides}


def test_json_lists_dates_as_iso_and_moments_with_their_london_offset() -> None:
    (listed,) = json.loads(conferences_json([upcoming_row()]))
    assert listed["conference_id"] == "6d3c1c3e-0b55-4b4c-9c47-1f0e9bbd2d5a"
    assert listed["target_date"] == "2025-05-08"
    assert listed["reports_due_by"] == "2025-05-06T23:59:59+01:00"
    assert listed["reports_missing"] == ["education"]
    assert listed["plan_id"] is None
    assert listed["reports_overdue"] is True


def test_table_shows_the_missing_and_late_reports_before_the_conference() -> None:
    review = upcoming_row(kind="rcpc", sequence=2, reports_late=[], reports_not_shared=["police"])
    console = Console(file=io.StringIO(), width=200)
    print_conferences([upcoming_row(), review], today=date(2025, 5, 1), console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "ICPC" in out
    assert "review 2" in out
    assert "education" in out
    assert "police (not shared)" in out
    assert "+7" in out  # seven days to the target


def test_policy_is_chosen_by_frontdoor_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDOOR_POLICY", "wt2010")
    settings = ConferencesSettings()
    assert settings.policy == "wt2010"
    assert load_rules(settings.policy, settings.rules_file).name == "wt2010"


def test_a_council_rules_file_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mine = tmp_path / "council.toml"
    mine.write_text('name = "council"\nreports_before_working_days = 4\n')
    monkeypatch.setenv("FRONTDOOR_CONFERENCES_RULES_FILE", str(mine))
    settings = ConferencesSettings()
    assert load_rules(settings.policy, settings.rules_file).reports_before_working_days == 4


def test_worker_refuses_to_start_on_a_policy_it_has_no_rules_for() -> None:
    with pytest.raises(RulesError, match="wt1999"):
        service(ConferencesSettings(policy="wt1999"))


def test_worker_reads_casework_as_its_ledger_name_in_its_own_consumer_group() -> None:
    (sub,) = service(ConferencesSettings(policy="wt2010")).subscriptions
    assert (sub.consumer, sub.topic, sub.group) == (
        "conferences",
        "frontdoor.casework",
        "frontdoor-conferences",
    )
    assert sub.event_types == HANDLED_EVENT_TYPES
    assert "visit.recorded" in sub.event_types
    assert "contact.received" not in sub.event_types
