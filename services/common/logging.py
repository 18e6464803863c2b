"""Structured logging for every frontdoor process.

structlog renders JSON when stdout is not a terminal (or ``FRONTDOOR_LOG_FORMAT=json``) and a
readable console line otherwise. Logs carry event ids, types, child ids and offsets — never
personal data: a processor drops any key on the deny-list (names, dates of birth, addresses,
narrative), so a careless ``log.info(..., summary=...)`` cannot leak a child's story.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

#: Keys that may hold personal data. Matching is on the lower-cased key name.
PERSONAL_DATA_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "name",
        "child_name",
        "first_name",
        "last_name",
        "date_of_birth",
        "dob",
        "birth_date",
        "expected_birth_date",
        "address",
        "postcode",
        "summary",
        "narrative",
        "notes",
        "description",
        "payload",
        "body",
        "value",
        "child",
        "upn",
    }
)


def drop_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Remove keys that may carry personal data; record that something was removed."""
    removed = [k for k in event_dict if k.lower() in PERSONAL_DATA_KEYS]
    for key in removed:
        del event_dict[key]
    if removed:
        event_dict["redacted_keys"] = sorted(removed)
    return event_dict


def configure_logging(*, level: str | None = None, json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    level_name = (level or os.environ.get("FRONTDOOR_LOG_LEVEL", "INFO")).upper()
    if json is None:
        fmt = os.environ.get("FRONTDOOR_LOG_FORMAT")
        json = fmt == "json" if fmt else not sys.stderr.isatty()
    renderer: Any
    factory: Any
    if json and hasattr(sys.stderr, "buffer"):
        # the hot path: orjson straight to the byte stream (one line per processed message)
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    elif json:
        renderer = structlog.processors.JSONRenderer()
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.INFO)
        ),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
