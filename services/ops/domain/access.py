"""Who may open what on the ops service: the staff roles and the role each route needs.

Four roles, one per kind of reader: ``ops`` (the platform team: everything, including dead
letters and ``/metrics``), ``manager`` (team managers: the dashboard and the workforce/SLA
boards), ``out-of-hours`` (the emergency duty team: out-of-hours APIs) and ``analyst`` (returns and
performance: the SLA read API). ``ROUTES`` names every route of the ops app with the roles that
may use it; ``OPEN`` the routes anyone may use (health, the login form); ``METRICS`` is open to a
scrape token or an ops credential. ``check_routes`` is called when the app is built: a route that
is in neither table, or a table entry with no route, stops the service, so a new route cannot go
out unprotected by accident. The dead-letter console (open a letter, replay) is ``ops`` only.
Pure: the app passes its route paths in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class OpsRole(StrEnum):
    OPS = "ops"
    MANAGER = "manager"
    OUT_OF_HOURS = "out-of-hours"
    ANALYST = "analyst"


EVERY_ROLE = frozenset(OpsRole)
_OPS = frozenset({OpsRole.OPS})

ROUTES: Mapping[str, frozenset[OpsRole]] = {
    "/": frozenset({OpsRole.OPS, OpsRole.MANAGER}),
    "/api/me": EVERY_ROLE,
    "/api/lag": _OPS,
    "/api/throughput": _OPS,
    "/api/history": _OPS,  # lag and throughput over time, as /api/lag and /api/throughput
    "/api/sla": frozenset({OpsRole.OPS, OpsRole.MANAGER, OpsRole.ANALYST}),
    "/api/deadletters": _OPS,
    "/api/deadletters/{letter_id:int}": _OPS,  # one letter, its value masked
    "/api/deadletters/replay": _OPS,  # GET: what a replay would re-send; POST: re-send it
    "/api/lanes": _OPS,
    "/api/workforce": frozenset({OpsRole.OPS, OpsRole.MANAGER}),
    "/docs": EVERY_ROLE,
    "/docs/assets": EVERY_ROLE,  # Swagger UI / ReDoc bundles (services.common.apidocs)
    "/redoc": EVERY_ROLE,
    "/openapi.json": EVERY_ROLE,
}
"""Path → the roles that may use it. ``ops`` is in every entry (ops → everything)."""

OPEN = frozenset({"/healthz", "/login", "/logout"})
"""Anyone: the liveness probe and the login form (which is how a credential gets in)."""

METRICS = "/metrics"
"""A scrape token (``FRONTDOOR_METRICS_TOKEN``), an ops credential, or anyone if configured."""


class UnprotectedRouteError(RuntimeError):
    """A route of the ops app is not in the access table (or the table names a missing route)."""


def roles_for(path: str) -> frozenset[OpsRole] | None:
    """The roles that may use ``path``; ``None`` for a path the app does not have."""
    return ROUTES.get(path)


def allowed(path: str, role: OpsRole) -> bool:
    roles = roles_for(path)
    return roles is None or role in roles  # an unknown path is any signed-in caller's 404


def check_routes(paths: Iterable[str]) -> None:
    """Every route is in exactly one table, and every table entry is a route."""
    have = set(paths)
    declared = set(ROUTES) | OPEN | {METRICS}
    if missing := sorted(have - declared):
        raise UnprotectedRouteError(
            f"ops routes with no entry in services/ops/domain/access.py: {', '.join(missing)}"
        )
    if stale := sorted(declared - have):
        raise UnprotectedRouteError(
            f"services/ops/domain/access.py names routes the app does not have: {', '.join(stale)}"
        )


def _ops_everywhere() -> None:
    lacking = sorted(p for p, roles in ROUTES.items() if OpsRole.OPS not in roles)
    if lacking:
        raise UnprotectedRouteError(f"the ops role must reach every route: {', '.join(lacking)}")


_ops_everywhere()
