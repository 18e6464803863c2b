"""The shipped SLA policy files (the Working Together editions `wt2010` … `wt2026`, and
`local-example`) and the loader that reads them, resolves `extends` chains, lays a council's
override file on top and builds the dated `PolicyBook` (DOMAIN.md §2: the policy of a clock is the
one in force on its starting event's date, never a setting).

Each edition file states its own `in_force = { from, until }` (not inherited through `extends`);
`load_book` refuses a gap or an overlap, naming the files. A council's override file extends one
edition and says `in_force = { from = DATE }`: from that date until the edition ends, clocks
take the override instead (its `name` is what they record).

This is the one place policy TOML is read from disk; parsing and merging are pure and live in
`services.sla.domain.policies`. Call `load_policy` once at start-up (bootstrap) and pass the
`Policy` in.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from services.sla.domain.policies import (
    Policy,
    PolicyBook,
    PolicyError,
    merge_policy_documents,
    parse_policy,
)

DEFAULT_POLICY = "wt2013"

EDITIONS = ("wt2010", "wt2013", "wt2015", "wt2018", "wt2023", "wt2026")
"""The Working Together editions, each in force over its own dates (DOMAIN.md §2)."""


def shipped_policy_names() -> tuple[str, ...]:
    """The policies shipped with frontdoor, by name."""
    folder = resources.files(__name__)
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def _read_shipped(name: str) -> dict[str, Any]:
    if name not in shipped_policy_names():
        known = ", ".join(shipped_policy_names())
        raise PolicyError(f"no shipped policy {name!r} (known: {known})")
    text = resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return _parse_toml(text, f"{name}.toml")


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin} is not valid TOML: {exc}") from exc


def _resolve(
    document: dict[str, Any], seen: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The document merged over its `extends` chain, and that chain (nearest first)."""
    parent = document.get("extends")
    if parent is None:
        return document, ()
    if not isinstance(parent, str):
        raise PolicyError("'extends' must be the name of one shipped policy")
    if parent in seen:
        raise PolicyError(f"policy extends itself: {' → '.join((*seen, parent))}")
    base, chain = _resolve(_read_shipped(parent), (*seen, parent))
    return merge_policy_documents(base, document), (parent, *chain)


def load_policy(name: str = DEFAULT_POLICY, overrides: Path | None = None) -> Policy:
    """The shipped policy `name`, with a council's override file laid over it when given.

    An override file may change any part of the policy (a rule's deadline, a trigger list,
    `enabled = false` to drop a clock, new clocks); it should set its own `name` (the name every
    timer records) and, if it says `extends`, that must be `name`.
    """
    document, chain = _resolve(_read_shipped(name), (name,))
    lineage: tuple[str, ...] = chain
    if overrides is not None:
        local = _parse_toml(overrides.read_text(encoding="utf-8"), str(overrides))
        extends = local.pop("extends", name)
        if extends != name:
            raise PolicyError(
                f"{overrides} extends {extends!r} but was loaded over policy {name!r}"
            )
        if "name" not in local:
            raise PolicyError(f"{overrides} must set its own name (timers record it)")
        document = merge_policy_documents(document, local)
        lineage = (name, *chain)
    return parse_policy(document, extends=lineage)


def _own_dates(document: dict[str, Any], origin: str) -> dict[str, Any]:
    dates = document.get("in_force")
    if not isinstance(dates, dict) or "from" not in dates:
        raise PolicyError(f"{origin}: an edition must state its own in_force = {{ from = DATE }}")
    return dates


def load_book(overrides: Path | None = None, editions: tuple[str, ...] = EDITIONS) -> PolicyBook:
    """Every edition with its dates, and a council's override from its own start date.

    Raises `PolicyError` naming the file for a missing date, a gap, an overlap, or an override
    whose start is outside the edition it extends.
    """
    dated: list[tuple[str, Policy]] = []
    for name in editions:
        origin = f"services/sla/policies/{name}.toml"
        dates = _own_dates(_read_shipped(name), origin)
        policy = load_policy(name).model_copy(
            update={"in_force_from": dates.get("from"), "in_force_until": dates.get("until")}
        )
        dated.append((origin, policy))
    if overrides is not None:
        local_doc = _parse_toml(overrides.read_text(encoding="utf-8"), str(overrides))
        local_from = _own_dates(local_doc, str(overrides))["from"]
        if not isinstance(local_from, date):
            raise PolicyError(f"{overrides}: in_force.from must be a TOML date (YYYY-MM-DD)")
        base_name = local_doc.get("extends")
        at = next((i for i, (_, p) in enumerate(dated) if p.name == base_name), None)
        if at is None:
            raise PolicyError(f"{overrides}: 'extends' must name one of {', '.join(editions)}")
        origin, base = dated[at]
        if not base.in_force_on(local_from):
            raise PolicyError(
                f"{overrides}: starts {local_from}, outside {base.name} "
                f"({base.in_force_from} to {base.in_force_until or 'open'})"
            )
        local = load_policy(str(base_name), overrides).model_copy(
            update={"in_force_from": local_from, "in_force_until": base.in_force_until}
        )
        if local_from == base.in_force_from:
            dated[at] = (str(overrides), local)
        else:
            cut = base.model_copy(update={"in_force_until": local_from - timedelta(days=1)})
            dated[at : at + 1] = [(origin, cut), (str(overrides), local)]
    return PolicyBook.dated(tuple(dated))
