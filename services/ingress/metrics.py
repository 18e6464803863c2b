"""Prometheus metrics of partner ingress, served at ``/metrics``.

``frontdoor_ingress_requests_total{agency,status,code}`` counts answers (``agency`` is
``unauthenticated`` before a key is verified), ``frontdoor_ingress_events_total{agency,result}``
counts events accepted and rejected, ``frontdoor_ingress_request_seconds`` is the handling time.
Each app gets its own registry, so several apps in one process (the tests) do not collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from services.ingress.audit import AuditEntry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class IngressMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "frontdoor_ingress_requests",
            "Requests to POST /v1/events by agency, status and problem code.",
            ["agency", "status", "code"],
            registry=self.registry,
        )
        self.events = Counter(
            "frontdoor_ingress_events",
            "Events submitted, by agency and result (accepted, rejected).",
            ["agency", "result"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "frontdoor_ingress_request_seconds",
            "Time to answer POST /v1/events.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
            registry=self.registry,
        )

    def observe(self, entry: AuditEntry) -> None:
        agency = entry.agency or "unauthenticated"
        self.requests.labels(agency, str(entry.status), entry.code or "").inc()
        if entry.accepted_ids:
            self.events.labels(agency, "accepted").inc(len(entry.accepted_ids))
        if entry.events_rejected:
            self.events.labels(agency, "rejected").inc(entry.events_rejected)
        self.seconds.observe(entry.duration_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
