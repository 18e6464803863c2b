#!/usr/bin/env python3
"""Container health probe for every frontdoor service: one HTTP GET, exit 0 when healthy.

The slim runtime image has neither curl nor wget, so Docker's HEALTHCHECK and the compose health
checks run this stdlib-only script, installed as ``frontdoor-healthcheck``. It asks
``http://127.0.0.1:$FRONTDOOR_HEALTH_PORT$FRONTDOOR_HEALTH_PATH`` (defaults 6066 and ``/healthz``;
an optional first argument overrides the port) and exits 0 on a 2xx answer, 1 on anything else
or on no answer within the timeout. Kubernetes uses its own ``httpGet`` probes on the same port
and path, so this script is only for Docker.
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_PORT = 6066
DEFAULT_PATH = "/healthz"
TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Target:
    """Where the probe asks: always the loopback interface of the container itself."""

    port: int
    path: str


def target_from(env: Mapping[str, str], argv: Sequence[str]) -> Target:
    """Resolve the probe target from the environment and an optional port argument."""
    raw_port = argv[0] if argv else env.get("FRONTDOOR_HEALTH_PORT", str(DEFAULT_PORT))
    port = int(raw_port)
    if not 0 < port < 65536:
        raise ValueError(f"health port out of range: {port}")
    path = env.get("FRONTDOOR_HEALTH_PATH", DEFAULT_PATH)
    if not path.startswith("/"):
        raise ValueError(f"health path must start with '/': {path!r}")
    return Target(port=port, path=path)


def probe(target: Target, timeout: float = TIMEOUT_SECONDS) -> bool:
    """Return True when the service answers the health path with a 2xx status."""
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=timeout)
    try:
        connection.request("GET", target.path, headers={"User-Agent": "frontdoor-healthcheck"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return 200 <= status < 300


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        target = target_from(os.environ, args)
    except ValueError as exc:
        sys.stderr.write(f"frontdoor-healthcheck: {exc}\n")
        return 2
    return 0 if probe(target) else 1


if __name__ == "__main__":
    sys.exit(main())
