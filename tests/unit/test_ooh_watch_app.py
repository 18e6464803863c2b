"""The watch view over a fake feed (Textual's headless pilot): order, dedupe, keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from textual.widgets import DataTable, Input

from schemas.codes import Urgency
from schemas.events.triage import CrisisReason
from services.common.calendar import OfficeHours, WorkingCalendar
from services.outofhours.adapters.watch_view import WatchApp
from services.outofhours.domain.display import age_text
from services.outofhours.domain.record import CrisisItem
from services.outofhours.domain.shifts import Shift, shift_for

CAL = WorkingCalendar.england_and_wales(2024, 2026)
NOW = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)


def item(child: str, urgency: Urgency, minutes_ago: int) -> CrisisItem:
    at = NOW - timedelta(minutes=minutes_ago)
    return CrisisItem(
        event_id=uuid.uuid4(), crisis_id=uuid.uuid4(), child_id=child,
        reason=CrisisReason.POLICE_PROTECTION, urgency=urgency, explanation=f"why {child}",
        trigger_event_id=uuid.uuid4(), trigger_event_type="police.protection_started",
        happened_at=at, raised_at=at,
    )  # fmt: skip


class FakeFeed:
    def __init__(self, items: list[CrisisItem]) -> None:
        self.rows = items
        self.on_change: Callable[[], None] | None = None
        self.acknowledged: list[tuple[str, str]] = []
        self.actions: list[tuple[str, str, str]] = []
        self.shifts: list[Shift] = []
        self.closed = False

    async def open(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change

    async def close(self) -> None:
        self.closed = True

    async def items(self, shift: Shift) -> list[CrisisItem]:
        self.shifts.append(shift)
        return list(self.rows)

    async def acknowledge(self, item: CrisisItem, *, worker: str) -> object:
        self.acknowledged.append((item.child_id, worker))
        return None

    async def record_action(
        self, item: CrisisItem, *, summary: str, decision_reason: str, worker: str
    ) -> object:
        self.actions.append((item.child_id, summary, decision_reason))
        return None


def app_for(feed: FakeFeed) -> WatchApp:
    return WatchApp(
        feed,
        shift_of=lambda moment: shift_for(moment, CAL, OfficeHours()),
        worker="EDT07",
        clock=lambda: NOW,
        poll_seconds=60,
    )


def children(app: WatchApp) -> list[str]:
    table = app.query_one(DataTable)
    return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]


async def test_items_are_listed_most_urgent_then_newest_first() -> None:
    feed = FakeFeed([item("C-old", Urgency.IMMEDIATE, 90), item("C-today", Urgency.TODAY, 1),
                     item("C-new", Urgency.IMMEDIATE, 5)])  # fmt: skip
    app = app_for(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert children(app) == ["C-new", "C-old", "C-today"]
        assert feed.shifts[0].starts_at == datetime(2025, 3, 3, 17, tzinfo=UTC)
        assert "3 items, 3 not acknowledged" in app.sub_title
    assert feed.closed


async def test_a_change_notification_adds_new_items_and_never_repeats_one() -> None:
    first = item("C1", Urgency.IMMEDIATE, 5)
    feed = FakeFeed([first])
    app = app_for(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        feed.rows = [first, item("C2", Urgency.TODAY, 0), first]
        assert feed.on_change is not None
        feed.on_change()
        feed.on_change()
        await pilot.pause(0.2)
        assert children(app) == ["C1", "C2"]


async def test_a_acknowledges_the_highlighted_item_and_shows_it_as_sent() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5), item("C2", Urgency.TODAY, 1)])
    app = app_for(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "a")
        await pilot.pause()
        assert feed.acknowledged == [("C2", "EDT07")]
        table = app.query_one(DataTable)
        assert table.get_row_at(1)[4] == "sending…"
        await pilot.press("a")  # a second press sends nothing more
        assert feed.acknowledged == [("C2", "EDT07")]
        acked = feed.rows[1].model_copy(update={"acknowledged_at": NOW, "acknowledged_by": "EDT07"})
        feed.rows = [feed.rows[0], acked]
        assert feed.on_change is not None
        feed.on_change()
        await pilot.pause(0.2)
        assert str(table.get_row_at(1)[4]).startswith("ACK")


async def test_r_prompts_for_what_was_done_and_why_and_records_the_action() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        # typed without pausing: what follows Enter belongs to the next field
        await pilot.press(*"Placed", "enter", *"NoRelative", "enter")
        await pilot.pause()
        assert feed.actions == [("C1", "Placed", "NoRelative")]


async def test_an_action_needs_both_what_was_done_and_why() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter", "enter", *"Placed", "enter", "enter")
        await pilot.pause()
        assert feed.actions == []
        assert app.screen.query_one("#summary", Input).value == "Placed"


async def test_escape_cancels_an_action_without_recording_it() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert feed.actions == []


def test_ages_read_at_a_glance() -> None:
    assert age_text(NOW - timedelta(seconds=42), NOW) == "42 s"
    assert age_text(NOW - timedelta(minutes=12), NOW) == "12 min"
    assert age_text(NOW - timedelta(hours=3, minutes=5), NOW) == "3 h 05"
    assert age_text(NOW - timedelta(days=2, hours=4), NOW) == "2 d 4 h"
