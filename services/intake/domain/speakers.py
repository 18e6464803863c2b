"""Who is speaking: the agency a record's transport proves, and the lane rule applied to it.

Kafka does not stamp a record with its producer's principal, and a producer chooses its own
headers, so intake trusts only what the broker's ACLs or frontdoor itself enforce
(deploy/kafka/README.md):

- a record on ``partner.events.<agency>`` was written by that agency: only its principal may
  write its lane;
- a record on ``partner.events`` was written by frontdoor's own principal (only it may write there
  in the per-agency ACL mode): ingress stamps the agency whose API key submitted it
  (``ingress.agency``), an operator's replay tool stamps ``frontdoor.replay`` and vouches for the
  history file's ``source.agency``.

A record on ``partner.events`` with neither stamp has no trusted speaker. In the default
``lanes`` mode it is refused (``agency_not_permitted``): an agency publishing there is
misconfigured, and could claim to be anyone. The ``single-tenant`` mode
(``FRONTDOOR_INTAKE_SPEAKERS=single-tenant``) is for one trusted integration hub that publishes
for every agency on the shared topic, with no per-agency principals: there the record's own
``source.agency`` is taken as the speaker. In every mode the role table and the payload's author
fields still apply (``schemas.roles.lane_violations``), so even a vouched-for record cannot carry a
type its claimed agency may not publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from schemas.envelope import Agency, EventBase
from schemas.roles import LaneViolation, RoleTable, lane_violations
from schemas.topics import PARTNER_EVENTS, REPLAY_HEADER, SPEAKER_HEADER, lane_agency
from services.common.deadletter import Origin, header_map


class SpeakerMode(StrEnum):
    LANES = "lanes"
    SINGLE_TENANT = "single-tenant"


class Via(StrEnum):
    """How the speaker was established (logged and audited beside a refusal)."""

    LANE = "lane"
    INGRESS = "ingress"
    REPLAY = "replay"
    SINGLE_TENANT = "single_tenant"
    NONE = "none"


@dataclass(frozen=True)
class Speaker:
    via: Via
    agency: Agency | None
    """The proven agency; ``None`` when the transport vouches for the record's own claim
    (replay, single-tenant) or proves nothing (``Via.NONE``)."""


class AgencyNotPermittedError(ValueError):
    """The record is outside its speaker's lane (``agency_not_permitted``). The message names
    the fields and rules, never a value from the record."""

    rule = "agency_not_permitted"

    def __init__(self, speaker: Speaker, violations: list[LaneViolation]) -> None:
        self.speaker = speaker
        self.violations = violations
        if violations:
            what = "; ".join(v.message for v in violations)
        else:
            what = (
                "no trusted speaker: partner.events carries only what frontdoor's ingress and "
                "replay tools write; an agency publishes on its own topic partner.events.<agency>"
            )
        super().__init__(f"{self.rule}: {what}")

    @property
    def rules(self) -> list[str]:
        return [v.rule for v in self.violations] or ["no_trusted_speaker"]


@dataclass(frozen=True)
class LaneRefusal:
    """The audit row of one refused record: where it was read, who spoke, what it claimed."""

    event_id: UUID
    event_type: str
    topic: str
    partition: int
    offset: int
    via: Via
    speaker: Agency | None
    claimed_agency: Agency
    rules: tuple[str, ...]

    @classmethod
    def of(cls, origin: Origin, event: EventBase, exc: AgencyNotPermittedError) -> LaneRefusal:
        return cls(
            event.event_id,
            event.event_type,
            origin.topic,
            origin.partition,
            origin.offset,
            exc.speaker.via,
            exc.speaker.agency,
            event.source.agency,
            tuple(exc.rules),
        )


def speaker_of(origin: Origin, mode: SpeakerMode) -> Speaker:
    """The speaker the record's transport establishes (see the module docstring)."""
    lane = lane_agency(origin.topic)
    if lane is not None:
        return Speaker(Via.LANE, lane)
    if origin.topic == PARTNER_EVENTS.name:
        headers = header_map(origin.headers)
        stamped = headers.get(SPEAKER_HEADER)
        if stamped is not None:
            try:
                return Speaker(Via.INGRESS, Agency(stamped))
            except ValueError:
                return Speaker(Via.NONE, None)
        if REPLAY_HEADER in headers:
            return Speaker(Via.REPLAY, None)
        if mode is SpeakerMode.SINGLE_TENANT:
            return Speaker(Via.SINGLE_TENANT, None)
    return Speaker(Via.NONE, None)


def judge(origin: Origin, event: EventBase, mode: SpeakerMode, roles: RoleTable) -> Speaker:
    """The record's speaker when the event is in its lane; ``AgencyNotPermittedError`` if not."""
    speaker = speaker_of(origin, mode)
    if speaker.via is Via.NONE:
        raise AgencyNotPermittedError(speaker, [])
    agency = speaker.agency or event.source.agency
    violations = lane_violations(agency, event, roles)
    if violations:
        raise AgencyNotPermittedError(speaker, violations)
    return speaker
