"""The out-of-hours agents (faust runtime): casework to the crisis raiser, the crisis stream to the
night's record, and the automatic handover as an app task. Nothing else happens here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust

from schemas.topics import CASEWORK, CRISIS
from services.common.streaming import HandlerFactory, batch_agent
from services.outofhours.config import OohSettings


def register(
    app: faust.App,
    casework: HandlerFactory,
    record: HandlerFactory,
    scheduler: Callable[[], Awaitable[None]] | None,
    settings: OohSettings,
) -> None:
    for topic, factory, name in (
        (CASEWORK.name, casework, "outofhours-casework"),
        (CRISIS.name, record, "outofhours-record"),
    ):
        batch_agent(
            app,
            topic,
            factory,
            name=name,
            max_batch=settings.max_batch,
            within=settings.batch_within_seconds,
        )
    if scheduler is not None:
        app.task(scheduler)
