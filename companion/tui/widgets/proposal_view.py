"""The selected proposal, in full: task, operation, response (diffs as diffs) and why."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from companion.tui.format import proposal_renderable


class ProposalView(VerticalScroll):
    """Shows one proposal; `why` is filled in when its events have been read from the store."""

    def __init__(self, now: Callable[[], float], full: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now
        self.full = full
        self.proposal: dict[str, Any] | None = None
        self.why: list[dict[str, Any]] | None = None
        self._body = Static(Text("No open proposals. They appear here when the companion has something "
                                 "worth an interruption.", style="dim"), classes="proposal-body")

    def compose(self):  # type: ignore[override]
        yield self._body

    def show(self, proposal: dict[str, Any] | None, why: list[dict[str, Any]] | None = None) -> None:
        changed = proposal is None or self.proposal is None or proposal.get("id") != self.proposal.get("id")
        self.proposal = proposal
        self.why = why
        if proposal is None:
            self._body.update(Text("No open proposals. They appear here when the companion has something "
                                   "worth an interruption.", style="dim"))
        else:
            self._body.update(proposal_renderable(proposal, why, self.now(), full=self.full))
        if changed:
            self.scroll_home(animate=False)
