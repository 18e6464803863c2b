"""The workforce use case: record each fact, check what it names, recompute clocks, alert.

For each event of a batch, the directory's own events first: every team or worker id it names
must be in the directory, else — once the directory has been applied up to the event's own time,
or the event has waited ``park_seconds`` for it — a ``validation`` dead letter naming the field
and the rule, never a new team. Until then the event is parked (``workforce_parked``, unclaimed:
``Unit.defer``) and fed through the pipeline again by the service's ``refeed`` task, because the
directory travels on its own key and a replay can bring an allocation before the join; the fact
is recorded; then the alerts of every worker whose allocations the batch touched (an allocation
to them, the end of one of theirs, a change of their FTE or ASYE) are decided again from their
allocation history in event time, from the earliest moment touched: each allocation against the
caps and NQSW protections of the profile in force at its time and the worker's allocations open
just before it. A new alert is raised once (its id derived from the allocation's event id and
the rule, claimed in ``workforce_alerts``, emitted through the outbox with the batch); one that
the fuller history no longer bears out (an earlier allocation, or the end of one, read after a
later allocation from another child's partition) is withdrawn from the view — so the flags are
the same in any interleaving; what was emitted stays emitted. Then the clocks of every worker and
child the batch touched are recomputed from the stored facts, as of the event's own date, and
written together (the children's facts read in one query, the clocks in two statements). Only
the park's bound reads processing time (``Unit.now``); no derived value does.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.envelope import LONDON
from schemas.events.workforce import (
    DIRECTORY_KEY,
    AlertRule,
    CaseType,
)
from schemas.topics import WORKFORCE
from services.common.calendar import WorkingCalendar, end_of_day
from services.common.pipeline import Delivery, Unit
from services.common.publishing import event_record
from services.workforce.domain.alerts import alert_id, alert_raised
from services.workforce.domain.caseload import (
    Allocated,
    AllocationCheck,
    Holder,
    check_allocation,
    held_before,
    terms_on,
)
from services.workforce.domain.profiles import Profile, ProfileBook
from services.workforce.domain.references import UnknownReferenceError, references
from services.workforce.domain.supervision import (
    allocation_due,
    asye_plan,
    next_review,
    next_supervision,
    oversight_due,
    session_flag,
)
from services.workforce.ports import ChildFacts, Clock, Parked, StoreFor, WorkforceStore

ALLOCATION_TYPES = frozenset({"child.allocated", "child.reallocated"})
ENDING_TYPES = ALLOCATION_TYPES | {"child.unallocated"}
"""End the child's open allocation (``_end``): its worker's later allocations weigh less."""
WORKER_TYPES = frozenset({"worker.joined", "worker.changed", "asye.completed"})
"""Change what a worker's cap or NQSW protection is: all their alerts are decided again."""
_EVER = datetime.min.replace(tzinfo=UTC)


