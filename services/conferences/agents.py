"""The conferences agent: batches of ``frontdoor.casework`` records to the handler. Nothing else."""

from __future__ import annotations

import faust

from schemas.topics import CASEWORK
from services.common.streaming import HandlerFactory, batch_agent
from services.conferences.config import ConferencesSettings


def register(app: faust.App, factory: HandlerFactory, settings: ConferencesSettings) -> None:
    batch_agent(
        app,
        CASEWORK.name,
        factory,
        name="conferences",
        max_batch=settings.max_batch,
        within=settings.batch_within_seconds,
    )
