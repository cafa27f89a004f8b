"""One proposal in full: response, operation, purpose and thoughts, and the events behind it."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header

from companion.tui.widgets.proposal_view import ProposalView


class DetailsScreen(Screen):
    BINDINGS = [
        Binding("a", "answer('accepted')", "Accept"),
        Binding("r", "answer('rejected')", "Reject"),
        Binding("s", "answer('snoozed')", "Snooze"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, proposal: dict[str, Any], why: list[dict[str, Any]] | None) -> None:
        super().__init__()
        self.proposal = proposal
        self.why = why

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield ProposalView(self.app.now, full=True, id="details")  # type: ignore[attr-defined]
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(ProposalView)
        view.border_title = "Proposal"
        view.show(self.proposal, self.why)
        view.focus()
        if self.why is None:
            self.app.load_why(self.proposal)  # type: ignore[attr-defined]

    def why_loaded(self, proposal_id: str, events: list[dict[str, Any]]) -> None:
        if proposal_id == str(self.proposal.get("id")):
            self.why = events
            self.query_one(ProposalView).show(self.proposal, events)

    def action_answer(self, outcome: str) -> None:
        self.app.pop_screen()
        self.app.answer(self.proposal, outcome)  # type: ignore[attr-defined]
