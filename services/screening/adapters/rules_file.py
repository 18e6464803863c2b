"""Load triage rule sets from TOML files, failing loudly and precisely when one is wrong.

``load_rule_book()`` with no path loads every edition shipped in ``services/screening/rules``
(``mash-2011.toml``, ``mash-2024.toml``): the book the service triages by, each contact by the
edition in force on its date. A path may name a directory of editions or one file (a council's
own single edition, in force from its ``effective_from`` on). ``load_rules()`` reads one file,
the current shipped edition by default. A file that is not TOML, names an unknown fact, marker
or level, or breaks a rule-set invariant raises ``InvalidRulesError`` naming the file and each
faulty place (``rules.3.when``); editions whose dates overlap or leave a gap raise it naming
both files — so a bad edit stops the service at start-up instead of silently changing how
children are triaged.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from services.screening.domain.rulebook import RuleBook, RuleBookError
from services.screening.domain.rules import RuleSet

DEFAULT_RULES = "mash-2024.toml"
"""The current edition; every ``*.toml`` beside it is an edition of the book."""


class InvalidRulesError(ValueError):
    """A triage rules file could not be read as a valid rule set."""


def default_rules_path() -> Path:
    """The shipped rules file for the current edition."""
    return Path(str(resources.files("services.screening.rules").joinpath(DEFAULT_RULES)))


def shipped_rules_dir() -> Path:
    """The directory of the shipped editions."""
    return default_rules_path().parent


def load_rule_book(path: Path | None = None) -> RuleBook:
    """Every edition in ``path`` (a directory of ``*.toml`` or one file); default: shipped."""
    source = path or shipped_rules_dir()
    files = sorted(source.glob("*.toml")) if source.is_dir() else [source]
    if not files:
        raise InvalidRulesError(f"{source}: no triage rules (*.toml) found")
    try:
        return RuleBook.of([(str(file), load_rules(file)) for file in files])
    except RuleBookError as error:
        raise InvalidRulesError(f"{source}: triage rule editions: {error}") from error


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
