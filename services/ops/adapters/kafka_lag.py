"""Reads consumer-group offsets and log ends from the broker: one `Observation` per poll.

Written for both Apache Kafka and the embedded Tansu broker (REFERENCE.md). Each poll lists the
topics (metadata) and consumer groups (ListGroups), describes the groups for their state and
member count, fetches each group's committed offsets naming every partition explicitly (Tansu
breaks the connection on an OffsetFetch for all topics), and only then reads every partition's log
end from a fetch high watermark (`LogEndReader`; Tansu's ``ListOffsets(latest)`` is wrong) and
oldest offset (``ListOffsets(earliest)``, right on both). Committed offsets are read before log
ends so that a lag is never negative. Group coordinators are remembered and looked up again only
after an error. Topics whose names start with ``__`` are the broker's own and are skipped.

It is the `ObservationSource` the `LagPoller` (services.ops.handlers) polls.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.common.kafka import LogEndReader, security_kwargs
from services.ops.domain.lag import GroupObservation, Observation
from services.ops.handlers import SourceUnavailableError

log = structlog.get_logger(__name__)


class KafkaLagSource:
    """One `Observation` of every topic partition and consumer group per `observe()` call."""

    def __init__(self, bootstrap: str, *, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security_kwargs()
        )
        self._ends = LogEndReader(bootstrap)
        self._coordinators: dict[str, int] = {}

    async def start(self) -> None:
        try:
            await self._admin.start()
            await self._ends.start()
        except KafkaError as exc:
            await self.stop()
            raise SourceUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._ends.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def _partitions(self) -> list[TopicPartition]:
        topics = await self._admin.describe_topics()
        return sorted(
            TopicPartition(t["topic"], p["partition"])
            for t in topics
            if not t["error_code"] and not t["topic"].startswith("__")
            for p in t["partitions"]
        )

    async def _coordinator(self, group: str) -> int:
        if group not in self._coordinators:
            self._coordinators[group] = await self._admin.find_coordinator(group)
        return self._coordinators[group]

    async def _describe(self, group: str) -> dict[str, Any]:
        node = await self._coordinator(group)
        (response,) = await self._admin.describe_consumer_groups([group], group_coordinator_id=node)
        found: list[dict[str, Any]] = response.to_object()["groups"]
        return next((g for g in found if g["group"] == group), {"state": "", "members": []})

    async def _group(self, group: str, partitions: list[TopicPartition]) -> GroupObservation:
        try:
            description = await self._describe(group)
            offsets = await self._admin.list_consumer_group_offsets(
                group, group_coordinator_id=await self._coordinator(group), partitions=partitions
            )
        except KafkaError:
            self._coordinators.pop(group, None)
            raise
        return GroupObservation(
            group=group,
            state=str(description.get("state", "")),
            members=len(description.get("members", ())),
            committed={(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()},
        )

    async def observe(self) -> Observation:
        try:
            return await self._observe()
        except KafkaError as exc:
            raise SourceUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def _observe(self) -> Observation:
        partitions = await self._partitions()
        listed = await self._admin.list_consumer_groups()
        names = sorted({str(entry[0]) for entry in listed})
        groups: list[GroupObservation] = []
        for name in names:
            try:
                groups.append(await self._group(name, partitions))
            except KafkaError as exc:
                log.warning("lag_group_unreadable", group=name, error=type(exc).__name__)
        ends = await self._ends.read(partitions)
        at = self._clock()  # every log end read by now: "records below E existed at `at`"
        starts = await self._ends.read_starts(partitions)
        return Observation(
            at=at,
            log_ends={(tp.topic, tp.partition): end for tp, end in ends.items()},
            log_starts={(tp.topic, tp.partition): start for tp, start in starts.items()},
            groups=tuple(groups),
        )
