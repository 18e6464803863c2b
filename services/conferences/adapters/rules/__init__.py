"""The shipped conference rules (one per SLA policy name) and the file adapter that reads them.

The files are named as the SLA policies are (``wt2013``, ``wt2010``, ``local-example``), so the
one ``FRONTDOOR_POLICY`` setting chooses both. A file may ``extends`` another; a council's own file
(``FRONTDOOR_CONFERENCES_RULES_FILE``) is laid over the chosen one and should set its own
``name``. This is the one place conference rules are read from disk; parsing is pure and lives in
``services.conferences.domain.rules``. Call `load_rules` once at start-up.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from services.conferences.domain.rules import (
    DEFAULT_RULES,
    ConferenceRules,
    RulesError,
    merge_documents,
    parse_rules,
)


def shipped_rules_names() -> tuple[str, ...]:
    folder = resources.files(__name__)
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{origin} is not valid TOML: {exc}") from exc


def _read_shipped(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if name not in shipped_rules_names():
        known = ", ".join(shipped_rules_names())
        raise RulesError(f"no conference rules for policy {name!r} (known: {known})")
    if name in seen:
        raise RulesError(f"conference rules extend themselves: {' → '.join((*seen, name))}")
    text = resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    document = _parse(text, f"{name}.toml")
    parent = document.get("extends")
    if parent is None:
        return document
    if not isinstance(parent, str):
        raise RulesError(f"{name}.toml: 'extends' must name one shipped rules file")
    return merge_documents(_read_shipped(parent, (*seen, name)), document)


def load_rules(name: str = DEFAULT_RULES, overrides: Path | None = None) -> ConferenceRules:
    """The shipped rules for policy `name`, with a council's file laid over them when given."""
    document = _read_shipped(name)
    if overrides is not None:
        local = _parse(overrides.read_text(encoding="utf-8"), str(overrides))
        if "name" not in local:
            raise RulesError(f"{overrides} must set its own name")
        document = merge_documents(document, local)
    return parse_rules(document)
