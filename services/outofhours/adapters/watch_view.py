"""``frontdoor ooh watch``: the duty worker's live view of the night's crisis items (Textual).

A night worker's screen. Each row leads with the child — name and age, address, police reference,
allocated team (the child's card, from the history; shown only on this local screen, never
logged) — then the urgency, how long it has waited, the reason in words and whether it is
acknowledged. Unacknowledged items come first, most urgent and longest waiting first (``n``
toggles newest first), so the crisis that has waited longest never scrolls away. The highlighted
item is shown in full under the table; Enter opens it in a detail pane. A new IMMEDIATE item
rings the terminal bell and flashes the screen. ``a`` asks for confirmation, then sends the
acknowledgement after a few seconds in which ``u`` undoes it (leaving the view sends what is
pending at once, so nothing is lost). ``r`` records an action: its kind chosen from the recorded
kinds, what was done and why. The rows come from the night's record (``WatchFeed``), re-read
whenever the outofhours worker says something committed (and every few seconds regardless), so a
view opened late shows everything that arrived while it was closed and never shows an item twice
(rows are keyed by the crisis event id). This is the terminal side only
(``services/cli/ooh.py`` opens it): the data side is ``watch_feed.py``, the wording
``domain/display.py`` and ``domain/cards.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Static

from schemas.codes import Urgency
from schemas.events.outofhours import OohActionKind
from services.common.calendar import to_london
from services.outofhours.adapters.watch_prompts import ActionPrompt, ConfirmScreen, DetailScreen
from services.outofhours.domain.cards import ChildCard, child_text, name_text
from services.outofhours.domain.display import (
    URGENCY_LABEL,
    ack_text,
    age_text,
    cell,
    item_text,
    words,
)
from services.outofhours.domain.record import CrisisItem, duty_order
from services.outofhours.domain.shifts import Shift
from services.outofhours.ports import WatchFeed

COLUMNS = (
    ("child", "Child · address", 28),
    ("police", "Police · team", 15),
    ("urgency", "Urgency", 10),
    ("reason", "Why · ack", 18),
)
"""Two lines per item, so a night worker's 80-column terminal shows all of it: who and where,
the police reference and the team, how urgent and how long it has waited, why and whether it
is acknowledged. Each line is cut to its column with an ellipsis; the pane under the table (and
Enter) shows everything in full."""
UNDO_SECONDS = 5.0
"""How long an acknowledgement waits, undoable with ``u``, before it is sent."""


WIDTH = {key: width for key, _, width in COLUMNS}


@dataclass
class PendingAck:
    """An acknowledgement the worker confirmed, waiting out its undo window."""

    item: CrisisItem
    timer: Timer | None = None


class WatchApp(App[None]):
    """The live list of the night's crisis items."""

    TITLE = "frontdoor · out of hours"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "Detail"),
        Binding("a", "acknowledge", "Acknowledge"),
        Binding("u", "undo", "Undo ack"),
        Binding("r", "record", "Record action"),
        Binding("n", "toggle_order", "Newest/oldest first"),
        Binding("q", "quit", "Quit"),
    ]
    DEFAULT_CSS = """
    #detail { height: auto; max-height: 8; border-top: solid $accent; padding: 0 1; }
    #status { height: 1; }
    Screen.flash { background: $error 60%; }
    """

    def __init__(
        self,
        feed: WatchFeed,
        *,
        shift_of: Callable[[datetime], Shift],
        worker: str,
        clock: Callable[[], datetime],
        night: Shift | None = None,
        poll_seconds: float = 5.0,
        undo_seconds: float = UNDO_SECONDS,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.shift_of = shift_of
        self.worker = worker
        self.clock = clock
        self.night = night
        self.poll_seconds = poll_seconds
        self.undo_seconds = undo_seconds
        self.items: dict[str, CrisisItem] = {}
        self.cards: dict[str, ChildCard] = {}
        self.pending: set[str] = set()
        self.waiting_acks: dict[str, PendingAck] = {}
        self.newest_first = False
        self._loaded = False
        self._dirty = False
        self._refreshing = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="items", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Static("", id="status")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        await self.feed.open(self.changed)
        await self.reload()
        self.set_interval(1.0, self.tick_ages)
        self.set_interval(self.poll_seconds, self.changed)
        table.focus()

    async def on_unmount(self) -> None:
        for key in list(self.waiting_acks):
            await self._send_ack(key)  # leaving the view never loses a confirmed acknowledgement
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
        before = set(self.items)
        self.items = {str(i.event_id): i for i in items}
        unknown = sorted({i.child_id for i in items} - set(self.cards))
        if unknown:
            self.cards.update(await self.feed.cards(unknown))
        self.pending = {
            k for k in self.pending if k in self.items and not self.items[k].acknowledged
        }
        self.render_items(shift)
        if self._loaded:
            arrived = [
                i
                for k, i in self.items.items()
                if k not in before and i.urgency is Urgency.IMMEDIATE and not i.acknowledged
            ]
            if arrived:
                self.alarm(arrived)
        self._loaded = True

    def alarm(self, arrived: list[CrisisItem]) -> None:
        """A new IMMEDIATE item: the terminal bell, a screen flash and a note that stays a while."""
        self.bell()
        self.screen.add_class("flash")
        self.set_timer(1.5, lambda: self.screen.remove_class("flash"))
        for item in arrived:
            who = name_text(self.cards.get(item.child_id))
            self.notify(
                f"NEW IMMEDIATE: {who} — {words(item.reason.value)}",
                severity="error",
                timeout=20,
            )
        self.say(f"NEW IMMEDIATE item{'s' if len(arrived) > 1 else ''}: {len(arrived)}")

    def render_items(self, shift: Shift) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_key()
        now = self.clock()
        table.clear()
        for item in duty_order(list(self.items.values()), newest_first=self.newest_first):
            key = str(item.event_id)
            table.add_row(*self._cells(item, now).values(), key=key, height=2)
        if selected in self.items:
            table.move_cursor(row=table.get_row_index(selected))
        waiting = sum(1 for i in self.items.values() if not i.acknowledged)
        starts, ends = to_london(shift.starts_at), to_london(shift.ends_at)
        order = "newest" if self.newest_first else "longest waiting"
        self.sub_title = (
            f"night of {starts:%a %d %b} ({starts:%H:%M} → {ends:%a %H:%M}) · "
            f"{len(self.items)} item{'' if len(self.items) == 1 else 's'}, "
            f"{waiting} not acknowledged · {order} first"
        )
        self.show_detail()

    def _ack_text(self, item: CrisisItem) -> str:
        key = str(item.event_id)
        if key in self.waiting_acks and not item.acknowledged:
            return "ack soon (u: undo)"
        return ack_text(item, pending=key in self.pending)

    def _cells(self, item: CrisisItem, now: datetime) -> dict[str, str]:
        card = self.cards.get(item.child_id)
        return {
            "child": cell(
                child_text(card, now),
                card.address if card and card.address else "no address recorded",
                WIDTH["child"],
            ),
            "police": cell(
                card.police_ref if card and card.police_ref else "no police ref",
                card.team if card and card.team else "no team",
                WIDTH["police"],
            ),
            "urgency": cell(
                URGENCY_LABEL[item.urgency], age_text(item.happened_at, now), WIDTH["urgency"]
            ),
            "reason": cell(words(item.reason.value), self._ack_text(item), WIDTH["reason"]),
        }

    def _update(self, item: CrisisItem, column: str) -> None:
        key = str(item.event_id)
        if key in self.items:
            value = self._cells(item, self.clock())[column]
            self.query_one(DataTable).update_cell(key, column, value)

    def tick_ages(self) -> None:
        for item in self.items.values():
            self._update(item, "urgency")

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def selected_item(self) -> CrisisItem | None:
        key = self.selected_key()
        return self.items.get(key) if key is not None else None

    def show_detail(self) -> None:
        item = self.selected_item()
        text = "" if item is None else item_text(item, self.cards.get(item.child_id), self.clock())
        self.query_one("#detail", Static).update(text)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        """Enter on a row (the table takes the key): the detail pane."""
        self.action_detail()

    def say(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def who(self, item: CrisisItem) -> str:
        return name_text(self.cards.get(item.child_id))

    # -- the duty worker's keys --------------------------------------------------------------

    def action_detail(self) -> None:
        item = self.selected_item()
        if item is None:
            self.say("nothing selected")
            return
        self.push_screen(DetailScreen(item_text(item, self.cards.get(item.child_id), self.clock())))

    def action_toggle_order(self) -> None:
        self.newest_first = not self.newest_first
        self.render_items(self.night or self.shift_of(self.clock()))

    def action_acknowledge(self) -> None:
        item = self.selected_item()
        if item is None:
            self.say("nothing to acknowledge")
            return
        key = str(item.event_id)
        if item.acknowledged or key in self.pending or key in self.waiting_acks:
            self.say(f"{self.who(item)}: already acknowledged")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                self.say(f"{self.who(item)}: not acknowledged")
                return
            pending = PendingAck(item)
            self.waiting_acks[key] = pending
            pending.timer = self.set_timer(self.undo_seconds, lambda: self._send_soon(key))
            self._update(item, "reason")
            self.say(f"{self.who(item)}: acknowledging in {self.undo_seconds:g} s — u to undo")

        question = (
            f"Acknowledge the {URGENCY_LABEL[item.urgency]} item for {self.who(item)} "
            f"({words(item.reason.value)})?"
        )
        self.push_screen(ConfirmScreen(question), callback=answered)

    def action_undo(self) -> None:
        if not self.waiting_acks:
            self.say("nothing to undo")
            return
        key, pending = self.waiting_acks.popitem()
        if pending.timer is not None:
            pending.timer.stop()
        if key in self.items:
            self._update(self.items[key], "reason")
        self.say(f"{self.who(pending.item)}: acknowledgement undone (nothing was sent)")

    def _send_soon(self, key: str) -> None:
        self.run_worker(self._send_ack(key), group="acks")

    async def _send_ack(self, key: str) -> None:
        pending = self.waiting_acks.pop(key, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.stop()
        self.pending.add(key)
        await self.feed.acknowledge(pending.item, worker=self.worker)
        if key in self.items and self.is_running:
            self._update(self.items[key], "reason")
            self.say(f"{self.who(pending.item)}: acknowledgement sent")

    def action_record(self) -> None:
        item = self.selected_item()
        if item is None:
            self.say("nothing selected")
            return

        async def save(result: tuple[OohActionKind, str, str] | None) -> None:
            if result is None:
                self.say("action not recorded")
                return
            kind, summary, reason = result
            await self.feed.record_action(
                item, summary=summary, decision_reason=reason, worker=self.worker, kind=kind
            )
            key = str(item.event_id)
            if not item.acknowledged and key in self.items:
                self.pending.add(key)
                self._update(item, "reason")
            self.say(f"{self.who(item)}: {words(kind.value)} recorded")

        self.push_screen(ActionPrompt(item, self.who(item)), callback=save)
