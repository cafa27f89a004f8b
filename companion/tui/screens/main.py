"""The main screen: the live event timeline beside the proposal inbox and the selected proposal."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input

from companion.tui.format import SOURCE_KEYS
from companion.tui.widgets.inbox import ProposalInbox
from companion.tui.widgets.proposal_view import ProposalView
from companion.tui.widgets.status_bar import ConnectionBar
from companion.tui.widgets.timeline import Timeline


class MainScreen(Screen):
    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("r", "reject", "Reject"),
        Binding("s", "snooze", "Snooze"),
        Binding("enter", "details", "Details", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("p", "pause", "Pause"),
        *[Binding(key, f"toggle_source('{source}')", f"Only/also {source} events", show=False)
          for key, source in SOURCE_KEYS.items()],
        Binding("0", "all_sources", "All sources", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.why_cache: dict[str, list[dict[str, Any]]] = {}

    def compose(self) -> ComposeResult:
        now = self.app.now  # type: ignore[attr-defined]
        yield Header(show_clock=False)
        yield ConnectionBar(id="connection")
        with Horizontal(id="panes"):
            with Vertical(id="left"):
                yield Timeline(id="timeline", max_entries=self.app.max_timeline)  # type: ignore[attr-defined]
                yield Input(placeholder="filter events by text (Enter applies, Esc clears)", id="filter")
            with Vertical(id="right"):
                yield ProposalInbox(now, id="inbox")
                yield ProposalView(now, id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.timeline.redraw()
        self.inbox.border_title = "Proposals"
        self.query_one("#detail").border_title = "Selected"
        self.query_one("#filter", Input).display = False
        self.inbox.focus()
        self.set_interval(30, self.inbox.refresh_ages)

    # -- parts ------------------------------------------------------------------------------
    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def inbox(self) -> ProposalInbox:
        return self.query_one(ProposalInbox)

    @property
    def detail(self) -> ProposalView:
        return self.query_one("#detail", ProposalView)

    @property
    def connection(self) -> ConnectionBar:
        return self.query_one(ConnectionBar)

    def selected(self) -> dict[str, Any] | None:
        return self.inbox.selected()

    def update_inbox_title(self) -> None:
        count = len(self.inbox.proposals)
        self.inbox.border_title = f"Proposals · {count} open" if count else "Proposals"

    def show_selected(self) -> None:
        proposal = self.selected()
        self.update_inbox_title()
        if proposal is None:
            self.detail.show(None)
            return
        proposal_id = str(proposal["id"])
        why = self.why_cache.get(proposal_id)
        if why is None:
            why = self._why_from_timeline(proposal)
        self.detail.show(proposal, why)
        if why is None:
            self.app.load_why(proposal)  # type: ignore[attr-defined]
        else:
            self.why_cache[proposal_id] = why

    def _why_from_timeline(self, proposal: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The proposal's events when the timeline still holds all of them (no database read)."""
        ids = [str(i) for i in proposal.get("event_ids") or []]
        known = {str(e.get("id")): e for e in self.timeline.entries if str(e.get("id")) in ids}
        if len(known) < len(set(ids)):
            return None
        return sorted((known[i] for i in dict.fromkeys(ids)), key=lambda e: float(e.get("ts", 0)))

    def why_loaded(self, proposal_id: str, events: list[dict[str, Any]]) -> None:
        self.why_cache[proposal_id] = events
        current = self.selected()
        if current is not None and str(current.get("id")) == proposal_id:
            self.detail.show(current, events)

    # -- events ---------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_selected()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_details()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.timeline.set_text_filter(event.value)
        event.input.display = False
        self.inbox.focus()

    # -- actions --------------------------------------------------------------------------
    def _answer(self, outcome: str) -> None:
        proposal = self.selected()
        if proposal is None:
            self.notify("No proposal is selected.", severity="warning")
            return
        self.app.answer(proposal, outcome)  # type: ignore[attr-defined]

    def action_accept(self) -> None:
        self._answer("accepted")

    def action_reject(self) -> None:
        self._answer("rejected")

    def action_snooze(self) -> None:
        self._answer("snoozed")

    def action_details(self) -> None:
        proposal = self.selected()
        if proposal is None:
            self.notify("No proposal is selected.", severity="warning")
            return
        from companion.tui.screens.details import DetailsScreen

        self.app.push_screen(DetailsScreen(proposal, self.why_cache.get(str(proposal["id"]))))

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.value = self.timeline.text_filter
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.timeline.set_text_filter("")
        self.inbox.focus()

    def action_pause(self) -> None:
        self.timeline.set_paused(not self.timeline.paused)
        self.notify("Timeline paused; press p to resume." if self.timeline.paused else "Timeline resumed.",
                    timeout=2)

    def action_toggle_source(self, source: str) -> None:
        self.timeline.toggle_source(source)

    def action_all_sources(self) -> None:
        self.timeline.show_all_sources()
