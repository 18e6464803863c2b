"""The workforce use case: record each fact, check what it names, recompute clocks, alert.

For each event of a batch, the directory's own events first: every team or worker id it names
must be in the directory, else — once the directory has been applied up to the event's own time,
or the event has waited ``park_seconds`` for it — a ``validation`` dead letter naming the field
and the rule, never a new team. Until then the event is parked (``workforce_parked``, unclaimed:
``Unit.defer``) and fed through the pipeline again by the service's ``refeed`` task, because the
directory travels on its own key and a replay can bring an allocation before the join; the fact
is recorded; an allocation is checked against the caps and NQSW protections of the profile in
force at its time and raises each alert once (the alert id is derived from the allocation's
event id, claimed in ``workforce_alerts``, and emitted through the outbox with the batch); then
the clocks of every worker and child the batch touched are recomputed from the stored facts, as
of the event's own date. Only the park's bound reads processing time (``Unit.now``); no derived
value does.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from schemas.envelope import LONDON, Agency, Source, Subject
from schemas.events.workforce import (
    DIRECTORY_KEY,
    CaseType,
    WorkforceAlertPayload,
    WorkforceAlertRaised,
)
from schemas.topics import WORKFORCE
from services.common.calendar import WorkingCalendar, end_of_day
from services.common.pipeline import Delivery, Unit
from services.common.publishing import event_record
from services.workforce.domain.caseload import Allocation, Holder, check_allocation
from services.workforce.domain.profiles import ProfileBook
from services.workforce.domain.references import UnknownReferenceError, references
from services.workforce.domain.supervision import (
    allocation_due,
    asye_plan,
    next_review,
    next_supervision,
    oversight_due,
    session_flag,
)
from services.workforce.ports import Clock, Parked, StoreFor, WorkforceStore

ALERT_NAMESPACE = uuid.UUID("0b7f3c1e-5a2d-5e4f-8c19-3d6a7b2e9f10")
SYSTEM = "frontdoor-workforce"
ALLOCATION_TYPES = frozenset({"child.allocated", "child.reallocated"})
LOCKED = ALLOCATION_TYPES | {"referral.accepted"}
"""A child's referral and allocations meet in ``workforce_referrals`` from two subscriptions."""


def _day(moment: datetime) -> Any:
    return moment.astimezone(LONDON).date()


