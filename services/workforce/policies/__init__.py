"""Loads the workforce profiles (dated rules) once, at start-up: the shipped file, or a council's.

``FRONTDOOR_WORKFORCE_PROFILES_FILE`` replaces the shipped ``workforce.toml``; a bad file stops
the service with a ``ProfileError`` naming the place.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.workforce.domain.profiles import ProfileBook, ProfileError, parse_profiles

SHIPPED = Path(__file__).with_name("workforce.toml")


def load_profiles(path: Path | None = None) -> ProfileBook:
    source = path or SHIPPED
    try:
        document = tomllib.loads(source.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{source}: {exc}") from exc
    return parse_profiles(document)
