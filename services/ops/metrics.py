"""``/metrics``: consumer lag under the conventional exporter names, and frontdoor's own figures.

A custom collector renders the newest lag report and boards at scrape time (nothing is queried
during a scrape). Names and labels follow kafka_exporter (the consumer group is the
``consumergroup`` label, as its Grafana dashboards and alert rules expect; nothing of frontdoor's
reads a ``group`` label, so there is no second spelling), so existing alerts and panels work
unchanged:

- ``kafka_consumergroup_current_offset{consumergroup,topic,partition}`` committed offset (−1:
  none yet)
- ``kafka_consumergroup_lag{consumergroup,topic,partition}`` log end − committed (−1: no commit)
- ``kafka_consumergroup_lag_seconds{consumergroup,topic,partition}`` interpolated time lag;
  absent while unknown (fewer than two log-end samples)
- ``kafka_consumergroup_lag_sum{consumergroup}``, ``kafka_consumergroup_max_lag{consumergroup}``,
  ``kafka_consumergroup_max_lag_seconds{consumergroup}``,
  ``kafka_consumergroup_members{consumergroup}``
- ``kafka_topic_partition_current_offset{topic,partition}`` log end (fetch high watermark),
  ``kafka_topic_partition_oldest_offset{topic,partition}``

and frontdoor's: ``frontdoor_consumergroup_status{consumergroup,status}`` (1 for the group's
Burrow status, OK / WARN / ERR), ``frontdoor_sla_open{kind}``, ``frontdoor_sla_overdue{kind}``,
``frontdoor_sla_breached_total{kind}`` (clocks ever breached),
``frontdoor_sla_breach_announce_delay_seconds{kind}`` (the longest wait from a deadline to its
breach being recorded by the SLA scanner, among breaches of the last 15 minutes; 0 when none),
``frontdoor_sla_breach_unannounced_seconds{kind}`` (how long the oldest clock past its deadline has
waited for its breach to be recorded at all; 0 when none: a stopped scanner shows here first),
``frontdoor_deadletter_total{reason}`` (dead letters ever received),
``frontdoor_agency_not_permitted_total{agency}`` (records intake refused for leaving their
speaker's lane, per claimed agency, every agency listed from zero: any increase is a security
incident) and the histogram
``frontdoor_event_to_view_latency_seconds`` (partner publish to ``events.recorded_at``;
services.ops.domain.latency says exactly what is measured).
Each app has its own registry, so several in one process (the tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.ops.domain.burrow import GroupStatus
from services.ops.domain.lag import LagReport
from services.ops.handlers import Boards

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
GROUP = "consumergroup"
GTP = [GROUP, "topic", "partition"]


def _lag_families(report: LagReport) -> Iterable[Metric]:
    current = GaugeMetricFamily(
        "kafka_consumergroup_current_offset", "Committed offset (-1: none yet).", labels=GTP
    )
    lag = GaugeMetricFamily(
        "kafka_consumergroup_lag", "Log end minus committed offset (-1: no commit yet).", labels=GTP
    )
    seconds = GaugeMetricFamily(
        "kafka_consumergroup_lag_seconds",
        "Seconds the oldest unprocessed record has waited (interpolated from produce times).",
        labels=GTP,
    )
    lag_sum = GaugeMetricFamily("kafka_consumergroup_lag_sum", "Sum of lag.", labels=[GROUP])
    max_lag = GaugeMetricFamily("kafka_consumergroup_max_lag", "Largest lag.", labels=[GROUP])
    max_seconds = GaugeMetricFamily(
        "kafka_consumergroup_max_lag_seconds", "Largest time lag.", labels=[GROUP]
    )
    members = GaugeMetricFamily(
        "kafka_consumergroup_members", "Members of the group.", labels=[GROUP]
    )
    status = GaugeMetricFamily(
        "frontdoor_consumergroup_status",
        "Burrow-style group status: 1 on the current one (OK, WARN, ERR).",
        labels=[GROUP, "status"],
    )
    for group in report.groups:
        for p in group.partitions:
            labels = [group.group, p.topic, str(p.partition)]
            current.add_metric(labels, p.committed)
            lag.add_metric(labels, p.lag)
            if p.lag_seconds is not None:
                seconds.add_metric(labels, p.lag_seconds)
        lag_sum.add_metric([group.group], group.lag_sum)
        max_lag.add_metric([group.group], group.max_lag)
        if group.max_lag_seconds is not None:
            max_seconds.add_metric([group.group], group.max_lag_seconds)
        members.add_metric([group.group], group.members)
        for s in GroupStatus:
            status.add_metric([group.group, s.value], 1 if group.status is s else 0)
    end = GaugeMetricFamily(
        "kafka_topic_partition_current_offset",
        "Log end offset (fetch high watermark).",
        labels=["topic", "partition"],
    )
    oldest = GaugeMetricFamily(
        "kafka_topic_partition_oldest_offset", "Oldest offset.", labels=["topic", "partition"]
    )
    for tp in report.partitions:
        end.add_metric([tp.topic, str(tp.partition)], tp.log_end)
        if tp.oldest is not None:
            oldest.add_metric([tp.topic, str(tp.partition)], tp.oldest)
    return (current, lag, seconds, lag_sum, max_lag, max_seconds, members, status, end, oldest)


def _board_families(boards: Boards) -> Iterable[Metric]:
    totals = boards.sla_totals
    open_ = GaugeMetricFamily("frontdoor_sla_open", "SLA clocks running.", labels=["kind"])
    overdue = GaugeMetricFamily(
        "frontdoor_sla_overdue", "SLA clocks breached and still owed.", labels=["kind"]
    )
    breached = CounterMetricFamily(
        "frontdoor_sla_breached", "SLA clocks ever breached.", labels=["kind"]
    )
    delay = GaugeMetricFamily(
        "frontdoor_sla_breach_announce_delay_seconds",
        "Longest wait from a deadline to its breach being recorded, over the last 15 minutes.",
        labels=["kind"],
    )
    waiting = GaugeMetricFamily(
        "frontdoor_sla_breach_unannounced_seconds",
        "How long the oldest clock past its deadline has waited for its breach to be recorded.",
        labels=["kind"],
    )
    kinds = (
        totals.open.keys()
        | totals.overdue.keys()
        | totals.breached.keys()
        | totals.announce_delay.keys()
        | totals.unannounced.keys()
    )
    for kind in sorted(kinds):
        open_.add_metric([kind], totals.open.get(kind, 0))
        overdue.add_metric([kind], totals.overdue.get(kind, 0))
        breached.add_metric([kind], totals.breached.get(kind, 0))
        delay.add_metric([kind], totals.announce_delay.get(kind, 0.0))
        waiting.add_metric([kind], totals.unannounced.get(kind, 0.0))
    dead = CounterMetricFamily(
        "frontdoor_deadletter", "Dead letters received, by dlq.reason.", labels=["reason"]
    )
    for reason in boards.deadletters.by_reason:
        dead.add_metric([reason.reason], reason.total)
    refused = CounterMetricFamily(
        "frontdoor_agency_not_permitted",
        "Records intake refused as outside their speaker's lane (agency_not_permitted), "
        "by claimed agency. Any increase is a security incident.",
        labels=["agency"],
    )
    for line in boards.lanes.by_agency:
        refused.add_metric([line.agency], line.total)
    return (open_, overdue, breached, delay, waiting, dead, refused)


class OpsCollector(Collector):
    def __init__(
        self, lag: Callable[[], LagReport | None], boards: Callable[[], Boards | None]
    ) -> None:
        self._lag = lag
        self._boards = boards

    def collect(self) -> Iterable[Metric]:
        if (report := self._lag()) is not None:
            yield from _lag_families(report)
        if (boards := self._boards()) is not None:
            yield from _board_families(boards)


class OpsMetrics:
    def __init__(
        self, lag: Callable[[], LagReport | None], boards: Callable[[], Boards | None]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(OpsCollector(lag, boards))
        self.latency = Histogram(
            "frontdoor_event_to_view_latency_seconds",
            "Partner publish (record timestamp on partner.events) to events.recorded_at.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_latency(self, seconds: float) -> None:
        self.latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
