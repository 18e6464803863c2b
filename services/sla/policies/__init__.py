"""The shipped SLA policy files (`wt2013`, `wt2010`, `local-example`) and the loader that reads
them, resolves `extends` chains and lays a council's override file on top.

This is the one place policy TOML is read from disk; parsing and merging are pure and live in
`services.sla.domain.policies`. Call `load_policy` once at start-up (bootstrap) and pass the
`Policy` in.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from services.sla.domain.policies import Policy, PolicyError, merge_policy_documents, parse_policy

DEFAULT_POLICY = "wt2013"


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
