"""How a policy reads an event: which events start, stop or cancel a clock, and on what record.

A `Trigger` is one line of policy data: an event type, optional conditions on its fields (`equals`,
`in`, `present`, `age_between`, `encompass_age`), the dotted field path(s) naming the record the
clock belongs to (the subject, e.g. `payload.referral_id`), the field holding the moment it
happened (e.g. `payload.referral_at`, default the envelope's `occurred_at`) and, for a start, the
field a deadline is counted from when that is not the same moment (reports due 2 working days
before `payload.conference_at`). A `TimerAction` is a trigger bound to its timer kind, verb and
policy, which is what `Policy.actions_for(event_type)` hands the SLA handler. Fields are read
from a mapping (a `model_dump()` of the envelope) or from the pydantic event itself; nothing here
does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.calendar import ENCOMPASS_AGE_RANGE, london_wall_time, to_london
from services.sla.domain.deadlines import Deadline, WarnBefore

FieldPath = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")]
"""A dotted path from the envelope root, e.g. ``payload.referral_id`` or ``occurred_at``."""

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")]
Scalar = str | bool | int

SUBJECT_SEPARATOR = "/"


class TriggerError(ValueError):
    """An event lacks a field the policy needs: it is refused (a ``validation`` dead letter)."""


class Verb(StrEnum):
    START = "start"
    STOP = "stop"
    CANCEL = "cancel"


_MISSING = object()


@lru_cache(maxsize=1024)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def field_value(event: object, path: str) -> Any:
    """The value at dotted `path` in `event` (mappings by key, models by attribute)."""
    value: Any = event
    for part in _parts(path):
        if type(value) is dict or isinstance(value, Mapping):  # dict first: the ABC check is slow
            value = value.get(part, _MISSING)
        else:
            value = getattr(value, part, _MISSING)
        if value is _MISSING:
            raise TriggerError(f"the event has no field {path!r}")
    return value


def _optional_value(event: object, path: str) -> Any:
    try:
        return field_value(event, path)
    except TriggerError:
        return None


def _as_text(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


@lru_cache(maxsize=65_536)
def _moment_of_text(text: str, path: str) -> datetime:
    """`as_moment` of an ISO date or datetime string.

    A pure function of immutable strings, so memoised: one event's moments are read by every
    policy's actions on it (a rebuild read each about 47 times), and parsing and converting the
    zone was a third of the SLA handler's time. A refusal is not cached (lru_cache keeps only
    returned values)."""
    try:
        value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError as exc:
        raise TriggerError(f"field {path!r} is not an ISO date or datetime") from exc
    return as_moment(value, path)


def as_moment(value: Any, path: str) -> datetime:
    """An aware datetime from a field value: aware datetime, ISO string, or a London date."""
    if isinstance(value, str):
        return _moment_of_text(value, path)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TriggerError(f"field {path!r} is a naive datetime; an offset is required")
        return to_london(value)
    if isinstance(value, date):
        return london_wall_time(value, datetime.min.time())
    raise TriggerError(f"field {path!r} holds no date or datetime")


def _age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class Condition(BaseModel):
    """One test on an event field; exactly one of `equals`, `in`, `present`, `age_between`."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    field: FieldPath
    equals: Scalar | None = None
    one_of: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    present: bool | None = None
    age_between: tuple[int, int] | None = Field(
        default=None, description="Whole years at the trigger's moment, both ends included."
    )
    encompass_age: bool | None = Field(
        default=None,
        description="Of Operation Encompass age at the trigger's moment (the one home: "
        "services.common.calendar.ENCOMPASS_AGE_RANGE, reception to 17).",
    )

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Self:
        tests = [self.equals, self.one_of, self.present, self.age_between, self.encompass_age]
        if sum(t is not None for t in tests) != 1:
            raise ValueError(
                f"condition on {self.field!r} needs exactly one of equals, in, present, "
                "age_between, encompass_age"
            )
        return self

    def holds(self, event: object, at: datetime) -> bool:
        """Whether the event passes (a missing field fails every test except present = false)."""
        value = _optional_value(event, self.field)
        if self.present is not None:
            return (value is not None) is self.present
        if value is None:
            return False
        if self.equals is not None:
            return bool(value == self.equals)
        if self.one_of is not None:
            return value in self.one_of
        born = as_moment(value, self.field).date()
        if self.encompass_age is not None:
            low, high = ENCOMPASS_AGE_RANGE
            inside = low <= _age_in_years(born, to_london(at).date()) <= high
            return inside is self.encompass_age
        assert self.age_between is not None
        low, high = self.age_between
        return low <= _age_in_years(born, to_london(at).date()) <= high


class Trigger(BaseModel):
    """One event that starts, stops or cancels a clock, as written in a policy file.

    `subject` names the record the clock belongs to; on a stop or cancel, leaving it out means
    "every live clock of this kind for the child" (used where DOMAIN.md §6 guarantees there is
    only one, e.g. one open s47 or one open CP plan per child). `anchor` lists fields to count the
    deadline from, the first one present wins; `deadline` and `warn_before` override the rule's
    for this start (one `triage` clock, due in 4, 24 or 72 working hours by priority).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: EventType
    subject: tuple[FieldPath, ...] | None = None
    at: FieldPath = "occurred_at"
    anchor: tuple[FieldPath, ...] = ()
    when: tuple[Condition, ...] = ()
    deadline: Deadline | None = None
    warn_before: WarnBefore | Literal["none"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _subject_may_be_one_path(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            for key in ("subject", "anchor"):
                if isinstance(data.get(key), str):
                    data[key] = (data[key],)
        return data


class TimerAction(BaseModel):
    """A trigger bound to its verb and timer kind: what one event does to one kind of clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verb: Verb
    kind: str
    trigger: Trigger
    policy: str = ""
    """The policy this action belongs to (a clock is closed only by its own policy's actions)."""

    def moment(self, event: object) -> datetime:
        """When the triggering thing happened (the timer's started_at, met_at or cancelled_at)."""
        return as_moment(field_value(event, self.trigger.at), self.trigger.at)

    def applies_to(self, event: object, at: datetime | None = None) -> bool:
        """Whether every condition of the trigger holds for this event (`at`: its `moment`, when
        the caller has read it already)."""
        at = self.moment(event) if at is None else at
        return all(condition.holds(event, at) for condition in self.trigger.when)

    def subject_ref(self, event: object) -> str | None:
        """The subject read from the event (composite paths joined by '/'); None = the child."""
        if self.trigger.subject is None:
            return None
        parts = []
        for path in self.trigger.subject:
            value = field_value(event, path)
            if value is None:
                raise TriggerError(f"field {path!r} is empty; timer {self.kind} needs it")
            parts.append(_as_text(value))
        return SUBJECT_SEPARATOR.join(parts)

    def anchor(self, event: object) -> datetime:
        """The moment the deadline is counted from: the first anchor field present, else `at`."""
        for path in self.trigger.anchor:
            value = _optional_value(event, path)
            if value is not None:
                return as_moment(value, path)
        return self.moment(event)
