"""Retention of the ingress audit trail: rows older than the configured period are deleted.

``AuditRetention.purge`` deletes every ``ingress_audit`` row received more than ``days`` ago, in
batches of ``batch`` rows (each its own short transaction, so a first run over a large backlog
never holds many row locks at once); ``run`` does it at start-up and then every ``interval``
seconds until stopped. A failure (the database away) is logged and tried again at the next
interval: the rows are only older then. Several replicas may purge at once; a row deleted by one
is simply not there for the other. Why the default is 400 days, and why it cannot be less than
366: ``config.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from services.ingress.ports import AuditTrail

log = structlog.get_logger(__name__)


@dataclass
class AuditRetention:
    audit: AuditTrail
    days: int
    clock: Callable[[], datetime]
    interval: float = 3600.0
    batch: int = 5000

    def cutoff(self) -> datetime:
        return self.clock() - timedelta(days=self.days)

    async def purge(self) -> int:
        """Delete every row older than the retention period; how many were deleted."""
        before = self.cutoff()
        total = 0
        while True:
            deleted = await self.audit.purge(before=before, limit=self.batch)
            total += deleted
            if deleted < self.batch:
                break
        if total:
            log.info("ingress_audit_purged", rows=total, before=before.isoformat(), days=self.days)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("ingress_audit_purge_failed", error_class=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
