"""The workforce behind the front door: teams, workers, allocations, supervision, ASYE, audits.

Published by the council's HR / case system (agency ``social_care``, services/ingress/roles.toml)
to ``partner.events`` and routed by intake to ``frontdoor.workforce``. Invariants every model
keeps: a team and a worker are named by a stable id (``TeamId`` / ``WorkerId``, the same string
the case system writes in the ``team`` / ``worker`` fields of casework events, which therefore
resolve to these ids); the events about the directory (teams, workers, leave, supervision, ASYE)
are not about a child, so their ``subject.child_id`` is the fixed directory key ``workforce``
(one key → one partition → the directory stays in order); allocation, oversight and audit events
are about a child and keyed by the child as every other event. Moments that start or stop a
clock are ``AwareDatetime``; days an HR record holds as a date (start, leaving, leave) are
``date``. No worker names: workers are ids; the CSWW ``SWENo`` is a registration number.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from schemas.envelope import SAFE_ID_PATTERN, ChildId, EventBase, Narrative, Payload, ShortText
from schemas.events.audits import AuditCompleted, AuditModerated, AuditScheduled, WorkerId

DIRECTORY_KEY = "workforce"
"""``subject.child_id`` of every event about the directory rather than a child."""

TeamId = Annotated[str, StringConstraints(pattern=SAFE_ID_PATTERN, min_length=1, max_length=64)]
SweNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}\d{10}$")]
"""Social Work England registration number (CSWW ``SWENo``)."""
Fte = Annotated[Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6)]


class DirectoryEvent(EventBase):
    """An event about the directory: its subject is the fixed key ``workforce``, not a child."""

    @model_validator(mode="after")
    def _directory_key(self) -> Self:
        if self.subject.child_id != DIRECTORY_KEY:
            raise ValueError(f"subject.child_id must be {DIRECTORY_KEY!r} for a directory event")
        return self


class Role(StrEnum):
    """A worker's role; ``org_role`` maps it to the CSWW ``OrgRole`` code."""

    SENIOR_MANAGER = "senior_manager"
    MIDDLE_MANAGER = "middle_manager"
    FIRST_LINE_MANAGER = "first_line_manager"
    SENIOR_PRACTITIONER = "senior_practitioner"
    CASE_HOLDER = "case_holder"
    QUALIFIED_NO_CASES = "qualified_no_cases"

    @property
    def org_role(self) -> int:
        return list(Role).index(self) + 1


class StartOrigin(StrEnum):
    """CSWW ``StartOrigin`` codes (DfE CSWW 2022 XSD ``origintype``): where a starter came from."""

    NEWLY_QUALIFIED = "1"
    SOCIAL_WORK_OTHER_LA = "2"
    SOCIAL_WORK_OUTSIDE_ENGLAND = "3"
    AGENCY_OR_CONSULTANCY = "4"
    OTHER_SOCIAL_WORK_NON_LA = "5"
    OTHER_SOCIAL_CARE_ROLE = "6"
    NON_SOCIAL_CARE_OR_BREAK = "7"
    OTHER = "8"
    NOT_KNOWN = "9"
    NOT_YET_COLLECTED = "10"


class ReasonLeave(StrEnum):
    """CSWW ``ReasonLeave`` codes (2022 XSD ``reasontype``)."""

    RESIGNATION = "1"
    VOLUNTARY_REDUNDANCY = "2"
    COMPULSORY_REDUNDANCY = "3"
    DISMISSED = "4"
    RETIRED = "5"
    DECEASED = "6"
    NON_CHILDREN_ROLE_WITHIN_LA = "7"
    OTHER = "8"
    NOT_KNOWN = "9"
    NOT_YET_COLLECTED = "10"


class LeaverDestination(StrEnum):
    """CSWW ``LeaverDestination`` codes (2022 XSD ``leavertype``)."""

    SOCIAL_WORK_OTHER_LA = "1"
    SOCIAL_WORK_OUTSIDE_ENGLAND = "2"
    AGENCY_OR_CONSULTANCY = "3"
    OTHER_SOCIAL_WORK_NON_LA = "4"
    OTHER_SOCIAL_CARE_ROLE = "5"
    NON_SOCIAL_CARE_OR_BREAK = "6"
    OTHER = "7"
    NOT_KNOWN = "8"
    NOT_YET_COLLECTED = "9"


class CensusDetails(Payload):
    """What the CSWW census asks of a non-agency worker beyond the role. Personal data."""

    birth_date: date | None = Field(default=None, description="PersonBirthDate.")
    gender: Literal["0", "1", "2", "9"] | None = Field(default=None, description="GenderCurrent.")
    ethnicity: Annotated[str, StringConstraints(pattern=r"^[A-Z]{4}$")] | None = None
    qualification_institution: ShortText | None = Field(default=None, description="QualInst.")
    qualification_level: Literal["1", "2", "3"] | None = Field(
        default=None, description="QualLevel."
    )
    step_up_graduate: bool | None = None
    frontline_graduate: bool | None = None


