"""Every event model of the contract, one module per area of the front door.

``INBOUND_MODELS`` are the events partners publish to ``partner.events``; ``OUTBOUND_MODELS`` are
the events frontdoor's own services publish. Superseded versions stay listed so old records still
validate and upcast; ``schemas.registry`` builds its lookup from these two tuples.
"""

from __future__ import annotations

from schemas.envelope import EventBase
from schemas.events.casework import (
    AssessmentAuthorised,
    AssessmentStarted,
    CaseClosed,
    ReferralAccepted,
    ScreeningDecisionRecorded,
    VisitRecorded,
)
from schemas.events.conferences import (
    ConferenceInvitationIssued,
    ConferenceReportSubmitted,
    CoreGroupHeld,
    CpPlanEnded,
    IcpcHeld,
    RcpcHeld,
)
from schemas.events.contacts import ContactReceived, ContactReceivedV1, PoliceDaNotification
from schemas.events.education import EncompassNotified
from schemas.events.emergencies import (
    ChildMissingReported,
    PoliceProtectionEnded,
    PoliceProtectionStarted,
)
from schemas.events.enquiries import S47Completed, S47Started, StrategyDiscussionHeld
from schemas.events.outofhours import (
    OohActionRecorded,
    OohAlertRaised,
    OohHandoverAcknowledged,
    OohHandoverPublished,
)
from schemas.events.sla import SlaBreached, SlaCancelled, SlaMet, SlaStarted, SlaWarning
from schemas.events.triage import CrisisRaised, ScreeningTriaged
from schemas.events.workforce import WORKFORCE_INBOUND, WorkforceAlertRaised

INBOUND_MODELS: tuple[type[EventBase], ...] = (
    ContactReceivedV1,
    ContactReceived,
    PoliceDaNotification,
    ScreeningDecisionRecorded,
    ReferralAccepted,
    AssessmentStarted,
    AssessmentAuthorised,
    StrategyDiscussionHeld,
    S47Started,
    S47Completed,
    ConferenceReportSubmitted,
    IcpcHeld,
    CoreGroupHeld,
    RcpcHeld,
    CpPlanEnded,
    VisitRecorded,
    CaseClosed,
    OohActionRecorded,
    OohAlertRaised,
    PoliceProtectionStarted,
    PoliceProtectionEnded,
    ChildMissingReported,
    EncompassNotified,
    *WORKFORCE_INBOUND,
)

OUTBOUND_MODELS: tuple[type[EventBase], ...] = (
    ScreeningTriaged,
    CrisisRaised,
    SlaStarted,
    SlaWarning,
    SlaBreached,
    SlaMet,
    SlaCancelled,
    ConferenceInvitationIssued,
    OohHandoverPublished,
    OohHandoverAcknowledged,
    WorkforceAlertRaised,
)
