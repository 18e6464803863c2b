"""Running a handler through the real pipeline with in-memory ports, for unit tests.

``PipelineHarness`` wires a service's handler into ``services.common.pipeline.Pipeline`` with a
``MemoryLedger`` (which passes the same contract suite as the PostgreSQL ledger) and a recording
sender, so a unit test exercises decoding, de-duplication, the error policy and the outbox exactly
as a worker would — only the I/O is in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.common.deadletter import Origin
from services.common.ledger import MemoryLedger
from services.common.outbox import RecordingSender, Relay
from services.common.pipeline import Handler, Outcome, Pipeline, Subscription
from services.common.publishing import OutRecord

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


async def _unused(_resources: Any) -> Any:  # pragma: no cover - the harness passes the handler
    raise NotImplementedError


class PipelineHarness:
    def __init__(
        self,
        handler: Handler,
        *,
        consumer: str = "test.consumer",
        topic: str = "partner.events",
        group: str = "frontdoor-test",
        event_types: frozenset[str] | None = None,
        raw: bool = False,
        max_bytes: int | None = None,
        connection: Any = None,
        clock: Any = None,
        attempts: int = 3,
    ) -> None:
        self.ledger = MemoryLedger(connection=connection)
        self.sender = RecordingSender()
        self.subscription = Subscription(
            consumer=consumer,
            topic=topic,
            group=group,
            handler=_unused,  # type: ignore[arg-type]
            event_types=event_types,
            raw=raw,
            max_bytes=max_bytes,
        )
        self.pipeline = Pipeline(
            self.subscription,
            handler,
            self.ledger,
            Relay(self.ledger, self.sender),
            clock=clock or (lambda: NOW),
            attempts=attempts,
            backoff=(0.0, 0.0),
        )

    async def feed(self, origins: Sequence[Origin]) -> Outcome:
        return await self.pipeline.process(origins)

    @property
    def sent(self) -> list[OutRecord]:
        return self.sender.records

    def sent_to(self, topic: str) -> list[OutRecord]:
        return [r for r in self.sent if r.topic == topic]
