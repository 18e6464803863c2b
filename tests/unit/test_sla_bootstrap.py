"""The SLA service's declaration and the settings it refuses to start with."""

from __future__ import annotations

import pytest

from schemas.topics import CASEWORK, CONFERENCES, CONTACTS, CRISIS
from services.common.retention import Retention
from services.sla.bootstrap import check_early_event_retention, service
from services.sla.config import SlaSettings
from services.sla.domain.announcements import check_policy_kinds
from services.sla.domain.clocks import TEAM_EVENT_TYPES, wanted_event_types
from services.sla.domain.policies import PolicyError, parse_policy
from services.sla.policies import load_policy, shipped_policy_names


def test_each_lifecycle_topic_is_one_subscription_in_its_own_group_on_one_ledger() -> None:
    declared = service(SlaSettings())

    assert declared.name == "sla"
    assert {s.topic: s.group for s in declared.subscriptions} == {
        CONTACTS.name: "frontdoor-sla-contacts",
        CASEWORK.name: "frontdoor-sla-casework",
        CONFERENCES.name: "frontdoor-sla-conferences",
        CRISIS.name: "frontdoor-sla-crisis",
    }
    assert {s.consumer for s in declared.subscriptions} == {"sla.timers"}
    wanted = wanted_event_types(load_policy("wt2013"))
    assert all(s.event_types == wanted for s in declared.subscriptions)
    assert wanted >= TEAM_EVENT_TYPES
    assert "contact.received" in wanted
    assert "ooh.alert_raised" not in wanted  # no clock or team depends on it


def test_group_names_follow_the_configured_prefix() -> None:
    declared = service(SlaSettings(consumer_group_prefix="council-sla"))
    assert "council-sla-casework" in {s.group for s in declared.subscriptions}


@pytest.mark.parametrize("name", shipped_policy_names())
def test_every_shipped_policy_names_only_clocks_the_sla_events_can_carry(name: str) -> None:
    check_policy_kinds(load_policy(name))


def test_a_policy_with_a_clock_the_contract_cannot_name_is_refused_at_start_up() -> None:
    policy = parse_policy(
        {
            "name": "council",
            "version": 1,
            "timers": {
                "lunch_break": {
                    "deadline": {"hours": 1},
                    "start": [{"event": "contact.received", "subject": "payload.contact_id"}],
                }
            },
        }
    )
    with pytest.raises(PolicyError, match="lunch_break"):
        check_policy_kinds(policy)


def test_no_policy_setting_only_the_override_file_domain_s2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DOMAIN.md §2: which rules apply is decided by the event's date, never by a setting
    monkeypatch.setenv("FRONTDOOR_POLICY", "wt2010")
    monkeypatch.setenv("FRONTDOOR_POLICY_OVERRIDES", "/etc/frontdoor/council.toml")
    monkeypatch.setenv("FRONTDOOR_SLA_SCAN_MAX_SLEEP_SECONDS", "0.5")
    monkeypatch.setenv("FRONTDOOR_SLA_RUNTIME", "faust")

    settings = SlaSettings()

    assert not hasattr(settings, "policy")
    assert str(settings.policy_overrides) == "/etc/frontdoor/council.toml"
    assert settings.scan_max_sleep_seconds == 0.5
    assert settings.runtime == "faust"


# -- early events' retention -----------------------------------------------------------------------


def test_early_events_are_kept_longer_than_the_outbox_any_catch_up_reads_from() -> None:
    settings, kept = SlaSettings(), Retention()
    assert settings.early_event_retention_days == 90
    assert settings.early_event_retention_days > kept.outbox_days
    check_early_event_retention(settings, kept)


def test_an_early_event_retention_shorter_than_the_outbox_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRONTDOOR_SLA_EARLY_EVENT_RETENTION_DAYS", "10")
    with pytest.raises(ValueError, match="shorter than the outbox"):
        service()


def test_a_longer_outbox_retention_needs_a_longer_early_event_retention() -> None:
    with pytest.raises(ValueError, match="120"):
        check_early_event_retention(SlaSettings(), Retention(processed_days=120, outbox_days=120))
