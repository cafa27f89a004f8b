"""The Textual dashboard: attaches to the workspace's daemon and shows what the companion sees and offers.

Threads never touch widgets. The daemon link (link.py, on the one subscription client) and the
short workers that answer proposals and ask the daemon post messages or use `call_from_thread`;
the handlers here run on the UI thread and update the screens. The dashboard never opens the
database: the "why", the stats and the status all come through the daemon's operations.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from companion.ipc import IpcError
from companion.tui.format import command_text
from companion.tui.link import DaemonLink
from companion.tui.messages import (DaemonConnected, DaemonDown, EventsArrived, ProposalChanged, SettingsChanged,
                                    StatusUpdated, WhyLoaded)
from companion.tui.screens.main import MainScreen


class CompanionApp(App[None]):
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "companion"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("g", "open_screen('stats')", "Stats"),
        Binding("m", "open_screen('models')", "Models"),
        Binding("o", "open_screen('settings')", "Settings"),
    ]

    def __init__(self, workspace: str | Path, *, connect: bool = True, start_daemon: bool = True,
                 now: Callable[[], float] = time.time, retry_s: float = 2.0, max_timeline: int = 2000,
                 status_every_s: float = 5.0) -> None:
        super().__init__()
        self.workspace = Path(workspace).resolve()
        self.now = now
        self.max_timeline = max_timeline
        self.connect_on_mount = connect
        self.link = DaemonLink(self.workspace, self.post_message, start_daemon=start_daemon, retry_s=retry_s)
        self.status: dict[str, Any] = {}
        self.main = MainScreen()
        self.batches = 0  # event batches drawn (the benchmark reads these)
        self.batch_lag_s: list[float] = []
        self.min_draw_interval_s = 0.1
        self.status_every_s = status_every_s
        self._last_draw = 0.0
        self._draw_timer: Timer | None = None  # the pending throttled draw, if any
        self._last_down_reason = ""

    def on_mount(self) -> None:
        self.sub_title = str(self.workspace)
        self.push_screen(self.main)
        if self.connect_on_mount:
            self.link.start()
            self.set_interval(self.status_every_s, self.fetch_status)

    def on_unmount(self) -> None:
        self.link.stop()

    @property
    def main_ready(self) -> bool:
        """False before the main screen is composed and while the app shuts down."""
        return self.main.is_attached and not self._exit and bool(self.main.children)

    # -- the daemon ----------------------------------------------------------------------
    def on_daemon_connected(self, message: DaemonConnected) -> None:
        if not self.main_ready:
            return
        self._last_down_reason = ""
        self.status = message.status
        self.main.connection.show_connected(message.status)
        self.main.timeline.replace(message.events)
        self.main.inbox.replace(message.proposals)
        self.main.show_selected()

    def on_daemon_down(self, message: DaemonDown) -> None:
        if not self.main_ready:
            return
        was_connected = self.main.connection.connected
        first_line = message.reason.strip().splitlines()[0] if message.reason.strip() else "unreachable"
        self.main.connection.show_down(first_line, message.retry_in)
        if was_connected:
            self.notify("Lost the companion daemon; reconnecting…", severity="error", timeout=4)
        elif message.reason != self._last_down_reason:
            self.notify(message.reason, title="The companion daemon is not running", severity="error", timeout=10)
        self._last_down_reason = message.reason

    def on_status_updated(self, message: StatusUpdated) -> None:
        if not self.main_ready:
            return
        self.status = message.status
        self.main.connection.show_connected(message.status)
        self.main.connection.show_backend(message.backend_ok, message.backend_detail)
        screen = self.screen
        if hasattr(screen, "status_changed"):
            screen.status_changed()  # type: ignore[attr-defined]

    def on_events_arrived(self, _message: EventsArrived) -> None:
        if not self.main_ready or self._draw_timer is not None:
            return  # a draw is already due: it drains whatever the link buffers until then
        wait = self.min_draw_interval_s - (time.monotonic() - self._last_draw)
        if wait > 0:  # draw at most ~10 times a second; the link keeps buffering meanwhile
            self._draw_timer = self.set_timer(wait, self._draw_when_due)
            return
        self._draw_events()

    def _draw_when_due(self) -> None:
        """The one delayed draw: every EventsArrived handled while it waited is folded into it."""
        self._draw_timer = None
        if self.main_ready:
            self._draw_events()

    def _draw_events(self) -> None:
        self._last_draw = time.monotonic()
        batch = self.link.drain()
        if not batch:
            return
        self.batches += 1
        try:
            self.batch_lag_s.append(max(0.0, time.time() - float(batch[0].get("ts", time.time()))))  # the oldest
        except (TypeError, ValueError):
            pass
        del self.batch_lag_s[:-1000]
        self.main.timeline.add(batch)

    def on_proposal_changed(self, message: ProposalChanged) -> None:
        if not self.main_ready:
            return
        proposal = message.proposal
        before = set(self.main.inbox.proposals)
        self.main.inbox.upsert(proposal)
        self.main.show_selected()
        if message.change == "new" and proposal.get("surfaced") and str(proposal.get("id")) not in before:
            self.notify(str(proposal.get("task") or "a proposal"), title="New proposal", timeout=5)

    def refresh_status(self) -> None:
        self.fetch_status()

    @work(thread=True, exit_on_error=False, group="status")
    def fetch_status(self) -> None:
        try:
            self.link.refresh_status()
        except IpcError:
            return

    def on_settings_changed(self, message: SettingsChanged) -> None:
        """The daemon took on new settings (from this screen, an editor or the config file)."""
        if message.restart_needed:
            self.notify("Restart the daemon (`companion stop`, then `companion run`) for: "
                        + ", ".join(message.restart_needed), title="Settings", severity="warning", timeout=8)
        self.fetch_status()

    # -- reading through the daemon (the "why" of proposals, stats) ---------------------------
    def proposals_since(self, since: float | None) -> list[dict[str, Any]]:
        """Every proposal of the workspace since `since` (call from workers); IpcError when down."""
        return self.link.request("proposals", since=since, limit=1_000_000)["proposals"]

    @work(thread=True, exit_on_error=False, group="why")
    def load_why(self, proposal: dict[str, Any]) -> None:
        ids = [str(i) for i in proposal.get("event_ids") or []]
        events: list[dict[str, Any]] = []
        if ids:
            try:
                events = self.link.request("events", ids=ids, limit=len(ids))["events"]
            except IpcError as exc:  # the daemon may be gone; say so and show nothing
                self.call_from_thread(self.notify, f"cannot read the events behind the proposal: {exc}",
                                      severity="error")
        self.post_message(WhyLoaded(str(proposal.get("id")), events))

    def on_why_loaded(self, message: WhyLoaded) -> None:
        if not self.main_ready:
            return
        self.main.why_loaded(message.proposal_id, message.events)
        screen = self.screen
        if screen is not self.main and hasattr(screen, "why_loaded"):
            screen.why_loaded(message.proposal_id, message.events)  # type: ignore[attr-defined]

    # -- answering proposals ----------------------------------------------------------------
    def answer(self, proposal: dict[str, Any], outcome: str) -> None:
        """Accept, reject or snooze. An edit is applied (by the daemon) only after the diff is
        confirmed; a command is copied to the clipboard (and shown), never run."""
        if outcome != "accepted":
            self.send_outcome(proposal, outcome, "")
            return
        operation = proposal.get("operation")
        if operation == "edit":
            from companion.tui.screens.confirm_patch import ConfirmPatchScreen

            def confirmed(apply: bool | None) -> None:
                if apply:
                    self.accept_edit(proposal)
                else:
                    self.notify("Patch not applied; the proposal is still open.", timeout=3)

            self.push_screen(ConfirmPatchScreen(proposal), confirmed)
        elif operation == "run_command":
            command = command_text(str(proposal.get("response") or ""))
            self.copy_to_clipboard(command)
            self.send_outcome(proposal, "accepted", f"Copied to the clipboard (not run): {command}")
        elif operation == "open" and proposal.get("path"):
            where = str(proposal["path"]) + (f":{proposal['line']}" if proposal.get("line") else "")
            self.send_outcome(proposal, "accepted", f"Open {where} in your editor.")
        else:
            self.send_outcome(proposal, "accepted", "Accepted.")

    @work(thread=True, exit_on_error=False, group="answers")
    def send_outcome(self, proposal: dict[str, Any], outcome: str, note: str) -> None:
        if self._record(proposal, outcome) is not None:
            self.call_from_thread(self.notify, note or outcome.capitalize() + ".", timeout=4)

    @work(thread=True, exit_on_error=False, group="answers")
    def accept_edit(self, proposal: dict[str, Any]) -> None:
        """One request: the daemon applies the patch and records the accept, or refuses both (the
        reason is shown and the proposal stays open)."""
        reply = self._record(proposal, "accepted")
        if reply is not None:
            self.call_from_thread(self.notify, f"Applied the patch to {reply.get('applied') or proposal.get('path')}.",
                                  title="Accepted", timeout=6)

    def _record(self, proposal: dict[str, Any], outcome: str) -> dict[str, Any] | None:
        """Send the outcome to the daemon (runs in a worker thread); the reply, or None after a
        notification saying why it was not recorded."""
        answer_s = max(0.0, self.now() - float(proposal.get("ts", self.now())))
        try:
            reply = self.link.request("outcome", proposal_id=str(proposal["id"]), outcome=outcome,
                                      answer_s=answer_s, via="tui")
        except IpcError as exc:
            self.call_from_thread(self.notify, str(exc), title=f"Not {outcome}", severity="error", timeout=10)
            return None
        self.post_message(ProposalChanged(reply["proposal"], "answered"))
        return reply

    # -- screens ------------------------------------------------------------------------
    def action_help(self) -> None:
        from companion.tui.screens.confirm_patch import ConfirmPatchScreen
        from companion.tui.screens.details import DetailsScreen
        from companion.tui.screens.help import HelpScreen
        from companion.tui.screens.models import ModelsScreen
        from companion.tui.screens.settings import SettingsScreen
        from companion.tui.screens.stats import StatsScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen((("everywhere", self.BINDINGS), ("main", MainScreen.BINDINGS),
                                         ("details", DetailsScreen.BINDINGS), ("apply patch", ConfirmPatchScreen.BINDINGS),
                                         ("stats", StatsScreen.BINDINGS), ("models", ModelsScreen.BINDINGS),
                                         ("settings", SettingsScreen.BINDINGS))))

    def action_open_screen(self, name: str) -> None:
        from companion.tui.screens.models import ModelsScreen
        from companion.tui.screens.settings import SettingsScreen
        from companion.tui.screens.stats import StatsScreen

        factories: dict[str, type[Screen]] = {"stats": StatsScreen, "models": ModelsScreen, "settings": SettingsScreen}
        wanted = factories[name]
        if isinstance(self.screen, wanted):
            return
        while len(self.screen_stack) > 2 and self.screen is not self.main:
            self.pop_screen()
        self.push_screen(wanted())
