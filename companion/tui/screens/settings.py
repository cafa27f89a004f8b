"""How often the companion may interrupt (interruption level, snooze time, quiet hours, proposals
per hour) and which model answers (the agent's backend and model).

Saved to the user's config file with `update_config_file`, which refuses to write anything
that would not load; then the daemon is asked to reload it (`reload_config`), and these settings
take effect at once (live settings, companion/services/settings.py). A daemon that is not
connected picks the file up when it next starts (or sees it change, once a second).
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from companion import paths
from companion.config import ConfigError, load_config, update_config_file
from companion.durations import format_duration, parse_duration
from companion.ipc import IpcError

LEVELS = [
    ("1 · only the surest proposals", 1),
    ("2 · rarely", 2),
    ("3 · balanced (default)", 3),
    ("4 · often", 4),
    ("5 · anything plausible", 5),
]
BACKENDS = [(name, name) for name in ("llama_cpp", "transformers", "ollama", "openai", "scripted")]
_QUIET = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$")


def parse_quiet_hours(text: str) -> str:
    """'22:00-07:00' (normalised) or '' for none; ValueError with an example otherwise."""
    value = text.strip()
    if not value:
        return ""
    match = _QUIET.match(value)
    if not match:
        raise ValueError(f"quiet hours {value!r}: use HH:MM-HH:MM, e.g. 22:00-07:00, or leave empty")
    h1, m1, h2, m2 = match.groups()
    return f"{int(h1):02d}:{m1}-{int(h2):02d}:{m2}"


def settings_updates(level: Any, snooze: str, quiet: str, per_hour: str = "", backend: Any = None,
                     model: str | None = None) -> dict[str, dict[str, Any]]:
    """The config changes for the form's values; ValueError names the field that is wrong. An
    empty `per_hour`, a None `backend` or `model` leave those settings as they are."""
    if not isinstance(level, int) or not 1 <= level <= 5:
        raise ValueError("choose an interruption level from 1 to 5")
    engine: dict[str, Any] = {}
    if per_hour.strip():
        try:
            engine["max_per_hour"] = int(per_hour.strip())
        except ValueError:
            raise ValueError(f"proposals per hour: a whole number, not {per_hour.strip()!r}") from None
        if engine["max_per_hour"] < 0:
            raise ValueError("proposals per hour: 0 or more")
    agent: dict[str, Any] = {}
    if isinstance(backend, str):
        agent["backend"] = backend
    if model is not None:
        agent["model"] = model.strip()
    try:
        snooze_s = parse_duration(snooze)
    except ValueError as exc:
        raise ValueError(f"snooze: {exc}") from None
    if snooze_s <= 0:
        raise ValueError("snooze must be longer than 0 s")
    updates: dict[str, dict[str, Any]] = {
        "general": {"interruption_level": level},
        "engine": {"snooze_s": float(snooze_s), "quiet_hours": parse_quiet_hours(quiet), **engine}}
    if agent:
        updates["agent"] = agent
    return updates


class SettingsScreen(Screen):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="settings"):
            yield Label("Interruption level")
            yield Select(LEVELS, allow_blank=False, value=3, id="level")
            yield Label("Snooze: a snoozed proposal stays away for (e.g. 30m, 2h)")
            yield Input(id="snooze", placeholder="30m")
            yield Label("Quiet hours: no proposals between (HH:MM-HH:MM, empty for none)")
            yield Input(id="quiet", placeholder="22:00-07:00")
            yield Label("Proposals per hour, at most")
            yield Input(id="per-hour", placeholder="6")
            yield Label("Agent backend")
            yield Select(BACKENDS, allow_blank=False, value="llama_cpp", id="backend")
            yield Label("Agent model (empty: the backend's default)")
            yield Input(id="model", placeholder="the default")
            with Horizontal(id="settings-buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
            yield Static("", id="settings-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#settings").border_title = "Settings"
        try:
            config = load_config(self.app.workspace)  # type: ignore[attr-defined]
        except ConfigError as exc:
            self.notify(str(exc), title="config", severity="error")
            return
        self.query_one("#level", Select).value = config.general.interruption_level
        self.query_one("#snooze", Input).value = format_duration(config.engine.snooze_s).replace(" min", "m") \
            .replace(" s", "s").replace(" h", "h").replace(" d", "d")
        self.query_one("#quiet", Input).value = config.engine.quiet_hours
        self.query_one("#per-hour", Input).value = str(config.engine.max_per_hour)
        self.query_one("#backend", Select).value = config.agent.backend
        self.query_one("#model", Input).value = config.agent.model
        self.query_one("#settings-note", Static).update(
            Text(f"Saved to {paths.config_file()}; the daemon takes them on at once.", style="dim"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        try:
            updates = settings_updates(self.query_one("#level", Select).value, self.query_one("#snooze", Input).value,
                                       self.query_one("#quiet", Input).value, self.query_one("#per-hour", Input).value,
                                       self.query_one("#backend", Select).value, self.query_one("#model", Input).value)
            target = paths.config_file()
            for section, values in updates.items():
                update_config_file(target, section, values)
            load_config(self.app.workspace)  # type: ignore[attr-defined]
        except (ValueError, ConfigError, OSError) as exc:
            self.notify(str(exc), title="Settings not saved", severity="error")
            self.query_one("#settings-note", Static).update(Text(f"Settings not saved: {exc}", style="bold red"))
            return
        self.notify(f"Saved to {target}.", title="Settings")
        self.query_one("#settings-note", Static).update(Text(f"Saved to {target}.", style="green"))
        self.reload_daemon(str(target))

    @work(thread=True, exit_on_error=False, group="settings")
    def reload_daemon(self, target: str) -> None:
        """Ask the daemon to take the saved file on now; say what happened."""
        try:
            reply = self.app.link.request("reload_config")  # type: ignore[attr-defined]
        except IpcError as exc:
            note = Text(f"Saved to {target}; the daemon did not reload it ({exc}): it reads the file when it starts.",
                        style="yellow")
        else:
            later = reply.get("restart_needed") or []
            note = Text(f"Saved to {target}; the daemon uses the new settings now"
                        + (f" (after a restart: {', '.join(later)})" if later else "") + ".", style="green")
        self.app.call_from_thread(self._show_note, note)

    def _show_note(self, note: Text) -> None:
        if self.is_attached:
            self.query_one("#settings-note", Static).update(note)
