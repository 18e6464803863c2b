"""Loads the workforce profiles (dated rules) once, at start-up: the shipped file, or a council's.

``FRONTDOOR_WORKFORCE_PROFILES_FILE`` replaces the shipped ``workforce.toml`` for every reader —
the workforce service, the ops dashboard's workforce section, ``frontdoor workforce`` and the
inspection returns — so a council's caps and intervals are the ones every screen counts with.
A bad file stops the service, or the command, with a ``ProfileError`` naming the place.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.workforce.domain.profiles import ProfileBook, ProfileError, parse_profiles

SHIPPED = Path(__file__).with_name("workforce.toml")


def configured() -> Path:
    """The profiles file in force: ``FRONTDOOR_WORKFORCE_PROFILES_FILE``, else the shipped one."""
    from services.workforce.config import WorkforceSettings

    return WorkforceSettings().profiles_file or SHIPPED


def load_profiles(path: Path | None = None) -> ProfileBook:
    """The profiles in ``path``; without one, the configured file (``configured``)."""
    source = path or configured()
    try:
        document = tomllib.loads(source.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{source}: {exc}") from exc
    return parse_profiles(document)
