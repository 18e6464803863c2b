"""The deadletter agent: batches of ``frontdoor.deadletter`` records to its handler."""

from __future__ import annotations

import faust

from schemas.topics import DEADLETTER
from services.common.streaming import HandlerFactory, batch_agent


def register(app: faust.App, factory: HandlerFactory) -> None:
    batch_agent(app, DEADLETTER.name, factory, name="deadletter", max_batch=500, within=0.1)
