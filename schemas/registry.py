"""The public entry point of the contract: find the model for an event, upcast, validate.

``parse_event`` looks the model up by ``(event_type, schema_version)`` in a dict built once at
import, upcasts an old version to the latest registered one (see ``schemas.upcasting``) and
validates with ``model_validate``. Errors: ``UnknownEventType`` (a ``ValueError``) when the pair is
not registered — including a missing or non-string ``event_type``, a missing or non-integer
``schema_version``, or input that is not a mapping — and ``pydantic.ValidationError`` when the
event breaks its model, or when its ``event_type`` breaks the text rule (``schemas.text``: an
``event_type`` holding NUL is refused as such, not as an unknown type). ``parse_event_json`` adds
JSON decoding: bytes that are not JSON raise ``orjson.JSONDecodeError`` (a ``ValueError``
subclass; orjson also refuses an unpaired surrogate escape); JSON that is not an object raises
``UnknownEventType``; an upcaster that raises gives ``UpcastFailedError`` (step and error class
only). Both are ``schemas.errors.ValueFreeError``: their messages never repeat a value. The
registry checks at import that every superseded version has an upcaster chain to the latest, so
a missing upcaster fails at start-up, not on the first old record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, get_args

import orjson

from schemas.envelope import EventBase, text_rule_error
from schemas.errors import ValueFreeError
from schemas.events import INBOUND_MODELS, OUTBOUND_MODELS
from schemas.text import find_violations
from schemas.upcasting import UPCASTERS, Upcaster

__all__ = [
    "EVENT_MODELS",
    "INBOUND_TYPES",
    "OUTBOUND_TYPES",
    "UnknownEventType",
    "UpcastFailedError",
    "event_key",
    "latest_model",
    "latest_version",
    "parse_event",
    "parse_event_json",
]


_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}(?:\.[a-z][a-z0-9_]{0,40}){1,3}")
"""What an event type name looks like (``contact.received``): only such a name is quoted back."""


def _shown_type(event_type: object) -> str:
    if isinstance(event_type, str):
        return repr(event_type) if _TYPE_NAME.fullmatch(event_type) else "(not a type name)"
    return "None" if event_type is None else f"(a {type(event_type).__name__})"


class UnknownEventType(ValueFreeError):  # noqa: N818 - the name is part of the public API
    """No model is registered for this (event_type, schema_version).

    ``event_type`` / ``schema_version`` hold what the record carried when it had the right type
    (a string, an integer), else ``None``. The message quotes the type only when it looks like a
    type name, so a name or a date put in ``event_type`` is never repeated.
    """

    def __init__(self, event_type: object, schema_version: object) -> None:
        self.event_type: str | None = event_type if isinstance(event_type, str) else None
        self.schema_version: int | None = schema_version if type(schema_version) is int else None
        version = (
            schema_version
            if type(schema_version) is int or schema_version is None
            else f"(a {type(schema_version).__name__})"
        )
        super().__init__(
            f"no event model for event_type={_shown_type(event_type)} schema_version={version}"
        )


class UpcastFailedError(ValueFreeError):
    """An upcaster raised on a record its old model accepted; names the step and the error class."""

    def __init__(self, event_type: str, from_version: int, error: Exception) -> None:
        super().__init__(
            f"upcasting {event_type} v{from_version} to v{from_version + 1} failed "
            f"({type(error).__name__})"
        )


def event_key(model: type[EventBase]) -> tuple[str, int]:
    """The ``(event_type, schema_version)`` a concrete model's ``Literal`` fields declare."""
    (event_type,) = get_args(model.model_fields["event_type"].annotation)
    (version,) = get_args(model.model_fields["schema_version"].annotation)
    return str(event_type), int(version)


def _build_models() -> dict[tuple[str, int], type[EventBase]]:
    models: dict[tuple[str, int], type[EventBase]] = {}
    for model in (*INBOUND_MODELS, *OUTBOUND_MODELS):
        key = event_key(model)
        if key in models:
            raise RuntimeError(f"two models registered for {key}")
        models[key] = model
    return models