def in_event_order(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The batch merged by event time across keys, each key's own order kept (the directory's
    first at a tie): a batch that carries a worker.joined and, on another key, a later
    allocation naming that worker applies the join first."""
    per_key: dict[str, list[Delivery]] = {}
    for d in deliveries:
        per_key.setdefault(d.event.subject.child_id, []).append(d)
    return list(
        heapq.merge(
            *per_key.values(),
            key=lambda d: (d.event.occurred_at, d.event.subject.child_id != DIRECTORY_KEY),
        )
    )


class WorkforceHandler:
    def __init__(
        self,
        store_for: StoreFor,
        book: ProfileBook,
        calendar: WorkingCalendar,
        *,
        park_seconds: float,
    ) -> None:
        self._store_for, self._book, self._calendar = store_for, book, calendar
        self._park = timedelta(seconds=park_seconds)

    async def __call__(self, unit: Unit, deliveries: Sequence[Delivery]) -> None:
        store = self._store_for(unit.connection)
        workers: dict[str, datetime] = {}
        children: dict[str, datetime] = {}
        ordered = in_event_order(deliveries)
        await store.lock_children(
            sorted({d.event.subject.child_id for d in deliveries if d.event.event_type in LOCKED})
        )
        through = await store.directory_through()
        for d in ordered:
            event = d.event
            if await self._held_back(unit, store, d, through):
                continue
            if event.subject.child_id == DIRECTORY_KEY:
                through = event.occurred_at if through is None else max(through, event.occurred_at)
                await store.advance_directory(through)
            payload: Any = event.payload
            if event.event_type in ALLOCATION_TYPES:
                await self._check_allocation(unit, store, d)
            if event.event_type == "referral.accepted":
                await store.referral(event.subject.child_id, payload.referral_at, payload.team)
            elif event.event_type == "supervision.held":
                profile = self._book.in_force(_day(payload.started_at))
                flag = session_flag(
                    profile, payload.kind, payload.duration_minutes, payload.interrupted
                )
                await store.record(event, flag=flag)
                unit.note(d, counted=flag is None)
                for entry in payload.children:
                    children[entry.child_id] = event.occurred_at
            elif event.event_type in WORKFORCE.event_types:
                await store.record(event)
            worker_id = getattr(payload, "worker_id", None)
            if event.subject.child_id == DIRECTORY_KEY and isinstance(worker_id, str):
                workers[worker_id] = max(
                    event.occurred_at, workers.get(worker_id, event.occurred_at)
                )
            else:
                children[event.subject.child_id] = event.occurred_at
        for worker_id, at in workers.items():
            await self._supervision_clocks(store, worker_id, at)
        for child_id in children:
            await self._child_clocks(store, child_id)
        # handled or refused: no longer parked (a deferred one stays)
        await store.unpark(unit.consumer, [d.id for d in deliveries if d.id not in unit.deferred])

    async def _held_back(
        self, unit: Unit, store: WorkforceStore, d: Delivery, through: datetime | None
    ) -> bool:
        """Park (defer) or refuse ``d`` if it names an id the directory lacks; False if not."""
        unknown = await self._unknown(store, d.event)
        if unknown is None:
            return False
        error, ref = unknown
        if await self._wait_for_directory(unit, store, d, through):
            parked = Parked(d.id, d.event.occurred_at, error.field, error.kind, ref, d.origin)
            await store.park(unit.consumer, parked, unit.now)
            unit.defer(d)
            unit.note(d, parked_for=error.field)
        else:
            unit.reject(d, error)
        return True

    async def _wait_for_directory(
        self, unit: Unit, store: WorkforceStore, d: Delivery, through: datetime | None
    ) -> bool:
        """Should an event naming an unknown id wait? Yes while the directory has not been
        applied up to the event's own time (its events are published in time order on one key,
        so once it has, every team and worker of that moment is known) — but never longer than
        the park allows (measured in processing time: a directory that stays silent must not
        hold a refusal for ever)."""
        if through is not None and through >= d.event.occurred_at:
            return False
        since = await store.parked_since(unit.consumer, d.id)
        return since is None or unit.now - since < self._park

    async def _unknown(
        self, store: WorkforceStore, event: Any
    ) -> tuple[UnknownReferenceError, str] | None:
        for field, kind, ref in references(event):
            found = await (store.team(ref) if kind == "team" else store.worker(ref))
            if found is None:
                return UnknownReferenceError(field, kind), ref
        return None

    async def _check_allocation(self, unit: Unit, store: WorkforceStore, d: Delivery) -> None:
        event = d.event
        payload: Any = event.payload
        worker = await store.worker(payload.worker_id)
        team = await store.team(payload.team_id)
        if worker is None or team is None:  # pragma: no cover - refused by _unknown first
            return
        at: datetime = payload.allocated_at
        profile = self._book.in_force(_day(at))
        nqsw = worker.newly_qualified and (
            worker.asye_completed_on is None or _day(at) < worker.asye_completed_on
        )
        holder = Holder(worker.worker_id, worker.fte, worker.case_holder, nqsw)
        held = [
            a
            for a in await store.open_allocations(worker.worker_id)
            if a.child_id != event.subject.child_id
        ]
        new = Allocation(
            event.subject.child_id,
            worker.worker_id,
            CaseType(payload.case_type),
            co_worked=payload.co_worker_id is not None,
        )
        check = check_allocation(profile, holder, held, new)
        for rule in check.rules:
            alert_id = uuid.uuid5(ALERT_NAMESPACE, f"{event.event_id}:{rule.value}")
            if not await store.claim_alert(
                alert_id,
                rule=rule.value,
                worker_id=worker.worker_id,
                child_id=event.subject.child_id,
                team_id=team.team_id,
                raised_at=at,
            ):
                continue
            alert = WorkforceAlertRaised(
                event_id=alert_id,
                event_type="workforce.alert_raised",
                schema_version=1,
                occurred_at=at,
                source=Source(agency=Agency.SOCIAL_CARE, system=SYSTEM, ref=str(event.event_id)),
                subject=Subject(child_id=event.subject.child_id),
                causation_id=event.event_id,
                correlation_id=event.correlation_id,
                payload=WorkforceAlertPayload(
                    rule=rule,
                    team_id=team.team_id,
                    manager_id=team.manager_id,
                    worker_id=worker.worker_id,
                    allocation_event_id=event.event_id,
                    raised_at=at,
                    profile=profile.name,
                    points=check.points_after,
                    cap=check.cap,
                ),
            )
            unit.emit(event_record(WORKFORCE.name, alert))
            unit.note(d, alert=rule.value)

    async def _supervision_clocks(
        self, store: WorkforceStore, worker_id: str, at: datetime
    ) -> None:
        facts = await store.supervision_facts(worker_id)
        if facts is None:
            return
        w = facts.worker
        as_of = _day(at)
        if w.left_on is not None and w.left_on <= as_of:
            await store.drop_clock("supervision", worker_id)
            await store.drop_clock("asye_review", worker_id)
            return
        profile = self._book.in_force(w.employed_from)
        due = next_supervision(
            profile,
            self._calendar,
            employed_from=w.employed_from,
            nqsw=w.newly_qualified,
            counted=facts.counted,
            leaves=facts.leaves,
            as_of=as_of,
        )
        if due.due_on is None:
            await store.drop_clock("supervision", worker_id)
        else:
            started = due.last_counted or w.employed_from
            await store.set_clock(
                Clock(
                    "supervision",
                    worker_id,
                    DIRECTORY_KEY,
                    profile.name,
                    end_of_day(started),
                    end_of_day(due.due_on),
                    w.team_id,
                )
            )
        if w.asye_starts_on is None or w.asye_completed_on is not None:
            await store.drop_clock("asye_review", worker_id)
            return
        asye_profile = self._book.in_force(w.asye_starts_on)
        plan = asye_plan(asye_profile, w.asye_starts_on, facts.leaves + facts.asye_pauses)
        review = next_review(plan, facts.asye_reviews)
        if review is None:
            await store.drop_clock("asye_review", worker_id)
        else:
            await store.set_clock(
                Clock(
                    "asye_review",
                    worker_id,
                    DIRECTORY_KEY,
                    asye_profile.name,
                    end_of_day(w.asye_starts_on),
                    end_of_day(review[1]),
                    w.team_id,
                )
            )

    async def _child_clocks(self, store: WorkforceStore, child_id: str) -> None:
        case = await store.open_case(child_id)
        if case is None:
            await store.drop_clock("case_oversight", child_id)
        else:
            await store.drop_clock("allocation", child_id)
            last = case.last_entry or case.allocated_at
            profile = self._book.in_force(_day(case.allocated_at))
            due = oversight_due(profile, CaseType(case.case_type), _day(last))
            await store.set_clock(
                Clock(
                    "case_oversight",
                    child_id,
                    child_id,
                    profile.name,
                    last,
                    end_of_day(due),
                    case.team_id,
                )
            )
        waiting = await store.waiting_referral(child_id)
        if waiting is not None:
            referral_at, team = waiting
            profile = self._book.in_force(_day(referral_at))
            due_on = allocation_due(profile, self._calendar, _day(referral_at))
            await store.set_clock(
                Clock(
                    "allocation",
                    child_id,
                    child_id,
                    profile.name,
                    referral_at,
                    end_of_day(due_on),
                    team,
                )
            )
