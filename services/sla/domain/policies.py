"""SLA policies as versioned data: which clocks exist, what starts and ends them, when they are due.

A `Policy` (`wt2013`, `wt2010`, or a local authority's own) maps timer kinds to `TimerRule`s, each
with its deadline, its warning and the triggers that start, stop (meet) and cancel it. Policies are
parsed from plain documents (the TOML files in `services/sla/policies/`, loaded there), and a local
document can extend another and override any part of it: `merge_policy_documents` merges tables
key by key and replaces lists and values, and a rule with `enabled = false` is dropped. The SLA
handler asks `actions_for(event_type)`; everything else about a clock is in `timers.py`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, time, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from services.common.calendar import DEFAULT_OFFICE_HOURS, SCHOOL_DAY_STARTS, OfficeHours
from services.sla.domain.deadlines import Deadline, WarnBefore
from services.sla.domain.triggers import TimerAction, Trigger, Verb

PolicyName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,47}$")]
TimerKindName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
NoWarning = Literal["none"]


class PolicyError(ValueError):
    """A policy document is invalid, or asks for something the policy does not define."""


class TimerRule(BaseModel):
    """One statutory clock: its deadline, its warning, and the events that drive it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TimerKindName
    description: str = ""
    deadline: Deadline
    warn_before: WarnBefore | NoWarning | None = Field(
        default=None, description="None = the policy's default; 'none' = never warn."
    )
    start: tuple[Trigger, ...] = Field(min_length=1)
    stop: tuple[Trigger, ...] = ()
    cancel: tuple[Trigger, ...] = ()
    enabled: bool = True
    in_force_from: date | None = Field(
        default=None,
        description="The first date a start may open this clock (None: whenever the policy is "
        "in force). A start whose moment is earlier opens nothing (DOMAIN.md §2: no Operation "
        "Encompass clock in 2011).",
    )

    def exists_on(self, day: date) -> bool:
        """Whether this clock existed on `day` (a start on an earlier day opens nothing)."""
        return self.in_force_from is None or day >= self.in_force_from

    @model_validator(mode="after")
    def _starts_name_their_subject(self) -> Self:
        for trigger in self.start:
            if trigger.subject is None:
                raise ValueError(
                    f"timer {self.kind}: the start on {trigger.event} must name its subject "
                    '(use subject = "event_id" for one clock per event)'
                )
        for trigger in (*self.stop, *self.cancel):
            if trigger.deadline is not None or trigger.warn_before is not None or trigger.anchor:
                raise ValueError(
                    f"timer {self.kind}: only a start may set deadline, warn_before or anchor"
                )
        return self

    @property
    def start_events(self) -> tuple[str, ...]:
        return tuple(t.event for t in self.start)

    @property
    def stop_events(self) -> tuple[str, ...]:
        return tuple(t.event for t in self.stop)

    @property
    def cancel_events(self) -> tuple[str, ...]:
        return tuple(t.event for t in self.cancel)


_VERB_ORDER = (Verb.CANCEL, Verb.STOP, Verb.START)


