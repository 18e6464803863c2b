"""The worker liveness endpoint: 200 while the loop polls, 503 when it is stuck."""

from __future__ import annotations

import http.client
import json

import pytest

from services.common import health
from services.common.embedded import free_port


def get(port: int, path: str = "/healthz") -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, json.loads(body) if response.status in (200, 503) else {}


def test_healthz_is_ok_after_a_poll_and_503_when_the_loop_is_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("FRONTDOOR_HEALTH_PORT", str(port))
    monkeypatch.setenv("FRONTDOOR_HEALTH_HOST", "127.0.0.1")
    monkeypatch.setenv("FRONTDOOR_HEALTH_STALE_SECONDS", "30")
    server = health.serve_health_from_env()
    assert server is not None
    try:
        health.beat()
        status, body = get(port)
        assert (status, body["status"]) == (200, "ok")
        monkeypatch.setattr(health, "_last_beat", health._last_beat - 31)
        status, body = get(port)
        assert (status, body["status"]) == (503, "stale")
        assert get(port, "/other")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_no_server_without_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDOOR_HEALTH_PORT", raising=False)
    assert health.serve_health_from_env() is None