class LeaveReason(StrEnum):
    """CSWW ``ReasonAbsence`` codes for long leave."""

    MATERNITY_PATERNITY = "MAT"
    OTHER_PAID = "OTH"
    PUBLIC_DUTIES = "PUB"
    SICKNESS = "SIC"
    TRAINING = "TRN"
    UNAUTHORISED = "UNA"
    UNPAID = "UNP"


class Programme(StrEnum):
    """The early-career programme a newly qualified worker is on."""

    CWDC_NQSW = "cwdc_nqsw"
    ASYE = "asye"
    ECDP = "ecdp"


class TeamRecordedPayload(Payload):
    team_id: TeamId
    name: ShortText
    manager_id: WorkerId | None = Field(default=None, description="The team manager.")
    parent_team_id: TeamId | None = Field(default=None, description="The service it sits in.")
    weighting_profile: ShortText | None = Field(
        default=None, description="The caseload profile of this team, if not the default."
    )
    establishment_fte: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=9,
        decimal_places=6,
        description="Funded social worker posts (FTE); vacancies are the posts not filled by "
        "the team's own (non-agency) workers, as the CSWW census counts them.",
    )


class TeamRecorded(DirectoryEvent):
    """A team, its manager and its parent, as of ``occurred_at`` (a later record replaces it)."""

    event_type: Literal["team.recorded"]
    schema_version: Literal[1]
    payload: TeamRecordedPayload


class WorkerJoinedPayload(Payload):
    worker_id: WorkerId
    team_id: TeamId
    role: Role
    fte: Fte
    employed_from: date = Field(description="First day of employment in this role (RoleStartDate).")
    agency_worker: bool = False
    newly_qualified: bool = Field(default=False, description="Starts as an NQSW (ASYE).")
    swe_number: SweNumber | None = None
    start_origin: StartOrigin | None = None
    case_holder: bool = True
    census: CensusDetails | None = Field(default=None, description="CSWW items. Personal data.")


class WorkerJoined(DirectoryEvent):
    event_type: Literal["worker.joined"]
    schema_version: Literal[1]
    payload: WorkerJoinedPayload


class WorkerChangedPayload(Payload):
    worker_id: WorkerId
    effective_from: date
    role: Role | None = None
    fte: Fte | None = None
    team_id: TeamId | None = None
    case_holder: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if (self.role, self.fte, self.team_id, self.case_holder) == (None, None, None, None):
            raise ValueError("a change names at least one of role, fte, team_id, case_holder")
        return self


class WorkerChanged(DirectoryEvent):
    event_type: Literal["worker.changed"]
    schema_version: Literal[1]
    payload: WorkerChangedPayload


class LeaveStartedPayload(Payload):
    worker_id: WorkerId
    starts_on: date
    reason: LeaveReason


class LeaveStarted(DirectoryEvent):
    """Long leave began: supervision and the ASYE pause from ``starts_on``."""

    event_type: Literal["worker.leave_started"]
    schema_version: Literal[1]
    payload: LeaveStartedPayload


class LeaveEndedPayload(Payload):
    worker_id: WorkerId
    returned_on: date = Field(description="First working day back.")


class LeaveEnded(DirectoryEvent):
    event_type: Literal["worker.leave_ended"]
    schema_version: Literal[1]
    payload: LeaveEndedPayload


class WorkerLeftPayload(Payload):
    worker_id: WorkerId
    left_on: date = Field(description="Last day in the role (RoleEndDate).")
    reason: ReasonLeave
    destination: LeaverDestination | None = None


class WorkerLeft(DirectoryEvent):
    event_type: Literal["worker.left"]
    schema_version: Literal[1]
    payload: WorkerLeftPayload


class CaseType(StrEnum):
    """What a child's case is, for weighting and oversight intervals."""

    ASSESSMENT = "assessment"
    CIN = "cin"
    CP = "cp"
    CLA = "cla"
    CARE_LEAVER = "care_leaver"


class UnallocationReason(StrEnum):
    CASE_CLOSED = "case_closed"
    WORKER_LEFT = "worker_left"
    WORKER_ON_LEAVE = "worker_on_leave"
    TRANSFERRED = "transferred"
    CASELOAD = "caseload"
    OTHER = "other"


class ChildAllocatedPayload(Payload):
    worker_id: WorkerId
    team_id: TeamId
    allocated_at: AwareDatetime
    case_type: CaseType
    co_worker_id: WorkerId | None = Field(default=None, description="A co-working practitioner.")
    referral_id: UUID | None = None


class ChildAllocated(EventBase):
    """A child's case given to a worker (stops the referral → allocation clock)."""

    event_type: Literal["child.allocated"]
    schema_version: Literal[1]
    payload: ChildAllocatedPayload


class ChildReallocatedPayload(Payload):
    from_worker_id: WorkerId
    worker_id: WorkerId
    team_id: TeamId
    allocated_at: AwareDatetime
    case_type: CaseType
    reason: UnallocationReason
    co_worker_id: WorkerId | None = None