class Policy(BaseModel):
    """A named, versioned set of timer rules, with the office hours and defaults they use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PolicyName
    version: PositiveInt
    description: str = ""
    extends: tuple[PolicyName, ...] = Field(
        default=(), description="The policies this one was built on, nearest first."
    )
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    school_day_starts: time = SCHOOL_DAY_STARTS
    warn_before: WarnBefore | NoWarning = WarnBefore(working_days=1)
    in_force_from: date | None = Field(
        default=None, description="First day in force (None: an undated policy, e.g. in tests)."
    )
    in_force_until: date | None = Field(default=None, description="Last day in force; None: open.")
    timers: dict[TimerKindName, TimerRule]

    _by_event: dict[str, tuple[TimerAction, ...]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _keys_are_kinds(self) -> Self:
        for key, rule in self.timers.items():
            if key != rule.kind:
                raise ValueError(f"timer table {key!r} holds a rule of kind {rule.kind!r}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        index: dict[str, list[TimerAction]] = {}
        for verb in _VERB_ORDER:
            for rule in self.timers.values():
                for trigger in getattr(rule, verb.value):
                    action = TimerAction(
                        verb=verb, kind=rule.kind, trigger=trigger, policy=self.name
                    )
                    index.setdefault(trigger.event, []).append(action)
        self._by_event = {event: tuple(actions) for event, actions in index.items()}

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.timers)

    def rule(self, kind: str) -> TimerRule:
        """The rule for `kind`; `PolicyError` if this policy has no such clock."""
        try:
            return self.timers[kind]
        except KeyError:
            raise PolicyError(f"policy {self.name} has no timer {kind!r}") from None

    def warning_for(
        self, kind: str, override: WarnBefore | NoWarning | None = None
    ) -> WarnBefore | None:
        """The warning in force: `override` (a start trigger's), else the rule's, else the
        policy default; None = no warning."""
        chosen = override if override is not None else self.rule(kind).warn_before
        if chosen is None:
            chosen = self.warn_before
        return None if chosen == "none" else chosen

    def actions_for_all(self, verb: Verb) -> list[TimerAction]:
        """Every action of `verb`, in rule order."""
        return [a for actions in self._by_event.values() for a in actions if a.verb is verb]

    def actions_for(self, event_type: str) -> list[TimerAction]:
        """What `event_type` may do to clocks: cancels first, then stops, then starts.

        The order lets one event close a clock and open its successor (a core group meets the
        cadence clock and starts the next one). Conditions are not checked here; call
        `TimerAction.applies_to(event)` on each.
        """
        return list(self._by_event.get(event_type, ()))

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type this policy reacts to (for subscriptions and docs)."""
        return frozenset(self._by_event)

    def in_force_on(self, day: date) -> bool:
        """Whether `day` is inside this policy's dates (an undated policy: always)."""
        starts = self.in_force_from is None or day >= self.in_force_from
        return starts and (self.in_force_until is None or day <= self.in_force_until)


class PolicyBook:
    """Every dated policy, and which one a clock takes: the one in force on its start's date.

    DOMAIN.md §2: which rules apply is decided by the date of the event that starts a clock,
    never by a setting. `in_force(day)` is that policy; `actions_for` lists every policy's
    actions (each names its policy), and `lifecycle` keeps a start only under the policy in force
    on the start's date (and only if its clock existed then), and a stop or cancel only for
    clocks started under the same policy. Built by `dated(...)`, which refuses gaps and overlaps.
    """

    def __init__(self, policies: tuple[Policy, ...]) -> None:
        if not policies:
            raise PolicyError("no policy in the book")
        self.policies = policies
        self.by_name = {p.name: p for p in policies}
        if len(self.by_name) != len(policies):
            raise PolicyError("two policies in the book share a name")
        index: dict[str, list[TimerAction]] = {}
        for verb in _VERB_ORDER:
            for policy in policies:
                for action in policy.actions_for_all(verb):
                    index.setdefault(action.trigger.event, []).append(action)
        self._by_event = {event: tuple(actions) for event, actions in index.items()}
        # the editions repeat most triggers word for word: actions with the same conditions (and
        # moment field) hold or not together, and the same subject paths read the same subject,
        # so a plan evaluates each once per event (`shared_keys`)
        conditions: dict[tuple[Any, ...], int] = {}
        subjects: dict[tuple[Any, ...] | None, int] = {}
        self._keys = {
            event: tuple(
                (
                    conditions.setdefault((a.trigger.when, a.trigger.at), len(conditions)),
                    subjects.setdefault(a.trigger.subject, len(subjects)),
                )
                for a in actions
            )
            for event, actions in self._by_event.items()
        }
        self._in_force: dict[date, Policy | None] = {}

    @classmethod
    def single(cls, policy: Policy) -> PolicyBook:
        """One policy for every date (tests, and a council that pins one)."""
        undated = policy.model_copy(update={"in_force_from": None, "in_force_until": None})
        return cls((undated,))

    @classmethod
    def dated(cls, policies: tuple[tuple[str, Policy], ...]) -> PolicyBook:
        """The book of `(origin, policy)` pairs, which must tile time: sorted by start, each
        starting the day after the previous one ends, the last open-ended. Errors name the origin
        (the file) and the dates."""
        for origin, policy in policies:
            if policy.in_force_from is None:
                raise PolicyError(f"{origin}: policy {policy.name} has no in_force.from date")
        ordered = sorted(policies, key=lambda item: item[1].in_force_from or date.min)
        for (origin, before), (later_origin, after) in itertools.pairwise(ordered):
            until, start = before.in_force_until, after.in_force_from
            assert start is not None
            if until is None or until >= start:
                raise PolicyError(
                    f"{origin}: policy {before.name} (until {until or 'open'}) overlaps "
                    f"{later_origin}: {after.name} (from {start})"
                )
            if until + timedelta(days=1) != start:
                raise PolicyError(
                    f"{origin}: policy {before.name} ends {until} but the next, {after.name} "
                    f"({later_origin}), starts {start}: the days between have no policy"
                )
        last_origin, last = ordered[-1]
        if last.in_force_until is not None:
            raise PolicyError(
                f"{last_origin}: the latest policy {last.name} ends {last.in_force_until}; "
                "the latest must be open-ended (no until)"
            )
        return cls(tuple(p for _, p in ordered))

    def in_force(self, day: date) -> Policy | None:
        """The policy in force on `day` (None before the first one)."""
        if day not in self._in_force:
            self._in_force[day] = next((p for p in self.policies if p.in_force_on(day)), None)
        return self._in_force[day]

    def starts_under(self, action: TimerAction, day: date) -> bool:
        """Whether the start `action` opens a clock on `day`: its policy is the one in force then
        and its clock existed then."""
        policy = self.in_force(day)
        return (
            policy is not None
            and policy.name == action.policy
            and policy.rule(action.kind).exists_on(day)
        )

    def policy(self, name: str) -> Policy:
        try:
            return self.by_name[name]
        except KeyError:
            raise PolicyError(f"no policy {name!r} in the book") from None

    def actions_for(self, event_type: str) -> list[TimerAction]:
        """Every policy's actions on `event_type`: cancels, then stops, then starts."""
        return list(self._by_event.get(event_type, ()))

    def shared_keys(self, event_type: str) -> tuple[tuple[int, int], ...]:
        """For each of `actions_for(event_type)`: the key of its conditions (with its moment
        field) and of its subject paths, equal for actions whose triggers read alike."""
        return self._keys.get(event_type, ())

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._by_event)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for p in self.policies for k in p.kinds))

    @property
    def name(self) -> str:
        """The names of the book's policies, for logs."""
        return ",".join(p.name for p in self.policies)


