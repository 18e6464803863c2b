"""Retention of ``ingress_audit``: a year of evidence always kept, older rows purged periodically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from services.ingress.adapters.memory import MemoryAuditLog
from services.ingress.audit import AuditEntry
from services.ingress.config import MIN_AUDIT_RETENTION_DAYS, IngressSettings
from services.ingress.retention import AuditRetention

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def entry(age: timedelta) -> AuditEntry:
    return AuditEntry(
        request_id=uuid4(),
        received_at=NOW - age,
        client_addr="192.0.2.1",
        status=202,
        outcome="accepted",
        agency="police",
        accepted_ids=(uuid4(),),
    )


def test_the_retention_period_defaults_to_400_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDOOR_INGRESS_AUDIT_RETENTION_DAYS", raising=False)
    assert IngressSettings().audit_retention_days == 400


def test_the_retention_period_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDOOR_INGRESS_AUDIT_RETENTION_DAYS", "730")
    monkeypatch.setenv("FRONTDOOR_INGRESS_AUDIT_RETENTION_INTERVAL_SECONDS", "600")
    settings = IngressSettings()
    assert (settings.audit_retention_days, settings.audit_retention_interval_seconds) == (730, 600)


def test_a_retention_period_shorter_than_a_year_of_evidence_is_refused() -> None:
    assert MIN_AUDIT_RETENTION_DAYS == 366
    with pytest.raises(ValidationError, match="audit_retention_days"):
        IngressSettings(audit_retention_days=365)


async def test_rows_older_than_the_retention_period_are_purged_in_batches() -> None:
    audit = MemoryAuditLog()
    old = [entry(timedelta(days=400, seconds=1 + n)) for n in range(5)]
    kept = [entry(timedelta(days=399)), entry(timedelta(days=1)), entry(timedelta(0))]
    audit.entries = [*old[:2], *kept, *old[2:]]
    retention = AuditRetention(audit, days=400, clock=lambda: NOW, batch=2)
    with capture_logs() as logs:
        assert await retention.purge() == 5
    assert audit.entries == kept
    (line,) = [e for e in logs if e["event"] == "ingress_audit_purged"]
    assert (line["rows"], line["days"]) == (5, 400)
    assert await retention.purge() == 0


async def test_a_row_exactly_at_the_retention_boundary_is_kept() -> None:
    audit = MemoryAuditLog()
    audit.entries = [entry(timedelta(days=400))]
    assert await AuditRetention(audit, days=400, clock=lambda: NOW).purge() == 0
    assert len(audit.entries) == 1


class CountingAudit(MemoryAuditLog):
    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.calls = 0
        self.failures = failures

    async def purge(self, *, before: datetime, limit: int) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("database gone")
        return await super().purge(before=before, limit=limit)


async def test_the_task_purges_at_start_and_then_every_interval_until_stopped() -> None:
    audit = CountingAudit()
    audit.entries = [entry(timedelta(days=500))]
    stop = asyncio.Event()
    task = asyncio.ensure_future(
        AuditRetention(audit, days=400, clock=lambda: NOW, interval=0.01).run(stop)
    )
    await asyncio.sleep(0.1)
    assert audit.entries == []  # the first pass ran at start-up
    assert audit.calls >= 3
    stop.set()
    await asyncio.wait_for(task, timeout=1)


async def test_a_failed_purge_is_logged_and_tried_again_at_the_next_interval() -> None:
    audit = CountingAudit(failures=2)
    audit.entries = [entry(timedelta(days=500)), entry(timedelta(days=10))]
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.ensure_future(
            AuditRetention(audit, days=400, clock=lambda: NOW, interval=0.01).run(stop)
        )
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    failed = [e for e in logs if e["event"] == "ingress_audit_purge_failed"]
    assert [e["error_class"] for e in failed] == ["OSError", "OSError"]
    assert [e.received_at for e in audit.entries] == [NOW - timedelta(days=10)]
