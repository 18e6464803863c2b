"""The SLA agents: batches from every lifecycle topic to the timer handler, and the scanner task.

One thin batch agent per lifecycle topic (the handler is shared; faust cannot hand one agent
several topics through ``batch_agent``) and one app task that runs the leader-only scanner for
as long as the worker runs. Nothing else happens here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import faust

from schemas.topics import Topic
from services.common.streaming import HandlerFactory, batch_agent
from services.sla.config import SlaSettings


def register(
    app: faust.App,
    topics: Sequence[Topic],
    timers: HandlerFactory,
    scanner: Callable[[], Awaitable[None]],
    settings: SlaSettings,
) -> None:
    for topic in topics:
        batch_agent(
            app,
            topic.name,
            timers,
            name=f"sla-{topic.name.rsplit('.', 1)[-1]}",
            max_batch=settings.max_batch,
            within=settings.batch_within_seconds,
        )
    app.task(scanner)
