"""The intake agent: batches of ``partner.events`` records to the intake handler. Nothing else."""

from __future__ import annotations

import faust

from schemas.topics import PARTNER_EVENTS
from services.common.streaming import HandlerFactory, batch_agent
from services.intake.config import IntakeSettings


def register(app: faust.App, factory: HandlerFactory, settings: IntakeSettings) -> None:
    batch_agent(
        app,
        PARTNER_EVENTS.name,
        factory,
        name="intake",
        max_batch=settings.max_batch,
        within=settings.batch_within_seconds,
    )
