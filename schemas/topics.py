"""The public topic contract: every Kafka topic frontdoor uses, its partitions and its events.

Topics are created by the project with these explicit partition counts (never auto-created).
The record key of every topic is the child's id (``subject.child_id``, UTF-8), so all events about
one child stay in order on one partition; ``frontdoor.deadletter`` keeps the original record's
key. ``event_types`` lists what may appear on a topic (empty for the dead-letter topic, which
carries original records unchanged). A Kafka partner publishes to its own lane
``partner.events.<agency>``; ``partner.events`` carries what frontdoor's ingress and operator
tools write. Intake routes contacts to ``frontdoor.contacts``, the workforce to
``frontdoor.workforce`` and every other partner event to ``frontdoor.casework``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from schemas.envelope import Agency

KEY_DESCRIPTION = "The child's id (subject.child_id), UTF-8; all events about a child share it."


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str
    event_types: tuple[str, ...]


_CONTACT_TYPES = ("contact.received", "police.da_notification")
_CASEWORK_PARTNER_TYPES = (
    "screening.decision_recorded",
    "referral.accepted",
    "assessment.started",
    "assessment.authorised",
    "strategy_discussion.held",
    "s47.started",
    "s47.completed",
    "conference.report_submitted",
    "conference.icpc_held",
    "core_group.held",
    "conference.rcpc_held",
    "cp_plan.ended",
    "visit.recorded",
    "case.closed",
    "ooh.action_recorded",
    "ooh.alert_raised",
    "police.protection_started",
    "police.protection_ended",
    "child.missing_reported",
    "education.encompass_notified",
)

_WORKFORCE_PARTNER_TYPES = (
    "team.recorded",
    "worker.joined",
    "worker.changed",
    "worker.leave_started",
    "worker.leave_ended",
    "worker.left",
    "child.allocated",
    "child.reallocated",
    "child.unallocated",
    "supervision.held",
    "oversight.recorded",
    "asye.started",
    "asye.review_held",
    "asye.paused",
    "asye.completed",
    "audit.scheduled",
    "audit.completed",
    "audit.moderated",
)

PARTNER_EVENTS = Topic(
    "partner.events",
    8,
    "Everything partner systems publish; validated, de-duplicated and routed by intake.",
    _CONTACT_TYPES + _CASEWORK_PARTNER_TYPES + _WORKFORCE_PARTNER_TYPES,
)
PARTNER_LANES: Mapping[Agency, Topic] = MappingProxyType(
    {
        agency: Topic(
            f"partner.events.{agency.value}",
            2,
            f"What the {agency.value} agency publishes over Kafka: only its own principal may "
            "write here (deploy/kafka/acls.sh), so the topic names the speaker; intake checks "
            "every record against it and the role table (schemas/roles.toml).",
            PARTNER_EVENTS.event_types,
        )
        for agency in Agency
    }
)
"""Each agency's own Kafka lane. Two partitions: a lane carries one agency's traffic (the police,
the busiest, a few events a minute in a large borough), and every replica of intake reads it."""

LANE_PREFIX = "partner.events."

SPEAKER_HEADER = "ingress.agency"
"""On ``partner.events``: the agency a frontdoor front end authenticated — ingress (the agency's
API key) or the out-of-hours watch (the night worker's screen). Trusted because only frontdoor's
own principal may write ``partner.events`` (per-agency ACLs, deploy/kafka/acls.sh)."""

REPLAY_HEADER = "frontdoor.replay"
"""On ``partner.events``: written by an operator's tool (``frontdoor replay``) from a history
file; the operator vouches for ``source.agency``; the role table still applies."""


def partner_lane(agency: Agency | str) -> Topic:
    """The Kafka lane of one agency (``partner.events.<name>``); ``ValueError`` if unknown."""
    return PARTNER_LANES[Agency(agency)]


def lane_agency(topic: str) -> Agency | None:
    """The agency whose lane ``topic`` is, ``None`` for any other topic."""
    if not topic.startswith(LANE_PREFIX):
        return None
    try:
        return Agency(topic.removeprefix(LANE_PREFIX))
    except ValueError:
        return None


INTAKE_TOPICS: tuple[Topic, ...] = (PARTNER_EVENTS, *PARTNER_LANES.values())
"""Every topic intake reads: the shared topic and every agency's lane."""

CONTACTS = Topic(
    "frontdoor.contacts",
    8,
    "Accepted contacts and police domestic-abuse notifications, for screening.",
    _CONTACT_TYPES,
)
CASEWORK = Topic(
    "frontdoor.casework",
    8,
    "Accepted casework events from partners plus screening's triage results.",
    ("screening.triaged", *_CASEWORK_PARTNER_TYPES),
)
DEADLETTER = Topic(
    "frontdoor.deadletter",
    4,
    "Records that could not be decoded, failed validation or failed processing: the original "
    "key, value and headers plus dlq.* headers saying why. Replayable after a fix.",
    (),
)
CRISIS = Topic(
    "frontdoor.crisis",
    4,
    "What cannot wait for the next working day, for the out-of-hours team, and its handover.",
    ("crisis.raised", "ooh.handover_published", "ooh.handover_acknowledged"),
)
CONFERENCES = Topic(
    "frontdoor.conferences",
    8,
    "Conference invitations issued by frontdoor before they are fanned out to agency inboxes.",
    ("conference.invitation_issued",),
)
WORKFORCE = Topic(
    "frontdoor.workforce",
    8,
    "Teams, workers, allocations, supervision, ASYE and case audits from the council's HR and "
    "case system (directory events keyed 'workforce', the rest by child), plus the workforce "
    "service's alerts to team managers.",
    (*_WORKFORCE_PARTNER_TYPES, "workforce.alert_raised"),
)
SLA = Topic(
    "frontdoor.sla",
    4,
    "Statutory clock transitions: started, warning, breached, met, cancelled.",
    ("sla.started", "sla.warning", "sla.breached", "sla.met", "sla.cancelled"),
)

AGENCY_INBOXES: Mapping[Agency, Topic] = MappingProxyType(
    {
        agency: Topic(
            f"agency.{agency.value}.inbox",
            2,
            f"What the {agency.value} agency may see: its conference invitations.",
            ("conference.invitation_issued",),
        )
        for agency in Agency
    }
)


def agency_inbox(agency: Agency | str) -> Topic:
    """The inbox topic of one agency (``agency.<name>.inbox``); ``ValueError`` if unknown."""
    return AGENCY_INBOXES[Agency(agency)]


ALL_TOPICS: tuple[Topic, ...] = (
    PARTNER_EVENTS,
    *PARTNER_LANES.values(),
    CONTACTS,
    CASEWORK,
    DEADLETTER,
    CRISIS,
    CONFERENCES,
    SLA,
    WORKFORCE,
    *AGENCY_INBOXES.values(),
)

DLQ_HEADERS: tuple[str, ...] = (
    "dlq.reason",
    "dlq.exception.class",
    "dlq.exception.message",
    "dlq.original.topic",
    "dlq.original.partition",
    "dlq.original.offset",
    "dlq.consumer.group",
    "dlq.failed.at",
)
"""Headers added to every dead-letter record (documented in the AsyncAPI document)."""
