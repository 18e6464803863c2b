"""One valid example of every registered event (every optional field filled), for contract tests.

The data is the contract's own (``schemas.examples``, published in the JSON Schemas and the
OpenAPI document); here each example gets fresh ids, so tests that store several never collide.
``example(event_type, version)`` returns a fresh JSON-ready dict, validated as it is made;
``EXAMPLES`` lists every ``(event_type, schema_version)`` it knows, which a test holds equal to the
registry, so a new event model cannot be added without an example. ``string_paths`` lists the
path of every string in an example, list items included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from schemas import examples
from schemas.examples import EXAMPLES, fresh_ids
from schemas.registry import parse_event

__all__ = ["EXAMPLES", "at", "example", "mapping_paths", "replaced", "string_paths"]

Loc = tuple[str | int, ...]


def example(event_type: str, version: int) -> dict[str, Any]:
    """A fresh valid event of this type and version, every optional field filled."""
    event = examples.example(event_type, version, ids=fresh_ids)
    parse_event(event)  # an example that does not validate would make every test lie
    return event


def string_paths(data: Any, loc: Loc = ()) -> Iterator[Loc]:
    """The path of every string in ``data`` (mapping values and list items), in order."""
    if isinstance(data, str):
        yield loc
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from string_paths(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from string_paths(value, (*loc, index))


def mapping_paths(data: Any, loc: Loc = ()) -> Iterator[Loc]:
    """The path of every mapping in ``data``, the whole of it first."""
    if isinstance(data, dict):
        yield loc
        for key, value in data.items():
            yield from mapping_paths(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from mapping_paths(value, (*loc, index))


def at(data: Any, loc: Loc) -> Any:
    """The value at ``loc``."""
    for part in loc:
        data = data[part]
    return data


def replaced(data: dict[str, Any], loc: Loc, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the value at ``loc`` replaced."""
    copy: dict[str, Any] = _deep_copy(data)
    parent = at(copy, loc[:-1])
    parent[loc[-1]] = value
    return copy


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _deep_copy(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_deep_copy(value) for value in data]
    return data
