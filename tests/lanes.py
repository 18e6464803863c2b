"""The spoofing matrix, generated from the role table: every agency × every partner event type ×
(``source.agency`` honest / spoofed / payload author spoofed), each case with what the lane rule
must answer. Used by the unit test (the rule through the pipeline and ingress's judge) and by the
integration test (the real intake and ingress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.envelope import Agency
from schemas.registry import INBOUND_TYPES, latest_model, latest_version, parse_event
from schemas.roles import RoleTable, author_fields
from tests.unit.contract_examples import example

HONEST, SPOOFED_SOURCE, SPOOFED_AUTHOR = "honest", "spoofed_source", "spoofed_author"


@dataclass(frozen=True)
class Case:
    speaker: Agency
    event_type: str
    variant: str
    event: dict[str, Any]
    allowed: bool

    @property
    def id(self) -> str:
        return f"{self.speaker.value}:{self.event_type}:{self.variant}"


def other_than(agency: Agency) -> Agency:
    """Another agency the speaker might pretend to be (police for everyone but the police)."""
    return Agency.HEALTH if agency is Agency.POLICE else Agency.POLICE


def has_author_field(event_type: str) -> bool:
    event = parse_event(example(event_type, latest_version(event_type)))
    return any(True for _ in author_fields(event.payload))


def _with_authors(data: dict[str, Any], agency: Agency) -> dict[str, Any]:
    event = latest_model(data["event_type"]).model_validate(data)
    for loc, _ in author_fields(event.payload, ("payload",)):
        target: Any = data
        for part in loc[:-1]:
            target = target[part]
        target[loc[-1]] = agency.value
    return data


def matrix(roles: RoleTable) -> list[Case]:
    cases: list[Case] = []
    for speaker in Agency:
        for event_type in sorted(INBOUND_TYPES):
            version = latest_version(event_type)
            permitted = roles.allows(speaker, event_type)
            honest = _with_authors(example(event_type, version), speaker)
            honest["source"]["agency"] = speaker.value
            cases.append(Case(speaker, event_type, HONEST, honest, permitted))
            spoofed = _with_authors(example(event_type, version), speaker)
            spoofed["source"]["agency"] = other_than(speaker).value
            cases.append(Case(speaker, event_type, SPOOFED_SOURCE, spoofed, False))
            if has_author_field(event_type):
                author = _with_authors(example(event_type, version), other_than(speaker))
                author["source"]["agency"] = speaker.value
                cases.append(Case(speaker, event_type, SPOOFED_AUTHOR, author, False))
    return cases