_REPLACED_WHOLE = frozenset({"deadline", "warn_before"})


def merge_policy_documents(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: tables merge key by key; lists and values are replaced.

    A `deadline` or `warn_before` table is one value (exactly one unit), so it is replaced whole:
    overriding `{ working_days = 10 }` with `{ weeks = 2 }` gives two weeks, not both.
    """
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        mergeable = key not in _REPLACED_WHOLE
        if mergeable and isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_policy_documents(current, value)
        else:
            merged[key] = value
    return merged


def parse_policy(document: Mapping[str, Any], *, extends: tuple[str, ...] = ()) -> Policy:
    """A `Policy` from a (merged) document; rule kinds come from their table names.

    `extends` records the lineage the loader resolved. Rules with `enabled = false` are dropped.
    Raises `PolicyError` with pydantic's field-by-field explanation when the document is invalid.
    """
    data = {k: v for k, v in document.items() if k not in ("extends", "in_force")}
    in_force = document.get("in_force")
    if in_force is not None:
        if not isinstance(in_force, Mapping) or set(in_force) - {"from", "until"}:
            raise PolicyError("'in_force' must be a table { from = DATE, until = DATE }")
        data["in_force_from"] = in_force.get("from")
        data["in_force_until"] = in_force.get("until")
    timers = data.get("timers", {})
    if not isinstance(timers, Mapping):
        raise PolicyError("'timers' must be a table of timer rules")
    rules: dict[str, Any] = {}
    for kind, rule in timers.items():
        if not isinstance(rule, Mapping):
            raise PolicyError(f"timer {kind!r} must be a table")
        if rule.get("enabled", True) is not False:
            rules[kind] = {"kind": kind, **rule}
    data["timers"] = rules
    data["extends"] = extends
    try:
        return Policy.model_validate(data)
    except ValueError as exc:
        name = document.get("name", "<unnamed>")
        raise PolicyError(f"policy {name} is invalid: {exc}") from exc


Policies = Policy | PolicyBook
"""One policy for every date, or the dated book (a start takes the policy of its date)."""
