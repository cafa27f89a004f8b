"""Is the companion learning? Acceptance and false-alarm rates, proposals per hour, over time,
and the gate's agreement with your answers and the kinds of help it has learnt to hold back
(companion.gate.agreement).

The figures come from the daemon's `proposals` operation (companion.stats does the arithmetic) in a thread worker; the
plots are textual-plotext widgets.
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from companion.gate.agreement import Agreement, agreement
from companion.proposals import Proposal
from companion.stats import Rates, Report, percent, report

WINDOWS = [("last 24 hours", 86400.0), ("last 7 days", 7 * 86400.0), ("last 30 days", 30 * 86400.0), ("all time", None)]


def summary_table(result: Report) -> Table:
    table = Table(box=None, header_style="bold", padding=(0, 1), expand=False)
    for name in ("source", "surfaced", "answered", "accepted", "false alarms", "per hour", "silent"):
        table.add_column(name, justify="left" if name == "source" else "right", no_wrap=True)

    def row(name: str, rates: Rates, style: str = "") -> None:
        per_hour = rates.per_hour
        table.add_row(name, str(rates.surfaced), str(rates.answered), percent(rates.acceptance_rate),
                      percent(rates.false_alarm_rate), "—" if per_hour is None else f"{per_hour:.2f}",
                      str(rates.silent), style=style)

    row("all", result.overall, "bold")
    for source, rates in result.by_source.items():
        row(source, rates)
    return table


def bucket_label(ts: float, size: float) -> str:
    moment = datetime.fromtimestamp(ts)
    return moment.strftime("%H:00") if size < 86400 else moment.strftime("%m-%d")


class StatsScreen(Screen):
    BINDINGS = [
        Binding("w", "next_window", "Time window"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.window_index = 1
        self.result: Report | None = None
        self.learnt: Agreement | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="stats"):
            yield Static(Text("reading outcomes…", style="dim"), id="stats-summary")
            with Horizontal(id="stats-plots"):
                yield PlotextPlot(id="rates-plot")
                yield PlotextPlot(id="volume-plot")
            yield PlotextPlot(id="source-plot")
            with Horizontal(id="learning"):
                yield PlotextPlot(id="learning-plot")
                yield Static(Text("reading your answers…", style="dim"), id="learning-kinds")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stats").border_title = "Stats"
        self.action_reload()

    def action_next_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.action_reload()

    def action_reload(self) -> None:
        self.compute(self.window_index)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def compute(self, window_index: int) -> None:
        app = self.app
        label, span = WINDOWS[window_index]
        now = app.now()  # type: ignore[attr-defined]
        try:
            since = None if span is None else now - span
            proposals = [Proposal.from_dict(raw) for raw in app.proposals_since(since)]  # type: ignore[attr-defined]
            result = report(proposals, now=now, since=since)
            learnt = agreement(proposals, self._threshold())
        except Exception as exc:  # a daemon that is down or a broken database: say so, keep the dashboard alive
            app.call_from_thread(app.notify, f"cannot read outcomes: {exc}", title="Stats", severity="error")
            return
        app.call_from_thread(self.show_report, label, result)
        app.call_from_thread(self.show_learning, learnt)

    def _threshold(self) -> float:
        """The gate's threshold at the daemon's interruption level (its status says), else 0.5."""
        status = getattr(self.app, "status", {}) or {}
        gate = status.get("gate") if isinstance(status.get("gate"), dict) else {}
        value = gate.get("threshold", status.get("threshold"))
        return float(value) if isinstance(value, (int, float)) else 0.5

    def show_learning(self, learnt: Agreement) -> None:
        self.learnt = learnt
        widget = self.query_one("#learning-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("the gate agrees with your answers (%, last 10)")
        if learnt.points:
            plt.plot([n for n, _ in learnt.points], [100 * a for _, a in learnt.points], marker="dot")
            plt.xlabel("answers")
        plt.ylim(0, 100)
        widget.refresh()
        table = Table(box=None, header_style="bold", padding=(0, 1), title=learnt.status, title_style="dim")
        for name in ("kind of help", "answers", "accepted", "since then"):
            table.add_column(name, justify="left" if name == "kind of help" else "right", no_wrap=True)
        for kind in learnt.kinds:
            now = "—" if kind.held_back is None else ("held back" if kind.held_back else "let through")
            table.add_row(kind.name, str(kind.answers), percent(kind.accepted / kind.answers), now,
                          style="dim" if kind.held_back else "")
        self.query_one("#learning-kinds", Static).update(table if learnt.kinds else Text(learnt.status, style="dim"))

    def show_report(self, label: str, result: Report) -> None:
        self.result = result
        self.query_one("#stats").border_title = f"Stats · {label} (w changes the window)"
        if result.overall.surfaced == 0 and result.overall.silent == 0:
            self.query_one("#stats-summary", Static).update(
                Text(f"No proposals in the {label.replace('last ', 'last ').lower()} yet.", style="dim"))
        else:
            self.query_one("#stats-summary", Static).update(summary_table(result))
        self._plot_rates(result)
        self._plot_volume(result)
        self._plot_sources(result)

    def _plot_rates(self, result: Report) -> None:
        widget = self.query_one("#rates-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("acceptance / false alarms (%)")
        answered = [(i, b) for i, b in enumerate(result.buckets) if b.rates.answered]
        if answered:
            xs = [i for i, _ in answered]
            plt.plot(xs, [100 * (b.rates.acceptance_rate or 0) for _, b in answered], label="accepted", marker="dot")
            plt.plot(xs, [100 * (b.rates.false_alarm_rate or 0) for _, b in answered], label="false alarms",
                     marker="dot")
            self._ticks(plt, result, widget.size.width)
        plt.ylim(0, 100)
        widget.refresh()

    def _plot_volume(self, result: Report) -> None:
        widget = self.query_one("#volume-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        unit = "hour" if result.bucket_s < 86400 else ("day" if result.bucket_s < 7 * 86400 else "week")
        plt.title(f"proposals per {unit}")
        if result.buckets:
            plt.bar(list(range(len(result.buckets))), [b.rates.surfaced for b in result.buckets], label="surfaced")
            self._ticks(plt, result, widget.size.width)
        widget.refresh()

    def _plot_sources(self, result: Report) -> None:
        widget = self.query_one("#source-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("by trigger source: accepted / false alarms (%)")
        answered = {name: rates for name, rates in result.by_source.items() if rates.answered}
        if answered:
            names = list(answered)
            plt.multiple_bar(names, [[100 * (r.acceptance_rate or 0) for r in answered.values()],
                                     [100 * (r.false_alarm_rate or 0) for r in answered.values()]],
                             labels=["accepted", "false alarms"])
        plt.ylim(0, 100)
        widget.refresh()

    @staticmethod
    def _ticks(plt: object, result: Report, width: int) -> None:
        """Few enough date labels that they never overlap (plotext drops overlapping ones at random)."""
        count = len(result.buckets)
        room = max(2, (width - 10) // 9)
        step = max(1, -(-count // room))
        positions = list(range(0, count, step))
        plt.xticks(positions, [bucket_label(result.buckets[i].start, result.bucket_s) for i in positions])  # type: ignore[attr-defined]
