"""What one lifecycle event does to a child's clocks: the pure decision the SLA handler persists.

`apply_event(policy, event, live_timers=…, calendar=…)` reads the policy's actions for the event
type, keeps those whose conditions hold, and returns the resulting `TimerChange`s: cancels and
stops first (each meets or cancels the matching live timers of its kind: the same subject, or every
one for the child when the trigger names none), then starts. It is idempotent by construction:
a start whose timer is already live changes nothing, an event never stops a clock it starts
itself (a core group meets the previous cadence clock and opens the next), and a stop never
touches a clock that started after the stopping moment. A start of a timer that exists but is no
longer live is still returned; the store's insert-if-absent on the derived `timer_id` drops it.
Dated policies (DOMAIN.md §2): a start opens a clock only under the policy in force on the date of
its moment (the starting event's own time) and only if that clock existed then; a stop or cancel
closes only clocks started under its own policy, so a 2011 clock keeps wt2010's rules when its
closing event arrives in 2014. `close_changes` is the first half alone (no deadline is computed):
what the event's stops and cancels do to the timers given, which is how `ChildClocks` applies a
kept early event to a clock that starts later and tries an earlier closing on a clock already
closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from services.common.calendar import WorkingCalendar
from services.sla.domain.policies import Policies, PolicyBook
from services.sla.domain.timers import Timer, cancel, meet, start_timer, timer_id_for
from services.sla.domain.triggers import TimerAction, TriggerError, Verb, field_value


class TimerChange(BaseModel):
    """One timer started, met or cancelled by an event (`before` is None for a start)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verb: Verb
    cause: str
    before: Timer | None
    after: Timer

    @property
    def newly_breached(self) -> bool:
        """The change recorded a breach (a late meet): announce `sla.breached` once for it."""
        was = None if self.before is None else self.before.breached_at
        return was is None and self.after.breached_at is not None


def _start_id(plan: Plan, action: TimerAction, event: object, child_id: str) -> tuple[str, UUID]:
    subject = plan.subject(action, event)
    if subject is None:  # guarded by TimerRule validation; kept for the type checker
        raise TriggerError(f"timer {action.kind}: a start needs a subject")
    return subject, timer_id_for(child_id, action.kind, subject)


@dataclass(frozen=True)
class Plan:
    """What an event's type and conditions make of it: its actions, the timers it starts, and
    each action's moment (read once per field: every policy's actions on an event share a few
    `at` fields, and reading them per action was most of a rebuild's SLA time)."""

    event_type: str
    child_id: str
    actions: list[TimerAction]
    starts: list[tuple[TimerAction, str, UUID]]
    moments: Mapping[str, datetime]
    subject_keys: Mapping[int, int] = field(default_factory=dict, compare=False, repr=False)
    """Each action's subject paths (``PolicyBook.shared_keys``), by the action's identity."""
    subjects: dict[int, str | None] = field(default_factory=dict, compare=False, repr=False)
    """The subjects read so far, by subject paths: each read once per event."""

    def subject(self, action: TimerAction, event: object) -> str | None:
        """``action.subject_ref(event)`` for the event this plan is of, read once per subject
        paths (a refusal is not kept: each action refuses in its own words)."""
        key = self.subject_keys.get(id(action))
        if key is None:
            return action.subject_ref(event)
        if key not in self.subjects:
            self.subjects[key] = action.subject_ref(event)
        return self.subjects[key]

    def moment(self, action: TimerAction) -> datetime:
        """When the thing `action` reacts to happened (its trigger's `at` field)."""
        return self.moments[action.trigger.at]

    @cached_property
    def closing(self) -> list[TimerAction]:
        """The stops and cancels whose conditions hold (read twice per event by `ChildClocks`)."""
        return [a for a in self.actions if a.verb is not Verb.START]


def book_of(policies: Policies) -> PolicyBook:
    return policies if isinstance(policies, PolicyBook) else PolicyBook.single(policies)


