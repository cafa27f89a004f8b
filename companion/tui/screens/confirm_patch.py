"""Before an accepted `edit` proposal touches a file: show the diff, check it (read-only, with the
same engine the daemon applies it with), and ask."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from companion.patching import PatchError, check
from companion.tui.format import response_renderable


class ConfirmPatchScreen(ModalScreen[bool]):
    """Dismissed with True when the user chooses to apply the patch (only once it checks out)."""

    BINDINGS = [
        Binding("y", "apply", "Apply"),
        Binding("n", "cancel", "Cancel"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, proposal: dict[str, Any]) -> None:
        super().__init__()
        self.proposal = proposal
        self.applies = False

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(Text.assemble(("Apply this patch?  ", "bold"),
                                       str(self.proposal.get("task") or "")), id="confirm-title")
            with VerticalScroll(id="confirm-diff"):
                yield Static(response_renderable({**self.proposal, "operation": "edit"}))
            yield Static(Text("checking that the patch applies…", style="yellow"), id="confirm-check")
            with Horizontal(id="confirm-buttons"):
                yield Button("Apply (y)", variant="success", id="apply", disabled=True)
                yield Button("Cancel (n)", variant="default", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self.check()

    @work(thread=True, exit_on_error=False)
    def check(self) -> None:
        try:
            checked = check(self.app.workspace, str(self.proposal.get("response") or ""),  # type: ignore[attr-defined]
                            self.proposal.get("path"))
        except PatchError as exc:
            self.app.call_from_thread(self._show_check, False, f"the patch does not apply: {exc}")
            return
        self.app.call_from_thread(self._show_check, True, "applies cleanly to " + checked.path)

    def _show_check(self, ok: bool, detail: str) -> None:
        self.applies = ok
        self.query_one("#confirm-check", Static).update(
            Text(("✔ " if ok else "✖ ") + detail, style="green" if ok else "bold red"))
        button = self.query_one("#apply", Button)
        button.disabled = not ok
        if ok:
            button.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.action_cancel()

    def action_apply(self) -> None:
        if self.applies:
            self.dismiss(True)
        else:
            self.notify("This patch does not apply; it cannot be accepted as is.", severity="error")

    def action_cancel(self) -> None:
        self.dismiss(False)