class ChildReallocated(EventBase):
    event_type: Literal["child.reallocated"]
    schema_version: Literal[1]
    payload: ChildReallocatedPayload


class ChildUnallocatedPayload(Payload):
    worker_id: WorkerId
    unallocated_at: AwareDatetime
    reason: UnallocationReason


class ChildUnallocated(EventBase):
    event_type: Literal["child.unallocated"]
    schema_version: Literal[1]
    payload: ChildUnallocatedPayload


class SupervisionKind(StrEnum):
    PROFESSIONAL = "professional"
    CASE = "case"
    GROUP = "group"


class CaseSupervisionEntry(Payload):
    """One child discussed: an entry for the child's record (never the worker's file)."""

    child_id: ChildId
    decision: Narrative | None = Field(default=None, description="What was decided. Personal data.")


class SupervisionHeldPayload(Payload):
    worker_id: WorkerId
    supervisor_id: WorkerId
    kind: SupervisionKind
    started_at: AwareDatetime
    duration_minutes: int = Field(ge=1, le=600)
    interrupted: bool = False
    children: tuple[CaseSupervisionEntry, ...] = Field(default=(), max_length=200)


class SupervisionHeld(DirectoryEvent):
    """A supervision session (under 90 minutes or interrupted: recorded, flagged, not counted)."""

    event_type: Literal["supervision.held"]
    schema_version: Literal[1]
    payload: SupervisionHeldPayload


class OversightRecordedPayload(Payload):
    manager_id: WorkerId
    recorded_at: AwareDatetime
    note: Narrative = Field(description="The management oversight note. Personal data.")


class OversightRecorded(EventBase):
    """A management oversight note on the child's record."""

    event_type: Literal["oversight.recorded"]
    schema_version: Literal[1]
    payload: OversightRecordedPayload


class AsyeStartedPayload(Payload):
    worker_id: WorkerId
    starts_on: date
    programme: Programme = Programme.ASYE
    assessor_id: WorkerId | None = None


class AsyeStarted(DirectoryEvent):
    event_type: Literal["asye.started"]
    schema_version: Literal[1]
    payload: AsyeStartedPayload


class AsyeReviewHeldPayload(Payload):
    worker_id: WorkerId
    review_month: int = Field(ge=1, le=24, description="The review it is: 3, 6, 9, 12 (months).")
    held_on: date


class AsyeReviewHeld(DirectoryEvent):
    event_type: Literal["asye.review_held"]
    schema_version: Literal[1]
    payload: AsyeReviewHeldPayload


class AsyePausedPayload(Payload):
    worker_id: WorkerId
    paused_from: date
    resumes_on: date
    reason: Literal["long_leave", "part_time", "other"] = Field(
        description="Never capability: the ASYE is not paused for capability."
    )

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.resumes_on <= self.paused_from:
            raise ValueError("resumes_on must be after paused_from")
        return self


class AsyePaused(DirectoryEvent):
    event_type: Literal["asye.paused"]
    schema_version: Literal[1]
    payload: AsyePausedPayload


class AsyeCompletedPayload(Payload):
    worker_id: WorkerId
    completed_on: date
    outcome: Literal["passed", "not_passed", "withdrawn"]


class AsyeCompleted(DirectoryEvent):
    event_type: Literal["asye.completed"]
    schema_version: Literal[1]
    payload: AsyeCompletedPayload


class AlertRule(StrEnum):
    CASELOAD_CAP = "caseload_cap"
    NQSW_CP_NOT_CO_WORKED = "nqsw_cp_not_co_worked"


class WorkforceAlertPayload(Payload):
    rule: AlertRule
    team_id: TeamId
    manager_id: WorkerId | None
    worker_id: WorkerId
    allocation_event_id: UUID = Field(description="The allocation that broke the rule.")
    raised_at: AwareDatetime = Field(description="The allocation's time (event time).")
    profile: ShortText = Field(description="The dated workforce profile the rule came from.")
    points: Decimal | None = Field(default=None, description="Weighted load after the allocation.")
    cap: Decimal | None = None


class WorkforceAlertRaised(EventBase):
    """An allocation broke a caseload cap or an NQSW protection: for the team manager, once."""

    event_type: Literal["workforce.alert_raised"]
    schema_version: Literal[1]
    payload: WorkforceAlertPayload


DIRECTORY_MODELS: tuple[type[EventBase], ...] = (
    TeamRecorded,
    WorkerJoined,
    WorkerChanged,
    LeaveStarted,
    LeaveEnded,
    WorkerLeft,
    SupervisionHeld,
    AsyeStarted,
    AsyeReviewHeld,
    AsyePaused,
    AsyeCompleted,
)
CHILD_MODELS: tuple[type[EventBase], ...] = (
    ChildAllocated,
    ChildReallocated,
    ChildUnallocated,
    OversightRecorded,
    AuditScheduled,
    AuditCompleted,
    AuditModerated,
)
WORKFORCE_INBOUND: tuple[type[EventBase], ...] = DIRECTORY_MODELS + CHILD_MODELS