def children_touched(deliveries: Sequence[Delivery]) -> list[str]:
    """Every child whose facts or clocks the batch writes — the subject of each event not about
    the directory and each child a supervision session discussed — in lock order. The two
    subscriptions (and the directory's own key) each write a child's clocks in their own
    transaction from what they read: unserialised, a casework event could read the referral
    still waiting while an allocation commits, and set the referral → allocation clock the
    allocation had just dropped (a clock left open in one interleaving and not another)."""
    touched = {d.event.subject.child_id for d in deliveries}
    for d in deliveries:
        if d.event.event_type == "supervision.held":
            touched.update(entry.child_id for entry in getattr(d.event.payload, "children", ()))
    return sorted(touched - {DIRECTORY_KEY})


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
        alerting: dict[str, datetime] = {}  # worker → the earliest allocation time touched
        known: set[tuple[str, str]] = set()  # (kind, id) found in the directory by this batch
        ordered = in_event_order(deliveries)
        await store.lock_children(children_touched(deliveries))
        through = started = await store.directory_through()
        for d in ordered:
            event = d.event
            if await self._held_back(unit, store, d, through, known):
                continue
            if event.subject.child_id == DIRECTORY_KEY:
                through = event.occurred_at if through is None else max(through, event.occurred_at)
            payload: Any = event.payload
            await self._touched(store, event, alerting)
            await self._record(unit, store, d, children)
            worker_id = getattr(payload, "worker_id", None)
            if event.subject.child_id == DIRECTORY_KEY and isinstance(worker_id, str):
                workers[worker_id] = max(
                    event.occurred_at, workers.get(worker_id, event.occurred_at)
                )
            else:
                children[event.subject.child_id] = event.occurred_at
        if through is not None and through != started:  # read above, written once a batch
            await store.advance_directory(through)
        allocations = {d.event.event_id: d for d in deliveries}
        for worker_id in sorted(alerting):
            await self._alerts(unit, store, worker_id, alerting[worker_id], allocations)
        clocks: dict[tuple[str, str], Clock | None] = {}
        for worker_id, at in workers.items():
            clocks.update(await self._supervision_clocks(store, worker_id, at))
        facts = await store.child_facts(sorted(children))
        for child_id in children:
            clocks.update(self._child_clocks(child_id, facts.get(child_id, ChildFacts())))
        await store.write_clocks(clocks)
        await store.flush()
        # handled or refused: no longer parked (a deferred one stays)
        await store.unpark(unit.consumer, [d.id for d in deliveries if d.id not in unit.deferred])

    async def _record(
        self, unit: Unit, store: WorkforceStore, d: Delivery, children: dict[str, datetime]
    ) -> None:
        """The fact ``d`` states, recorded (a session: with its flag, and the children it
        discussed noted for their clocks)."""
        event = d.event
        payload: Any = event.payload
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

    async def _held_back(
        self,
        unit: Unit,
        store: WorkforceStore,
        d: Delivery,
        through: datetime | None,
        known: set[tuple[str, str]],
    ) -> bool:
        """Park (defer) or refuse ``d`` if it names an id the directory lacks; False if not."""
        unknown = await self._unknown(store, d.event, known)
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
        self, store: WorkforceStore, event: Any, known: set[tuple[str, str]]
    ) -> tuple[UnknownReferenceError, str] | None:
        """The first id ``event`` names that the directory lacks. The directory never forgets a
        team or a worker (a leaver keeps their row), so an id found once in the batch's
        transaction is not looked up again; one not found is, every time."""
        for field, kind, ref in references(event):
            if (kind, ref) in known:
                continue
            found = await (store.team(ref) if kind == "team" else store.worker(ref))
            if found is None:
                return UnknownReferenceError(field, kind), ref
            known.add((kind, ref))
        return None

    async def _touched(
        self, store: WorkforceStore, event: Any, alerting: dict[str, datetime]
    ) -> None:
        """Note, before ``event`` is recorded, whose alerts it may change and from when."""
        payload: Any = event.payload

        def touch(worker_id: str, at: datetime) -> None:
            alerting[worker_id] = min(at, alerting.get(worker_id, at))

        if event.event_type in ENDING_TYPES:
            at = payload.unallocated_at if event.event_type == "child.unallocated" else None
            at = at or payload.allocated_at
            held = await store.open_allocation(event.subject.child_id)
            if held is not None and held[1] < at:
                touch(held[0], at)
            if event.event_type in ALLOCATION_TYPES:
                touch(payload.worker_id, at)
        elif event.event_type in WORKER_TYPES:
            touch(payload.worker_id, _EVER)

    async def _alerts(
        self,
        unit: Unit,
        store: WorkforceStore,
        worker_id: str,
        since: datetime,
        batch: Mapping[uuid.UUID, Delivery],
    ) -> None:
        """Decide the alerts of the worker's allocations made from ``since`` on, from the
        history: raise those not yet raised, withdraw those it no longer bears out."""
        worker = await store.worker(worker_id)
        if worker is None:  # pragma: no cover - refused by _unknown first
            return
        history = await store.allocation_history(worker_id, since)
        terms = await store.worker_terms(worker_id)
        raised = await store.alert_ids(worker_id, since)
        due: set[uuid.UUID] = set()
        for a in sorted(history, key=lambda h: (h.allocated_at, str(h.event_id))):
            if a.allocated_at < since:
                continue
            day = _day(a.allocated_at)
            profile = self._book.in_force(day)
            nqsw = worker.newly_qualified and (
                worker.asye_completed_on is None or day < worker.asye_completed_on
            )
            # the FTE and case-holding in force on the allocation's day, not the latest
            fte, case_holder = terms_on(terms, day, current=(worker.fte, worker.case_holder))
            holder = Holder(worker.worker_id, fte, case_holder, nqsw)
            check = check_allocation(profile, holder, held_before(history, a), a.allocation)
            for rule in check.rules:
                due.add(alert_id(a.event_id, rule))
                if alert_id(a.event_id, rule) not in raised:
                    cause = batch.get(a.event_id)
                    await self._raise(
                        unit, store, a, rule=rule, check=check, profile=profile, cause=cause
                    )
        await store.withdraw_alerts(sorted(raised - due))

    async def _raise(
        self,
        unit: Unit,
        store: WorkforceStore,
        a: Allocated,
        *,
        rule: AlertRule,
        check: AllocationCheck,
        profile: Profile,
        cause: Delivery | None,
    ) -> None:
        if not await store.claim_alert(
            alert_id(a.event_id, rule),
            rule=rule.value,
            worker_id=a.allocation.worker_id,
            child_id=a.allocation.child_id,
            team_id=a.team_id,
            raised_at=a.allocated_at,
        ):
            return
        team = await store.team(a.team_id)
        alert = alert_raised(
            a,
            rule,
            check,
            profile=profile.name,
            manager_id=None if team is None else team.manager_id,
            correlation_id=None if cause is None else cause.event.correlation_id,
        )
        unit.emit(event_record(WORKFORCE.name, alert))
        if cause is not None:
            unit.note(cause, alert=rule.value)

    async def _supervision_clocks(
        self, store: WorkforceStore, worker_id: str, at: datetime
    ) -> dict[tuple[str, str], Clock | None]:
        """The worker's supervision and ASYE review clocks (None: no clock) as of ``at``."""
        facts = await store.supervision_facts(worker_id)
        out: dict[tuple[str, str], Clock | None] = {}
        if facts is None:
            return out
        w = facts.worker
        as_of = _day(at)
        if w.left_on is not None and w.left_on <= as_of:
            out[("supervision", worker_id)] = out[("asye_review", worker_id)] = None
            return out
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
            out[("supervision", worker_id)] = None
        else:
            started = due.last_counted or w.employed_from
            out[("supervision", worker_id)] = Clock(
                "supervision",
                worker_id,
                DIRECTORY_KEY,
                profile.name,
                end_of_day(started),
                end_of_day(due.due_on),
                w.team_id,
            )
        if w.asye_starts_on is None or w.asye_completed_on is not None:
            out[("asye_review", worker_id)] = None
            return out
        asye_profile = self._book.in_force(w.asye_starts_on)
        plan = asye_plan(asye_profile, w.asye_starts_on, facts.leaves + facts.asye_pauses)
        review = next_review(plan, facts.asye_reviews)
        if review is None:
            out[("asye_review", worker_id)] = None
        else:
            out[("asye_review", worker_id)] = Clock(
                "asye_review",
                worker_id,
                DIRECTORY_KEY,
                asye_profile.name,
                end_of_day(w.asye_starts_on),
                end_of_day(review[1]),
                w.team_id,
            )
        return out

    def _child_clocks(
        self, child_id: str, facts: ChildFacts
    ) -> dict[tuple[str, str], Clock | None]:
        """The child's clocks from the stored facts alone: case oversight while allocated, the
        referral → allocation clock while a referral waits — and neither otherwise, whatever
        the batch (an allocation and its end read together left the referral's clock open)."""
        out: dict[tuple[str, str], Clock | None] = {
            ("case_oversight", child_id): None,
            ("allocation", child_id): None,
        }
        if (case := facts.case) is not None:
            last = case.last_entry or case.allocated_at
            profile = self._book.in_force(_day(case.allocated_at))
            due = oversight_due(profile, CaseType(case.case_type), _day(last))
            out[("case_oversight", child_id)] = Clock(
                "case_oversight",
                child_id,
                child_id,
                profile.name,
                last,
                end_of_day(due),
                case.team_id,
            )
        if facts.waiting is not None:
            referral_at, team = facts.waiting
            profile = self._book.in_force(_day(referral_at))
            due_on = allocation_due(profile, self._calendar, _day(referral_at))
            out[("allocation", child_id)] = Clock(
                "allocation",
                child_id,
                child_id,
                profile.name,
                referral_at,
                end_of_day(due_on),
                team,
            )
        return out