_MODELS = _build_models()
EVENT_MODELS: Mapping[tuple[str, int], type[EventBase]] = MappingProxyType(_MODELS)
"""Every registered model, superseded versions included, by (event_type, schema_version)."""

_LATEST: dict[str, int] = {}
for _event_type, _version in _MODELS:
    _LATEST[_event_type] = max(_version, _LATEST.get(_event_type, 0))

INBOUND_TYPES: frozenset[str] = frozenset(event_key(m)[0] for m in INBOUND_MODELS)
"""Event types partners publish to ``partner.events``."""
OUTBOUND_TYPES: frozenset[str] = frozenset(event_key(m)[0] for m in OUTBOUND_MODELS)
"""Event types frontdoor's own services publish."""

_DIRECT: dict[tuple[str, int], type[EventBase]] = {
    (t, v): m for (t, v), m in _MODELS.items() if v == _LATEST[t]
}


_UpcastPlan = tuple[type[EventBase] | None, tuple[tuple[int, Upcaster], ...], type[EventBase]]
"""(the old version's model if still registered, the upcast steps, the latest model)"""


def _build_upcast_plans() -> dict[tuple[str, int], _UpcastPlan]:
    for event_type, from_version in UPCASTERS:
        if event_type not in _LATEST or from_version >= _LATEST[event_type]:
            raise RuntimeError(f"upcaster {event_type} v{from_version} leads to no newer model")
    plans: dict[tuple[str, int], _UpcastPlan] = {}
    starts = {k for k in _MODELS if k not in _DIRECT} | set(UPCASTERS)
    for event_type, version in sorted(starts):
        steps = []
        for step in range(version, _LATEST[event_type]):
            fn = UPCASTERS.get((event_type, step))
            if fn is None:
                raise RuntimeError(f"{event_type} v{version} has no upcaster from v{step}")
            steps.append((step, fn))
        latest = _DIRECT[(event_type, _LATEST[event_type])]
        plans[(event_type, version)] = (_MODELS.get((event_type, version)), tuple(steps), latest)
    return plans


_UPCAST_PLANS = _build_upcast_plans()


def latest_version(event_type: str) -> int:
    """The newest registered schema_version of ``event_type``; ``UnknownEventType`` if none."""
    try:
        return _LATEST[event_type]
    except KeyError:
        raise UnknownEventType(event_type, None) from None


def latest_model(event_type: str) -> type[EventBase]:
    """The model of the newest version of ``event_type``; ``UnknownEventType`` if none."""
    return _DIRECT[(event_type, latest_version(event_type))]


def parse_event(data: Mapping[str, Any]) -> EventBase:
    """Validate one event (as decoded JSON), upcasting an old version to the latest model."""
    if not isinstance(data, dict):
        if not isinstance(data, Mapping):
            raise UnknownEventType(None, None)
        data = dict(data)
    event_type = data.get("event_type")
    version = data.get("schema_version")
    if type(event_type) is str and type(version) is int:
        model = _DIRECT.get((event_type, version))
        if model is not None:
            return model.model_validate(data)
        plan = _UPCAST_PLANS.get((event_type, version))
        if plan is not None:
            old_model, steps, target = plan
            if old_model is not None:
                old_model.model_validate(data)
            current: dict[str, Any] = dict(data)
            for from_version, fn in steps:
                try:
                    current = fn(current)
                except Exception as exc:  # an upcaster's message may quote the record
                    raise UpcastFailedError(event_type, from_version, exc) from None
                current["schema_version"] = from_version + 1
            return target.model_validate(current)
    if isinstance(event_type, str) and (bad := find_violations({"event_type": event_type})):
        raise text_rule_error("EventBase", bad)
    raise UnknownEventType(event_type, version)


def parse_event_json(raw: bytes) -> EventBase:
    """Decode JSON bytes with orjson, then ``parse_event``."""
    return parse_event(orjson.loads(raw))
