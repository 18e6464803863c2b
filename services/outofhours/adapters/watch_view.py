"""``frontdoor ooh watch``: the duty worker's live view of the night's crisis items (Textual).

One row per crisis item, most urgent and newest first: urgency, age, child, reason, whether it is
acknowledged, and why it is there. The rows come from the night's record (``WatchFeed``), re-read
whenever the outofhours worker says something committed (and every few seconds regardless), so a
view opened late shows everything that arrived while it was closed and never shows an item twice
(rows are keyed by the crisis event id). ``a`` acknowledges the highlighted item and ``r`` records
an action on it (a prompt asks what was done and why): both publish an ``ooh.action_recorded``,
and the row turns acknowledged when that action is back in the record. Ages tick every second.
This is the terminal side only (``services/cli/ooh.py`` opens it): the data side is
``watch_feed.py``, the wording ``domain/display.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from services.common.calendar import to_london
from services.outofhours.domain.display import URGENCY_LABEL, ack_text, age_text
from services.outofhours.domain.record import CrisisItem, watch_order
from services.outofhours.domain.shifts import Shift
from services.outofhours.ports import WatchFeed

COLUMNS = (
    ("urgency", "Urgency"),
    ("age", "Age"),
    ("child", "Child"),
    ("reason", "Reason"),
    ("ack", "Ack"),
    ("why", "Why"),
)


class ActionPrompt(ModalScreen[tuple[str, str] | None]):
    """Asks what was done and why; Enter moves on, then saves; Escape cancels.

    Enter is a priority binding handled in key order, so text typed straight after it lands in
    the next field even when keys arrive faster than the screen repaints (a paste, a script).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "next", "Next / save", priority=True),
    ]
    DEFAULT_CSS = """
    ActionPrompt { align: center middle; }
    ActionPrompt > Vertical { width: 90; height: auto; border: thick $accent; padding: 1 2; }
    """

    def __init__(self, item: CrisisItem) -> None:
        super().__init__()
        self.item = item

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Action for {self.item.child_id}: {self.item.explanation}")
            yield Input(placeholder="What was done", id="summary")
            yield Input(placeholder="Reasons for the decision", id="reason")
            yield Label("Enter: next / save · Esc: cancel", id="hint")

    def action_next(self) -> None:
        reason = self.query_one("#reason", Input)
        if self.focused is not reason:
            self.set_focus(reason)
            return
        # finish once the field has taken every key typed before this Enter
        reason.call_later(self._finish)

    def _finish(self) -> None:
        summary = self.query_one("#summary", Input)
        reason = self.query_one("#reason", Input)
        if not summary.value.strip():
            self.set_focus(summary)
        elif not reason.value.strip():
            self.set_focus(reason)
        else:
            self.dismiss((summary.value.strip(), reason.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)


class WatchApp(App[None]):
    """The live list of the night's crisis items."""

    TITLE = "frontdoor · out of hours"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Acknowledge"),
        Binding("r", "record", "Record action"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        feed: WatchFeed,
        *,
        shift_of: Callable[[datetime], Shift],
        worker: str,
        clock: Callable[[], datetime],
        night: Shift | None = None,
        poll_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.shift_of = shift_of
        self.worker = worker
        self.clock = clock
        self.night = night
        self.poll_seconds = poll_seconds
        self.items: dict[str, CrisisItem] = {}
        self.pending: set[str] = set()
        self._dirty = False
        self._refreshing = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="items", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        await self.feed.open(self.changed)
        await self.reload()
        self.set_interval(1.0, self.tick_ages)
        self.set_interval(self.poll_seconds, self.changed)
        table.focus()

    async def on_unmount(self) -> None:
        await self.feed.close()

    # -- keeping the list current ------------------------------------------------------------

    def changed(self) -> None:
        """Something committed (or the poll fired): re-read once the current read is done."""
        self._dirty = True
        if not self._refreshing:
            self.run_worker(self._drain(), group="reload")

    async def _drain(self) -> None:
        self._refreshing = True
        try:
            while self._dirty:
                self._dirty = False
                await self.reload()
        finally:
            self._refreshing = False

    async def reload(self) -> None:
        shift = self.night or self.shift_of(self.clock())
        items = await self.feed.items(shift)
        self.items = {str(i.event_id): i for i in items}
        self.pending = {
            k for k in self.pending if k in self.items and not self.items[k].acknowledged
        }
        self.render_items(shift)

    def render_items(self, shift: Shift) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_key()
        now = self.clock()
        table.clear()
        for item in watch_order(list(self.items.values())):
            key = str(item.event_id)
            table.add_row(
                URGENCY_LABEL[item.urgency],
                age_text(item.happened_at, now),
                item.child_id,
                item.reason.value.replace("_", " "),
                ack_text(item, pending=key in self.pending),
                item.explanation,
                key=key,
            )
        if selected in self.items:
            table.move_cursor(row=table.get_row_index(selected))
        waiting = sum(1 for i in self.items.values() if not i.acknowledged)
        starts, ends = to_london(shift.starts_at), to_london(shift.ends_at)
        self.sub_title = (
            f"night of {starts:%a %d %b} ({starts:%H:%M} → {ends:%a %H:%M}) · "
            f"{len(self.items)} items, {waiting} not acknowledged"
        )

    def tick_ages(self) -> None:
        table = self.query_one(DataTable)
        now = self.clock()
        for key, item in self.items.items():
            table.update_cell(key, "age", age_text(item.happened_at, now))

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def selected_item(self) -> CrisisItem | None:
        key = self.selected_key()
        return self.items.get(key) if key is not None else None

    def say(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    # -- the duty worker's keys --------------------------------------------------------------

    async def action_acknowledge(self) -> None:
        item = self.selected_item()
        if item is None:
            self.say("nothing to acknowledge")
            return
        key = str(item.event_id)
        if item.acknowledged or key in self.pending:
            self.say(f"{item.child_id}: already acknowledged")
            return
        self.pending.add(key)
        self.query_one(DataTable).update_cell(key, "ack", ack_text(item, pending=True))
        await self.feed.acknowledge(item, worker=self.worker)
        self.say(f"{item.child_id}: acknowledgement sent")

    def action_record(self) -> None:
        item = self.selected_item()
        if item is None:
            self.say("nothing selected")
            return

        async def save(result: tuple[str, str] | None) -> None:
            if result is None:
                self.say("action not recorded")
                return
            summary, reason = result
            await self.feed.record_action(
                item, summary=summary, decision_reason=reason, worker=self.worker
            )
            key = str(item.event_id)
            if not item.acknowledged and key in self.items:
                self.pending.add(key)
                self.query_one(DataTable).update_cell(key, "ack", ack_text(item, pending=True))
            self.say(f"{item.child_id}: action recorded")

        self.push_screen(ActionPrompt(item), callback=save)
