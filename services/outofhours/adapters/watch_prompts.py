"""The watch view's modal screens: the item in full, a yes/no question, the action prompt.

The action prompt asks the kind of action first (from the recorded kinds, starting at the one the
item's reason suggests), then what was done and the reasons for the decision; Enter moves on and
finally saves, Escape cancels. Terminal side only; the wording is ``domain/display.py``.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from schemas.events.outofhours import OohActionKind
from services.outofhours.domain.actions import KIND_FOR_REASON
from services.outofhours.domain.display import words
from services.outofhours.domain.record import CrisisItem

ACTION_KINDS = tuple(k for k in OohActionKind if k is not OohActionKind.ACKNOWLEDGED)
"""What a duty worker can record (an acknowledgement is its own key, ``a``)."""


class DetailScreen(ModalScreen[None]):
    """The highlighted item in full; Escape or Enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", priority=True),
    ]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > Vertical { width: 96%; height: auto; border: thick $accent; padding: 1 2; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.text, id="detail-text")
            yield Label("Esc / Enter: close", id="hint")

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: ``y`` yes, ``n`` or Escape no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90%; height: auto; border: thick $warning; padding: 1 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Label("y: yes · n / Esc: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ActionPrompt(ModalScreen[tuple[OohActionKind, str, str] | None]):
    """Asks what kind of action, what was done and why; Enter moves on, then saves; Escape cancels.

    Enter is a priority binding handled in key order, so text typed straight after it lands in
    the next field even when keys arrive faster than the screen repaints (a paste, a script).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "next", "Next / save", priority=True),
    ]
    DEFAULT_CSS = """
    ActionPrompt { align: center middle; }
    ActionPrompt > Vertical { width: 96%; height: auto; border: thick $accent; padding: 1 2; }
    ActionPrompt OptionList { height: 10; }
    """

    def __init__(self, item: CrisisItem, who: str) -> None:
        super().__init__()
        self.item = item
        self.who = who
        self.kind = KIND_FOR_REASON[item.reason]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Action for {self.who}: {self.item.explanation}")
            yield Label("Kind of action (↑/↓, Enter):")
            yield OptionList(*(Option(words(k.value), id=k.value) for k in ACTION_KINDS), id="kind")
            yield Input(placeholder="What was done", id="summary")
            yield Input(placeholder="Reasons for the decision", id="reason")
            yield Label("Enter: next / save · Esc: cancel", id="hint")

    def on_mount(self) -> None:
        kinds = self.query_one("#kind", OptionList)
        kinds.highlighted = ACTION_KINDS.index(self.kind)
        self.set_focus(kinds)

    def action_next(self) -> None:
        kinds = self.query_one("#kind", OptionList)
        summary = self.query_one("#summary", Input)
        reason = self.query_one("#reason", Input)
        if self.focused is kinds:
            if kinds.highlighted is not None:
                self.kind = ACTION_KINDS[kinds.highlighted]
            self.set_focus(summary)
        elif self.focused is not reason:
            self.set_focus(reason)
        else:
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
            self.dismiss((self.kind, summary.value.strip(), reason.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
