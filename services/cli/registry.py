"""The services frontdoor runs, in start order, with their migrations.

Import paths rather than imports keep ``frontdoor --help`` fast and each worker process free of
the other services' code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVICES_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    bootstrap_module: str
    description: str

    @property
    def migrations(self) -> Path:
        return SERVICES_ROOT / self.name / "migrations"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "intake", "services.intake.bootstrap", "partner.events → validated, routed, recorded"
    ),
    ServiceSpec("deadletter", "services.deadletter.bootstrap", "frontdoor.deadletter → table"),
    ServiceSpec(
        "screening", "services.screening.bootstrap", "frontdoor.contacts → triage → casework/crisis"
    ),
    ServiceSpec(
        "sla", "services.sla.bootstrap", "lifecycle events → timers; warnings and breaches"
    ),
    ServiceSpec(
        "outofhours", "services.outofhours.bootstrap", "casework → crisis stream; night record"
    ),
    ServiceSpec(
        "conferences",
        "services.conferences.bootstrap",
        "casework → conferences, invitations, plans",
    ),
    ServiceSpec(
        "workforce",
        "services.workforce.bootstrap",
        "workforce + casework → directory, caseloads, supervision clocks, alerts",
    ),
    ServiceSpec("ops", "services.ops.bootstrap", "dashboard, lag, /metrics on :8080"),
    ServiceSpec(
        "ingress", "services.ingress.bootstrap", "HTTP partner submissions → partner.events"
    ),
)


def service(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in SERVICES)
    raise KeyError(f"unknown service {name!r}; known: {known}")


def migration_dirs() -> list[Path]:
    """The pipeline's tables, then workers' migrations in start order, then any other service's
    (e.g. returns' indexes)."""
    common = SERVICES_ROOT / "common" / "migrations"  # the pipeline's ledger and outbox first
    ordered = [common, *(s.migrations for s in SERVICES if s.migrations.is_dir())]
    others = sorted(p for p in SERVICES_ROOT.glob("*/migrations") if p not in ordered)
    return ordered + others
