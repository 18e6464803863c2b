"""Consumer lag in seconds, the kafka-lag-exporter way: interpolate when an offset was produced.

Every poll records the partition's log end with the wall time it was read into a small table (a
`ProduceTimeline`). A sample (E, t) says "by time t every record below offset E existed". The
lag in seconds of a group whose committed offset is C is ``now − t(C)``, where t(C) estimates
when record C (the oldest one the group has not processed) was produced:

- C at or beyond the newest log end → the group is caught up: 0 s.
- C between two samples → linear interpolation on the newest segment that contains C; a record
  that arrived between two polls is placed on the line between them.
- C below the oldest sample → linear extrapolation along the whole table (oldest to newest), marked
  ``extrapolated``; when the table is one flat line there is no slope, and the oldest sample's
  time is returned as a lower bound (the record is at least that old), also marked.
- fewer than two samples and not caught up → unknown (``None``), as kafka-lag-exporter reports NaN.

The table keeps at most ``limit`` samples. Flat runs (the log end did not move) are compressed to
their first and latest sample, so an idle partition does not push its history out of the table,
and the first time of a log end is never lost. A sample older than the newest is ignored; a log
end lower than the newest (a topic recreated after a restart of the in-memory broker) starts a new
table, because the old history describes offsets that no longer exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DEFAULT_POINTS = 300


class OffsetSample(BaseModel):
    """The log end of a partition as read at ``at``."""

    model_config = ConfigDict(frozen=True)

    offset: int = Field(ge=0)
    at: AwareDatetime


class TimeLag(BaseModel):
    """An estimate of a group's lag on a partition, in seconds (never negative)."""

    model_config = ConfigDict(frozen=True)

    seconds: float = Field(ge=0)
    extrapolated: bool = False


class ProduceTimeline(BaseModel):
    """(log end, wall time) samples of one partition, oldest first, at most ``limit``."""

    model_config = ConfigDict(frozen=True)

    limit: int = Field(default=DEFAULT_POINTS, ge=2)
    samples: tuple[OffsetSample, ...] = ()

    def add(self, sample: OffsetSample) -> ProduceTimeline:
        samples = self.samples
        if samples:
            newest = samples[-1]
            if sample.at <= newest.at:
                return self
            if sample.offset < newest.offset:
                return ProduceTimeline(limit=self.limit, samples=(sample,))
            flat_run = (
                sample.offset == newest.offset
                and len(samples) > 1
                and samples[-2].offset == newest.offset
            )
            if flat_run:
                return ProduceTimeline(limit=self.limit, samples=(*samples[:-1], sample))
        return ProduceTimeline(limit=self.limit, samples=(*samples, sample)[-self.limit :])

    @property
    def newest(self) -> OffsetSample | None:
        return self.samples[-1] if self.samples else None

    def produced_at(self, offset: int) -> tuple[datetime, bool] | None:
        """When record ``offset`` was produced, and whether that is extrapolated; None if unknown.

        Only meaningful below the newest log end (at or above it nothing is waiting).
        """
        samples = self.samples
        if len(samples) < 2:
            return None
        for left, right in reversed(list(pairwise(samples))):
            if left.offset <= offset <= right.offset and right.offset > left.offset:
                return _on_line(left, right, offset), False
        head, tail = samples[0], samples[-1]
        if tail.offset > head.offset:
            return _on_line(head, tail, offset), True
        return head.at, True


def _on_line(left: OffsetSample, right: OffsetSample, offset: int) -> datetime:
    """The time at which the line through ``left`` and ``right`` reaches ``offset``."""
    span = (right.at - left.at).total_seconds()
    per_record = span / (right.offset - left.offset)
    return right.at - timedelta(seconds=(right.offset - offset) * per_record)


def lag_seconds(timeline: ProduceTimeline, committed: int, *, now: datetime) -> TimeLag | None:
    """How long the oldest record ``committed`` has not processed has been waiting."""
    newest = timeline.newest
    if newest is not None and committed >= newest.offset:
        return TimeLag(seconds=0.0)
    estimate = timeline.produced_at(committed)
    if estimate is None:
        return None
    produced, extrapolated = estimate
    return TimeLag(seconds=max(0.0, (now - produced).total_seconds()), extrapolated=extrapolated)
