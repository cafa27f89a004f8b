"""Which models answer and judge, how the gate was last trained, and buttons to retrain or roll back.

Model facts come from the daemon's `status` (the agent and gate services add their fields there)
and the config; anything nobody reports is shown as "not available", never guessed.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, ProgressBar, RichLog, Static

from companion.cli._common import NOT_ENOUGH_ANSWERS
from companion.config import Config, ConfigError, load_config
from companion.tui import jobs

NOT_AVAILABLE = "not available"
TRAIN = ("train", "reward")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return str(value)


def model_table(status: dict[str, Any], config: Config | None) -> Table:
    """Agent, gate and last training, from status fields first and the config second."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value")
    agent = status.get("agent") if isinstance(status.get("agent"), dict) else {}
    gate = status.get("gate") if isinstance(status.get("gate"), dict) else {}
    backend = agent.get("backend") or (config.agent.backend if config else None)
    model = agent.get("model") or (config.agent.model if config and config.agent.model else None)
    table.add_row("agent backend", str(backend or NOT_AVAILABLE))
    table.add_row("agent model", str(model or ("the default (SmolLM2-135M-Instruct)" if backend == "transformers" else NOT_AVAILABLE)))
    if agent.get("error"):
        table.add_row("agent problem", Text(str(agent["error"]), style="bold red"))
    level = gate.get("level") or (config.general.interruption_level if config else None)
    table.add_row("gate", str(gate.get("kind") or gate.get("name") or (config.gate.kind if config else NOT_AVAILABLE)))
    table.add_row("interruption level", str(level or NOT_AVAILABLE))
    if gate.get("threshold") is not None:
        table.add_row("gate threshold", _value(gate["threshold"]))
    else:  # the gate's own table is the only one; none is guessed here
        table.add_row("gate threshold", Text(f"{NOT_AVAILABLE} (no gate reports one)", style="dim"))
    training = status.get("training") or gate.get("training") or gate.get("last_training")
    if isinstance(training, dict) and training:
        for key, value in training.items():
            table.add_row(f"last training: {key}", _value(value))
    else:
        table.add_row("last training", Text(f"{NOT_AVAILABLE} (the daemon reports no training)", style="dim"))
    for key, value in gate.items():
        if key not in ("kind", "name", "level", "threshold", "thresholds", "training", "last_training"):
            table.add_row(f"gate {key}", _value(value))
    for key, value in agent.items():
        if key not in ("backend", "model", "error"):
            table.add_row(f"agent {key}", _value(value))
    return table


class ModelsScreen(Screen):
    BINDINGS = [
        Binding("t", "train", "Train reward gate"),
        Binding("b", "rollback", "Roll back gate"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.train_options: set[str] | None = None
        self.checked = False
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="models"):
            yield Static(id="models-table")
            yield Static(Text("checking which training commands exist…", style="dim"), id="models-availability")
            with Horizontal(id="models-buttons"):
                yield Button("Train reward gate (t)", id="train", variant="primary", disabled=True)
                yield Button("Roll back (b)", id="rollback", variant="warning", disabled=True)
            yield ProgressBar(total=1.0, show_eta=False, id="train-progress")
            yield Static("", id="train-current")
            yield RichLog(id="train-log", max_lines=300, wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#models").border_title = "Models"
        self.refresh_models()
        self.check_commands()

    def refresh_models(self) -> None:
        try:
            config: Config | None = load_config(self.app.workspace)  # type: ignore[attr-defined]
        except ConfigError as exc:
            config = None
            self.notify(str(exc), title="config", severity="error")
        self.query_one("#models-table", Static).update(model_table(self.app.status, config))  # type: ignore[attr-defined]

    @work(thread=True, exit_on_error=False, group="models-check")
    def check_commands(self) -> None:
        try:
            options = jobs.command_options(TRAIN)
        except Exception as exc:  # a broken CLI module must not take the dashboard down
            self.app.call_from_thread(self.notify, f"cannot read the command list: {exc}", severity="error")
            options = None
        self.app.call_from_thread(self._show_availability, options)

    def _show_availability(self, options: set[str] | None) -> None:
        self.checked = True
        self.train_options = options
        train = self.query_one("#train", Button)
        rollback = self.query_one("#rollback", Button)
        label = self.query_one("#models-availability", Static)
        if options is None:
            train.disabled = rollback.disabled = True
            label.update(Text("Training: not available — `companion train reward` is not part of this "
                              "installation yet.", style="bold yellow"))
            return
        train.disabled = self.running
        rollback.disabled = self.running or "--rollback" not in options
        label.update(Text("`companion train reward` retrains the gate on your outcomes"
                          + ("" if "--rollback" in options else "; roll back: not available"), style="dim"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "train":
            self.action_train()
        elif event.button.id == "rollback":
            self.action_rollback()

    def action_train(self) -> None:
        self._start(["train", "reward"])

    def action_rollback(self) -> None:
        if self.train_options is not None and "--rollback" not in self.train_options:
            self.notify("Rolling back is not available in this installation.", severity="warning")
            return
        self._start(["train", "reward", "--rollback"])

    def _start(self, args: list[str]) -> None:
        if not self.checked:
            self.notify("Still checking which commands exist; try again in a moment.")
            return
        if self.train_options is None:
            self.notify("`companion train reward` is not available in this installation.", severity="warning")
            return
        if self.running:
            self.notify("A training command is already running.")
            return
        self.running = True
        self.query_one("#train", Button).disabled = True
        self.query_one("#rollback", Button).disabled = True
        self.query_one("#train-progress", ProgressBar).update(progress=0.0)
        self.query_one("#train-log", RichLog).write(Text(f"$ companion {' '.join(args)}", style="bold"))
        self.run_job(args)

    @work(thread=True, exit_on_error=False, group="training")
    def run_job(self, args: list[str]) -> None:
        app = self.app
        try:
            code = jobs.run_streaming(args, on_line=lambda line: app.call_from_thread(self._line, line),
                                      on_progress=lambda value: app.call_from_thread(self._progress, value))
        except OSError as exc:
            code = -1
            app.call_from_thread(self._line, f"could not start: {exc}")
        app.call_from_thread(self._finished, args, code)

    def _line(self, line: str) -> None:
        if jobs.parse_progress(line) is not None:
            self.query_one("#train-current", Static).update(Text(line, style="dim"))
        else:
            self.query_one("#train-log", RichLog).write(line)

    def _progress(self, value: float) -> None:
        self.query_one("#train-progress", ProgressBar).update(progress=value)

    def _finished(self, args: list[str], code: int) -> None:
        self.running = False
        self._show_availability(self.train_options)
        if code == 0:
            self.query_one("#train-progress", ProgressBar).update(progress=1.0)
            self.notify(f"`companion {' '.join(args)}` finished.", title="Models")
        elif code == NOT_ENOUGH_ANSWERS:
            self.notify("Not enough answered proposals to retrain yet; the log says how many more.",
                        title="Models", severity="warning")
        else:
            self.notify(f"`companion {' '.join(args)}` failed (exit {code}); see the log below.",
                        title="Models", severity="error")
        self.app.refresh_status()  # type: ignore[attr-defined]

    def status_changed(self) -> None:
        self.refresh_models()
