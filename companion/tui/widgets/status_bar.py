"""One line that says whether the daemon and the agent's model backend are up."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class ConnectionBar(Static):
    """`● daemon pid 123 · 2 watchers │ ● backend transformers` — red when something is down."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("○ connecting to the companion daemon…", style="yellow"), **kwargs)
        self.connected = False
        self.daemon_text = "connecting to the companion daemon…"
        self.backend_ok: bool | None = None
        self.backend_text = ""

    def show_connected(self, status: dict[str, Any]) -> None:
        self.connected = True
        watchers = status.get("watchers") or []
        self.daemon_text = f"daemon pid {status.get('pid', '?')} · {len(watchers)} watcher{'s' if len(watchers) != 1 else ''}"
        self.remove_class("down")
        self._draw()

    def show_down(self, reason: str, retry_in: float) -> None:
        self.connected = False
        self.daemon_text = f"daemon DOWN: {reason} — retrying every {retry_in:.0f} s"
        self.add_class("down")
        self._draw()

    def show_backend(self, ok: bool | None, detail: str) -> None:
        self.backend_ok = ok
        self.backend_text = detail
        self._draw()

    def _draw(self) -> None:
        line = Text()
        line.append("● " if self.connected else "✖ ", style="bold green" if self.connected else "bold red")
        line.append(self.daemon_text, style="" if self.connected else "bold red")
        if self.backend_text and self.connected:
            mark, style = {True: ("● ", "bold green"), False: ("✖ ", "bold red"), None: ("○ ", "dim")}[self.backend_ok]
            line.append("  │  backend ", style="dim")
            line.append(mark, style=style)
            line.append(("DOWN: " if self.backend_ok is False else "") + self.backend_text,
                        style="bold red" if self.backend_ok is False else "")
        self.update(line)
