"""A council's own profiles file is the one every reader counts with (issue 13, dated rules).

``FRONTDOOR_WORKFORCE_PROFILES_FILE`` replaces the shipped ``workforce.toml`` for the service, the
ops dashboard's workforce section and the CLI returns alike: one council cannot see a cap of 22 on
one screen and its own 18 on another.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.workforce.adapters import summary
from services.workforce.domain.profiles import ProfileError
from services.workforce.policies import SHIPPED, configured, load_profiles


def test_the_shipped_file_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDOOR_WORKFORCE_PROFILES_FILE", raising=False)
    assert configured() == SHIPPED
    assert load_profiles().in_force(date(2024, 1, 1)).cap_points == 22


def test_a_councils_file_is_read_by_every_default_reader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own = tmp_path / "council.toml"
    own.write_text(SHIPPED.read_text().replace("cap_points = 22", "cap_points = 18"))
    monkeypatch.setenv("FRONTDOOR_WORKFORCE_PROFILES_FILE", str(own))
    summary.configured_profiles.cache_clear()
    try:
        assert configured() == own
        assert load_profiles().in_force(date(2024, 1, 1)).cap_points == 18
        assert summary.configured_profiles().in_force(date(2024, 1, 1)).cap_points == 18
    finally:
        summary.configured_profiles.cache_clear()


def test_a_missing_councils_file_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FRONTDOOR_WORKFORCE_PROFILES_FILE", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ProfileError, match=r"nowhere\.toml"):
        load_profiles()
