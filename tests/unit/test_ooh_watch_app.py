"""The watch view over a fake feed (Textual's headless pilot): a night worker's screen.

Issue 14: the child first (name, age, address, police ref, team), oldest unacknowledged first with
a toggle, the full reason under the table and in a detail pane, a bell and a flash for a new
IMMEDIATE item, acknowledgement with confirmation and undo, the action kind chosen."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from textual.widgets import DataTable, Input, Static

from schemas.codes import Urgency
from schemas.events.outofhours import OohActionKind
from schemas.events.triage import CrisisReason
from services.common.calendar import OfficeHours, WorkingCalendar
from services.outofhours.adapters.watch_prompts import DetailScreen
from services.outofhours.adapters.watch_view import WatchApp
from services.outofhours.domain.cards import ChildCard, child_text
from services.outofhours.domain.display import age_text
from services.outofhours.domain.record import CrisisItem
from services.outofhours.domain.shifts import Shift, shift_for

CAL = WorkingCalendar.england_and_wales(2024, 2026)
NOW = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)


def item(child: str, urgency: Urgency, minutes_ago: int, *, acked: bool = False) -> CrisisItem:
    at = NOW - timedelta(minutes=minutes_ago)
    return CrisisItem(
        event_id=uuid.uuid4(), crisis_id=uuid.uuid4(), child_id=child,
        reason=CrisisReason.POLICE_PROTECTION, urgency=urgency, explanation=f"why {child}",
        trigger_event_id=uuid.uuid4(), trigger_event_type="police.protection_started",
        happened_at=at, raised_at=at,
        acknowledged_at=NOW if acked else None, acknowledged_by="EDT01" if acked else None,
    )  # fmt: skip


def card(child: str) -> ChildCard:
    """A card whose name is the child id, so rows can be read by child."""
    return ChildCard(
        child_id=child, given_name="Kid", family_name=child, date_of_birth=date(2018, 5, 1),
        address=f"1 {child} Road, Rotherham S60 1AA", police_ref=f"SYP-{child}", team="Team A",
    )  # fmt: skip


class FakeFeed:
    """The watch feed's contract (``ports.WatchFeed``) over lists; sends are recorded."""

    def __init__(self, items: list[CrisisItem]) -> None:
        self.rows = items
        self.on_change: Callable[[], None] | None = None
        self.acknowledged: list[tuple[str, str]] = []
        self.actions: list[tuple[str, str, str, OohActionKind | None]] = []
        self.shifts: list[Shift] = []
        self.asked: list[str] = []
        self.closed = False

    async def open(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change

    async def close(self) -> None:
        self.closed = True

    async def items(self, shift: Shift) -> list[CrisisItem]:
        self.shifts.append(shift)
        return list(self.rows)

    async def cards(self, child_ids: Sequence[str]) -> dict[str, ChildCard]:
        self.asked.extend(child_ids)
        return {c: card(c) for c in child_ids}

    async def acknowledge(self, item: CrisisItem, *, worker: str) -> object:
        self.acknowledged.append((item.child_id, worker))
        return None

    async def record_action(
        self,
        item: CrisisItem,
        *,
        summary: str,
        decision_reason: str,
        worker: str,
        kind: OohActionKind | None = None,
    ) -> object:
        self.actions.append((item.child_id, summary, decision_reason, kind))
        return None


def app_for(feed: FakeFeed, *, undo_seconds: float = 0.3) -> WatchApp:
    return WatchApp(
        feed,
        shift_of=lambda moment: shift_for(moment, CAL, OfficeHours()),
        worker="EDT07",
        clock=lambda: NOW,
        poll_seconds=60,
        undo_seconds=undo_seconds,
    )


def children(app: WatchApp) -> list[str]:
    """The family name in each row's Child cell (the fake's cards name children by id)."""
    table = app.query_one(DataTable)
    return [str(table.get_row_at(i)[0]).split(",")[0].split()[-1] for i in range(table.row_count)]


def lines(app: WatchApp, row: int, column: int) -> list[str]:
    return str(app.query_one(DataTable).get_row_at(row)[column]).splitlines()


async def test_each_row_leads_with_the_child_name_age_address_police_ref_and_team() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        assert lines(app, 0, 0) == ["Kid C1, 6 y", "1 C1 Road, Rotherham S60 1AA"]
        assert lines(app, 0, 1) == ["SYP-C1", "Team A"]
        assert lines(app, 0, 2) == ["IMMEDIATE", "5 min"]
        assert lines(app, 0, 3) == ["police protection", "—"]
        assert feed.asked == ["C1"]


async def test_unacknowledged_items_come_first_most_urgent_then_longest_waiting() -> None:
    feed = FakeFeed([item("Cnew", Urgency.IMMEDIATE, 5), item("Ctoday", Urgency.TODAY, 1),
                     item("Cold", Urgency.IMMEDIATE, 90), item("Cdone", Urgency.IMMEDIATE, 200,
                     acked=True)])  # fmt: skip
    app = app_for(feed)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        assert children(app) == ["Cold", "Cnew", "Ctoday", "Cdone"]
        assert feed.shifts[0].starts_at == datetime(2025, 3, 3, 17, tzinfo=UTC)
        assert "4 items, 3 not acknowledged" in app.sub_title
        await pilot.press("n")  # the toggle: newest first within an urgency
        assert children(app) == ["Cnew", "Cold", "Ctoday", "Cdone"]
        assert "newest first" in app.sub_title
    assert feed.closed


async def test_a_change_notification_adds_new_items_and_never_repeats_one() -> None:
    first = item("C1", Urgency.IMMEDIATE, 5)
    feed = FakeFeed([first])
    app = app_for(feed)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        feed.rows = [first, item("C2", Urgency.TODAY, 0), first]
        assert feed.on_change is not None
        feed.on_change()
        feed.on_change()
        await pilot.pause(0.2)
        assert children(app) == ["C1", "C2"]


async def test_a_new_immediate_item_rings_the_bell_and_flashes_but_the_first_load_does_not() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    rang: list[str] = []
    app.bell = lambda: rang.append("bell")  # type: ignore[method-assign]
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        assert rang == []
        feed.rows = [*feed.rows, item("C2", Urgency.TODAY, 0)]
        assert feed.on_change is not None
        feed.on_change()
        await pilot.pause(0.2)
        assert rang == []  # not immediate: no bell
        feed.rows = [*feed.rows, item("C3", Urgency.IMMEDIATE, 0)]
        feed.on_change()
        await pilot.pause(0.2)
        assert rang == ["bell"]
        assert app.screen.has_class("flash")
        assert "NEW IMMEDIATE" in str(app.query_one("#status", Static).content)
        assert children(app)[:2] == ["C1", "C3"]  # first among the unacknowledged immediates


async def test_the_highlighted_item_is_shown_in_full_and_enter_opens_the_detail_pane() -> None:
    long_reason = "Red police DA notification; " + "every word matters " * 20 + "END"
    one = item("C1", Urgency.IMMEDIATE, 5).model_copy(update={"explanation": long_reason})
    feed = FakeFeed([one])
    app = app_for(feed)
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        assert long_reason in str(app.query_one("#detail", Static).content)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        shown = str(app.screen.query_one("#detail-text", Static).content)
        assert long_reason in shown
        assert "born 01/05/2018" in shown
        assert "child id C1" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)


