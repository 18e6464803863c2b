"""Structured logging for every frontdoor process, stdlib loggers included.

structlog renders JSON when stdout is not a terminal (or ``FRONTDOOR_LOG_FORMAT=json``) and a
readable console line otherwise. Invariant: no log line carries personal data, whoever wrote it.
One processor chain (``shared_processors``) serves structlog's own loggers and — through
``structlog.stdlib.ProcessorFormatter`` on the root handler — every stdlib logger (faust, mode,
aiokafka, asyncpg, uvicorn). In that chain:

- ``format_exception`` turns ``exc_info`` into text *inside* the chain: frames as Python prints
  them, each exception's message replaced by ``schemas.errors.describe_exception`` (a pydantic
  error's paths and rules, an asyncpg error without its DETAIL, anything else value-scrubbed);
  exception locals are never shown;
- ``redact`` drops every key on the deny-list at any depth (dicts and lists inside values, and
  pydantic models, which are dumped first; the list and the walk are ``services.common.privacy``,
  shared with the ops dead-letter console, which masks instead of dropping), replaces bytes by
  their length, and value-scrubs (``schemas.errors.scrub_values``) a stdlib record's message and
  every free-text key
  (``error``, ``exception``, ``detail``, …), where a library may have quoted a value.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from schemas.errors import describe_exception, scrub_values
from services.common.privacy import FREE_TEXT_KEYS, PERSONAL_DATA_KEYS, redacted

_META = frozenset({"_record", "_from_structlog"})


def _frames(exc: BaseException) -> list[str]:
    lines = ["Traceback (most recent call last):\n"] if exc.__traceback__ is not None else []
    lines += traceback.format_tb(exc.__traceback__)
    kind = type(exc)
    qualname = kind.__qualname__
    name = qualname if kind.__module__ == "builtins" else f"{kind.__module__}.{qualname}"
    message = describe_exception(exc)
    lines.append(f"{name}: {message}\n" if message else f"{name}\n")
    return lines


def formatted_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` and its causes, every message without values (see module doc)."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "direct cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    out: list[str] = []
    for index, (item, _) in enumerate(reversed(chain)):
        if index:
            earlier_link = chain[len(chain) - index][1]
            out.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if earlier_link == "direct cause"
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        out.extend(_frames(item))
    return "".join(out).rstrip("\n")


def format_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``exc_info`` (True, an exception or a ``sys.exc_info()`` tuple) → ``exception`` text."""
    given = event_dict.get("exception")
    if isinstance(given, str):  # a caller's own text, not ours: scrub it like any free text
        event_dict["exception"] = scrub_values(given, limit=20_000)
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if isinstance(exc_info, BaseException):
        exc: BaseException | None = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    else:
        exc = sys.exc_info()[1]
    if exc is not None:
        event_dict["exception"] = formatted_exception(exc)
    return event_dict


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop personal keys at any depth, scrub free text; name what was removed."""
    removed: list[str] = []
    foreign = event_dict.get("_from_structlog") is False
    for key in list(event_dict):
        if key in _META:
            continue
        if key.lower() in PERSONAL_DATA_KEYS:
            del event_dict[key]
            removed.append(key)
            continue
        free_text = key.lower() in FREE_TEXT_KEYS or (foreign and key == "event")
        event_dict[key], hidden = redacted(event_dict[key], path=key, free_text=free_text)
        removed.extend(hidden)
    if removed:
        event_dict["redacted_keys"] = sorted(removed)
    return event_dict


def drop_personal_data(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The redaction step under its historical name."""
    return redact(logger, method, event_dict)


def shared_processors() -> list[Any]:
    """Every processor but the renderer: the same for structlog and stdlib records."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        format_exception,
        redact,
    ]


def _add_logger_name(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    if record is not None:
        event_dict.setdefault("logger", record.name)
    return event_dict


def configure_logging(*, level: str | None = None, json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    level_name = (level or os.environ.get("FRONTDOOR_LOG_LEVEL", "INFO")).upper()
    if json is None:
        fmt = os.environ.get("FRONTDOOR_LOG_FORMAT")
        json = fmt == "json" if fmt else not sys.stderr.isatty()
    renderer: Any
    factory: Any
    text_renderer: Any
    if json:
        text_renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **kw: orjson.dumps(obj, **kw).decode()
        )
    else:
        text_renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    if json and hasattr(sys.stderr, "buffer"):
        # the hot path: orjson straight to the byte stream (one line per processed message)
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    else:
        renderer = text_renderer
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=[*shared_processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.INFO)
        ),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    foreign = [_add_logger_name, *shared_processors()]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=foreign,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, text_renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # libraries (aiokafka, faust, mode, asyncpg, uvicorn) log at WARNING and above unless
    # FRONTDOOR_LIBRARY_LOG_LEVEL asks for more; whatever the level, through the same chain
    library_level = os.environ.get("FRONTDOOR_LIBRARY_LOG_LEVEL", "WARNING").upper()
    root.setLevel(logging.getLevelNamesMapping().get(library_level, logging.WARNING))
