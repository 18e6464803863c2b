"""Publishing a JSON-lines file of partner events to ``partner.events``.

Each line is published as it is — bytes untouched, so a malformed line reaches intake and its
dead-letter topic exactly as a partner would have sent it. The key is the child's id when the
line is a JSON object that names one, else no key. On ``partner.events`` every record carries
the ``frontdoor.replay`` header: the operator's tool wrote it and vouches for each line's
``source.agency`` (intake still applies the role table; services/intake/domain/speakers.py). On
an agency's lane ``partner.events.<agency>`` the topic itself names the speaker.

Before anything is published the file is checked to be JSON lines: every line a JSON object
(``not_json_lines``). A file that is not — a PNG, a CSV, a JSON array — is refused with the count
of bad lines and the first one shown, and nothing is sent; ``frontdoor replay --raw`` sends the
lines anyway (to test intake's dead-letter path with deliberate garbage).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from schemas.topics import PARTNER_EVENTS, REPLAY_HEADER
from services.common.kafka import new_producer


def key_of(line: bytes) -> bytes | None:
    try:
        data = orjson.loads(line)
        child_id = data["subject"]["child_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return str(child_id).encode() if child_id is not None else None


def read_lines(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        return [line.rstrip(b"\r\n") for line in f if line.strip()]


SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a zip archive (xlsx, docx …)",
    b"\x1f\x8b": "a gzip archive",
}


def _preview(line: bytes, width: int = 60) -> str:
    text = line.decode("utf-8", errors="replace")
    shown = "".join(c if c.isprintable() else "?" for c in text[:width])
    return shown + ("…" if len(text) > width else "")


def not_json_lines(path: Path, lines: list[bytes]) -> str | None:
    """Why ``lines`` (from ``path``) are not JSON lines, in a sentence; ``None`` if they are."""
    with path.open("rb") as f:
        head = f.read(8)
    for signature, what in SIGNATURES.items():
        if head.startswith(signature):
            return f"{path} is {what}, not JSON lines (one JSON object per line)"
    bad: list[int] = []
    for number, line in enumerate(lines, 1):
        try:
            ok = isinstance(orjson.loads(line), dict)
        except orjson.JSONDecodeError:
            ok = False
        if not ok:
            bad.append(number)
    if not lines:
        return f"{path} holds no lines to publish"
    if not bad:
        return None
    first = bad[0]
    return (
        f"{path}: {len(bad):,} of {len(lines):,} lines are not JSON objects (first: line {first}: "
        f"{_preview(lines[first - 1])!r})"
    )


async def publish_lines(
    bootstrap: str,
    lines: Iterable[bytes],
    *,
    topic: str = PARTNER_EVENTS.name,
    on_progress: Callable[[int], None] | None = None,
    window: int = 2000,
) -> int:
    """Publish every line; wait for every acknowledgement. Returns the count published."""
    headers = [(REPLAY_HEADER, b"frontdoor replay")] if topic == PARTNER_EVENTS.name else None
    producer = new_producer(bootstrap, linger_ms=5)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()  # a broker that cannot be reached: no unclosed client left behind
        raise
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for line in lines:
            pending.append(await producer.send(topic, line, key=key_of(line), headers=headers))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                sent += len(pending)
                if on_progress:
                    on_progress(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        sent += len(pending)
        if on_progress:
            on_progress(len(pending))
    finally:
        await producer.stop()
    return sent