async def test_acknowledging_asks_first_and_n_sends_nothing() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause(0.5)
        assert feed.acknowledged == []


async def test_a_confirmed_acknowledgement_is_sent_after_the_undo_window() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5), item("C2", Urgency.TODAY, 1)])
    app = app_for(feed)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "a", "y")
        await pilot.pause()
        assert feed.acknowledged == []  # not yet: undo is still possible
        assert "undo" in lines(app, 1, 3)[1]
        await pilot.pause(0.6)
        assert feed.acknowledged == [("C2", "EDT07")]
        assert lines(app, 1, 3)[1] == "sending…"
        await pilot.press("a")  # a second press sends nothing more
        await pilot.pause(0.5)
        assert feed.acknowledged == [("C2", "EDT07")]
        acked = feed.rows[1].model_copy(update={"acknowledged_at": NOW, "acknowledged_by": "EDT07"})
        feed.rows = [feed.rows[0], acked]
        assert feed.on_change is not None
        feed.on_change()
        await pilot.pause(0.2)
        assert lines(app, 1, 3)[1].startswith("ACK")


async def test_u_undoes_an_acknowledgement_before_it_is_sent() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed, undo_seconds=1.0)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a", "y")
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause(1.3)
        assert feed.acknowledged == []
        assert "undone" in str(app.query_one("#status", Static).content)


async def test_leaving_the_view_sends_a_confirmed_acknowledgement_at_once() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed, undo_seconds=30)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a", "y")
        await pilot.pause()
        assert feed.acknowledged == []
    assert feed.acknowledged == [("C1", "EDT07")]


async def test_r_asks_the_kind_what_was_done_and_why_and_records_the_action() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        # the kind starts at the one the reason suggests (police protection); one down is the next
        # typed without pausing: what follows Enter belongs to the next field
        await pilot.press("down", "enter", *"Placed", "enter", *"NoRelative", "enter")
        await pilot.pause()
        assert feed.actions == [("C1", "Placed", "NoRelative", OohActionKind.EMERGENCY_PLACEMENT)]


async def test_an_action_needs_both_what_was_done_and_why() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter", "enter", "enter", *"Placed", "enter", "enter")
        await pilot.pause()
        assert feed.actions == []
        assert app.screen.query_one("#summary", Input).value == "Placed"


async def test_escape_cancels_an_action_without_recording_it() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(80, 40)) as pilot:
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


def test_a_child_reads_name_then_age_and_missing_items_stay_missing() -> None:
    assert child_text(card("C1"), NOW) == "Kid C1, 6 y"
    baby = ChildCard(child_id="B", family_name="Ng", date_of_birth=date(2024, 10, 20))
    assert child_text(baby, NOW) == "Ng, 4 mo"
    unborn = ChildCard(child_id="U", family_name="Ng", expected_birth_date=date(2025, 4, 3))
    assert child_text(unborn, NOW) == "Ng, unborn (due 03 Apr)"
    assert child_text(ChildCard(child_id="X"), NOW) == "name not recorded, age ?"
    assert child_text(None, NOW) == "name not recorded, age ?"


async def test_the_table_fits_an_80_column_terminal_without_scrolling_sideways() -> None:
    feed = FakeFeed([item("C1", Urgency.IMMEDIATE, 5)])
    app = app_for(feed)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        table = app.query_one(DataTable)
        assert table.row_count == 1
        assert table.virtual_size.width <= 80
        assert table.max_scroll_x == 0