def plan_of(policies: Policies, event: object) -> Plan:
    """The event's `Plan` under `policies`; raises `TriggerError` for a field the policy needs."""
    book = book_of(policies)
    event_type = str(field_value(event, "event_type"))
    child_id = str(field_value(event, "subject.child_id"))
    moments: dict[str, datetime] = {}
    holds: dict[int, bool] = {}
    subject_keys: dict[int, int] = {}
    actions: list[TimerAction] = []
    for a, (conditions, subject) in zip(
        book.actions_for(event_type), book.shared_keys(event_type), strict=True
    ):
        at = moments.get(a.trigger.at)
        if at is None:
            at = moments[a.trigger.at] = a.moment(event)
        if conditions not in holds:
            holds[conditions] = a.applies_to(event, at)
        if holds[conditions] and (
            a.verb is not Verb.START or book.starts_under(a, at.date())  # `at` is London time
        ):
            actions.append(a)
            subject_keys[id(a)] = subject
    plan = Plan(event_type, child_id, actions, [], moments, subject_keys)
    plan.starts.extend(
        (a, *_start_id(plan, a, event, child_id)) for a in actions if a.verb is Verb.START
    )
    return plan


def _closes(plan: Plan, event: object, current: dict[UUID, Timer]) -> list[TimerChange]:
    """Stops and cancels of `plan` on the live timers in `current` (updated in place)."""
    starting = {timer_id for _, _, timer_id in plan.starts}
    changes: list[TimerChange] = []
    for action in plan.actions:
        if action.verb is Verb.START:
            continue
        at = plan.moment(action)
        subject = plan.subject(action, event)
        for timer_id, timer in list(current.items()):
            if (
                timer.kind != action.kind
                or timer.policy != action.policy
                or not timer.live
                or timer_id in starting
                or (subject is not None and timer.subject_ref != subject)
                or timer.started_at.astimezone(UTC) > at.astimezone(UTC)
            ):
                continue
            after = meet(timer, at) if action.verb is Verb.STOP else cancel(timer, at)
            changes.append(
                TimerChange(verb=action.verb, cause=plan.event_type, before=timer, after=after)
            )
            current[timer_id] = after
    return changes


def _live_of(plan: Plan, timers: Iterable[Timer]) -> dict[UUID, Timer]:
    return {t.timer_id: t for t in timers if t.child_id == plan.child_id and t.live}


def close_changes(
    policy: Policies, event: object, *, live_timers: Iterable[Timer], plan: Plan | None = None
) -> list[TimerChange]:
    """Only the stops and cancels `event` makes on `live_timers` (never a start); `plan` is the
    event's `plan_of(policy, event)` when the caller has it already."""
    plan = plan or plan_of(policy, event)
    return _closes(plan, event, _live_of(plan, live_timers))


def apply_event(
    policy: Policies,
    event: object,
    *,
    live_timers: Iterable[Timer],
    calendar: WorkingCalendar,
    plan: Plan | None = None,
) -> list[TimerChange]:
    """The timer changes `event` causes, given the child's live (open or breached) timers.

    `event` is an envelope as a mapping (`model_dump()`) or the pydantic event itself. Raises
    `TriggerError` when the event lacks a field the policy needs; the caller dead-letters it.
    """
    plan = plan or plan_of(policy, event)
    current = _live_of(plan, live_timers)
    changes = _closes(plan, event, current)

    started: set[UUID] = set()
    for action, subject, timer_id in plan.starts:
        if timer_id in current or timer_id in started:
            continue
        timer = start_timer(
            book_of(policy).policy(action.policy),
            action.kind,
            child_id=plan.child_id,
            subject_ref=subject,
            started_at=plan.moment(action),
            calendar=calendar,
            timer_id=timer_id,
            anchor=action.anchor(event),
            deadline=action.trigger.deadline,
            warn_before=action.trigger.warn_before,
        )
        started.add(timer_id)
        changes.append(
            TimerChange(verb=Verb.START, cause=plan.event_type, before=None, after=timer)
        )
    return changes
