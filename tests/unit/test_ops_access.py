"""The ops door's pure parts: the role table's own checks and the signed session token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ops.domain import session
from services.ops.domain.access import (
    METRICS,
    OPEN,
    ROUTES,
    OpsRole,
    UnprotectedRouteError,
    allowed,
    check_routes,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = b"k" * 32


def test_the_ops_role_reaches_every_route() -> None:
    assert all(allowed(path, OpsRole.OPS) for path in ROUTES)


def test_a_route_missing_from_the_table_stops_the_app() -> None:
    with pytest.raises(UnprotectedRouteError, match="/api/new"):
        check_routes([*ROUTES, *OPEN, METRICS, "/api/new"])


def test_a_table_entry_without_a_route_stops_the_app() -> None:
    with pytest.raises(UnprotectedRouteError, match="/api/lag"):
        check_routes([p for p in [*ROUTES, *OPEN, METRICS] if p != "/api/lag"])


def _token(expires: datetime, role: str = "manager") -> str:
    return session.issue(
        session.Session("00000000000000a1", role, int(expires.timestamp())), SECRET
    )


def test_a_session_reads_back_until_it_expires() -> None:
    token = _token(T0 + timedelta(minutes=30))
    found = session.read(token, SECRET, T0)
    assert found == session.Session("00000000000000a1", "manager", int(T0.timestamp()) + 1800)
    assert session.read(token, SECRET, T0 + timedelta(minutes=30)) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".")[0] + "." + t.split(".")[1][::-1] + "." + t.split(".")[2],
        lambda t: t + ".extra",
        lambda t: "",
        lambda t: "x" * 600,
    ],
)
def test_a_tampered_session_reads_as_nothing(mangle: object) -> None:
    token = _token(T0 + timedelta(minutes=30))
    assert callable(mangle)
    assert session.read(mangle(token), SECRET, T0) is None


def test_a_session_signed_with_another_secret_reads_as_nothing() -> None:
    token = _token(T0 + timedelta(minutes=30))
    assert session.read(token, b"o" * 32, T0) is None


def test_the_token_carries_no_key_material() -> None:
    token = _token(T0 + timedelta(minutes=30))
    assert "fd_" not in token
    assert len(token) < 200
