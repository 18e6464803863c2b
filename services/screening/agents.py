"""The screening agents: contacts to the triage handler, casework to the decision handler.

Two thin agents on one faust app: batches of ``frontdoor.contacts`` records go to triage, batches
of ``frontdoor.casework`` records go to the decision handler (which keeps only
``screening.decision_recorded``). Nothing else happens here.
"""

from __future__ import annotations

import faust

from schemas.topics import CASEWORK, CONTACTS
from services.common.streaming import HandlerFactory, batch_agent
from services.screening.config import ScreeningSettings


def register(
    app: faust.App,
    triage: HandlerFactory,
    decisions: HandlerFactory,
    settings: ScreeningSettings,
) -> None:
    batch_agent(
        app,
        CONTACTS.name,
        triage,
        name="screening-triage",
        max_batch=settings.max_batch,
        within=settings.batch_within_seconds,
    )
    batch_agent(
        app,
        CASEWORK.name,
        decisions,
        name="screening-decisions",
        max_batch=settings.decisions_max_batch,
        within=settings.decisions_within_seconds,
    )
