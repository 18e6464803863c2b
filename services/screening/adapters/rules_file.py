"""Load a triage rule set from a TOML file, failing loudly and precisely when it is wrong.

``load_rules()`` with no path loads the current edition shipped in ``services/screening/rules``.
A file that is not TOML, names an unknown fact, marker or level, or breaks a rule-set invariant
raises ``InvalidRulesError`` naming the file and each faulty place (``rules.3.when``), so a bad
edit stops the service at start-up instead of silently changing how children are triaged.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from services.screening.domain.rules import RuleSet

DEFAULT_RULES = "mash-2024.toml"


class InvalidRulesError(ValueError):
    """A triage rules file could not be read as a valid rule set."""


def default_rules_path() -> Path:
    """The shipped rules file for the current edition."""
    return Path(str(resources.files("services.screening.rules").joinpath(DEFAULT_RULES)))


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and validate a rule set; ``path`` defaults to the shipped current edition."""
    source = path or default_rules_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidRulesError(f"{source}: cannot read triage rules: {error}") from error
    return parse_rules(text, origin=str(source))


def parse_rules(text: str, *, origin: str = "<rules>") -> RuleSet:
    """Validate TOML text as a rule set; errors name ``origin`` and every faulty field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidRulesError(f"{origin}: not valid TOML: {error}") from error
    try:
        return RuleSet.model_validate(data)
    except ValidationError as error:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in item['loc']) or '(top level)'}: "
            f"{item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise InvalidRulesError(f"{origin}: invalid triage rules:\n{problems}") from error
