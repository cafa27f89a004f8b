"""Every key of the dashboard, read from the screens' own bindings so the list cannot go stale."""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "Esc", "enter": "Enter", "ctrl+c": "Ctrl+C"}


def key_label(binding: Binding) -> str:
    keys = [k.strip() for k in binding.key.split(",")]
    return " ".join(binding.key_display or KEY_NAMES.get(k, k) for k in keys)


Sections = Sequence[tuple[str, Sequence[Any]]]  # (where, that screen's BINDINGS)


def key_table(sections: Sections) -> Table:
    """The keys of each (where, bindings) section; the app hands its screens' own bindings in, so
    this screen needs to know no other screen (and the list cannot go stale)."""
    table = Table(box=None, show_header=True, header_style="bold", padding=(0, 1), expand=True)
    table.add_column("where", style="dim", no_wrap=True)
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    for where, bindings in sections:
        seen: set[str] = set()
        for binding in bindings:
            if not isinstance(binding, Binding):
                binding = Binding(*binding)
            label = key_label(binding)
            if label in seen:
                continue
            seen.add(label)
            table.add_row(where, label, binding.description)
            where = ""
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def __init__(self, sections: Sections) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(Text("companion — keys", style="bold"))
            yield Static(key_table(self.sections))
            yield Static(Text("Proposals never run anything by themselves: a command is copied, "
                              "a patch is applied only after you confirm it.", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "Help (Esc closes)"

