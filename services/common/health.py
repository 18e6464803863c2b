"""Liveness for stream workers: ``GET /healthz`` on ``FRONTDOOR_HEALTH_PORT``.

Container probes (docker-compose, Kubernetes) need an HTTP answer from every worker. The batch
loops call ``beat()`` whenever they poll; the endpoint answers 200 while the last beat is recent
and 503 when the loop has been stuck longer than ``FRONTDOOR_HEALTH_STALE_SECONDS`` (default 60),
so a wedged consumer is restarted by its orchestrator. The server is the standard library's, on a
daemon thread: a worker needs no web framework to say it is alive. Without the environment
variable nothing is started (the dev supervisor watches its children directly).
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_last_beat = time.monotonic()


def beat() -> None:
    global _last_beat  # noqa: PLW0603 - one process-wide heartbeat is the point
    _last_beat = time.monotonic()


def seconds_since_beat() -> float:
    return time.monotonic() - _last_beat


class _Handler(BaseHTTPRequestHandler):
    stale_after = 60.0

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/healthz":
            self.send_error(404)
            return
        age = seconds_since_beat()
        ok = age <= self.stale_after
        body = json.dumps({"status": "ok" if ok else "stale", "seconds_since_poll": round(age, 1)})
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        return


def serve_health_from_env() -> ThreadingHTTPServer | None:
    port = os.environ.get("FRONTDOOR_HEALTH_PORT")
    if not port:
        return None
    _Handler.stale_after = float(os.environ.get("FRONTDOOR_HEALTH_STALE_SECONDS", "60"))
    host = os.environ.get("FRONTDOOR_HEALTH_HOST", "0.0.0.0")  # noqa: S104 - probes come from outside the container
    server = ThreadingHTTPServer((host, int(port)), _Handler)
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server
