"""How events and proposals look in the dashboard: icons and colours per source, diffs as diffs.

Shared by the main screen, the details screen and the patch confirmation, so a proposal reads
the same everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from companion.quickfix.why import why_lines

# icon, colour per event source (single-cell glyphs so columns line up in every terminal)
SOURCE_STYLES: dict[str, tuple[str, str]] = {
    "file": ("◆", "cyan"),
    "shell": ("$", "green"),
    "git": ("⎇", "magenta"),
    "editor": ("✎", "yellow"),
    "companion": ("●", "blue"),
    "tests": ("✔", "bright_red"),
}
SOURCE_KEYS = {str(i + 1): source for i, source in enumerate(SOURCE_STYLES)}  # "1" -> "file", ...
OPERATION_LABELS = {
    "explain": "explanation",
    "run_command": "command to run (copied, never run)",
    "edit": "edit (a patch, applied only when you accept)",
    "open": "open a file",
    None: "no operation",
}


def clock(ts: float) -> str:
    return datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S")


def age(seconds: float) -> str:
    """A compact age for a narrow column: 5s, 3m, 2h, 4d.

    Not companion.durations.format_duration on purpose: that one writes "4.2 s", "75 s", "10 min"
    for sentences (tenths under 10 s, minutes only from 90 s), which would not fit the inbox's
    age column nor read as the same units; the two share no thresholds to factor out."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def event_line(payload: dict[str, Any]) -> Text:
    """`14:03:05 $ The user ran ...`, the icon and sentence in the source's colour."""
    source = str(payload.get("source", ""))
    icon, colour = SOURCE_STYLES.get(source, ("·", "white"))
    line = Text(no_wrap=False)
    try:
        line.append(clock(float(payload.get("ts", 0))), style="dim")
    except (TypeError, ValueError):
        line.append("--:--:--", style="dim")
    line.append(f" {icon} ", style=f"bold {colour}")
    line.append(str(payload.get("text") or payload.get("kind") or "?"), style=colour if source == "companion" else "")
    return line


def score_text(score: Any) -> str:
    return f"{float(score):.2f}" if isinstance(score, (int, float)) else "—"


def is_diff(text: str) -> bool:
    lines = text.splitlines()
    return any(line.startswith("@@") for line in lines) or (
        any(line.startswith("--- ") for line in lines) and any(line.startswith("+++ ") for line in lines))


def response_renderable(proposal: dict[str, Any]) -> RenderableType:
    """The proposal's help: a diff highlighted as a diff, a command as a shell line, else text."""
    response = str(proposal.get("response") or "")
    if not response.strip():
        return Text("(no response)", style="dim italic")
    operation = proposal.get("operation")
    if operation == "edit" or is_diff(response):
        return Syntax(response.rstrip("\n"), "diff", theme="ansi_dark", word_wrap=True, background_color="default")
    if operation == "run_command":
        return Syntax(response.strip(), "bash", theme="ansi_dark", word_wrap=True, background_color="default")
    return Text(response)


def why_renderable(events: Iterable[dict[str, Any]] | None, wanted: int) -> RenderableType:
    if events is None:
        return Text(f"loading {wanted} event(s)…" if wanted else "no events recorded", style="dim")
    lines = [event_line(e) for e in events]
    if not lines:
        return Text("the events that led to it are no longer stored" if wanted else "no events recorded", style="dim")
    return Group(*lines)


def proposal_renderable(proposal: dict[str, Any], why: list[dict[str, Any]] | None, now: float,
                        full: bool = False) -> RenderableType:
    """The selected proposal: task, operation, response, and why (the events behind it)."""
    parts: list[RenderableType] = []
    title = Text(str(proposal.get("task") or "(no task)"), style="bold")
    parts.append(title)
    meta = Text(style="dim")
    meta.append(f"score {score_text(proposal.get('score'))} · {age(now - float(proposal.get('ts', now)))} old")
    if proposal.get("trigger"):
        meta.append(f" · after {proposal['trigger']}")
    parts.append(meta)
    where = proposal.get("path")
    operation = Text("operation: ", style="bold")
    operation.append(OPERATION_LABELS.get(proposal.get("operation"), str(proposal.get("operation"))))
    if where:
        operation.append(f" · {where}" + (f":{proposal['line']}" if proposal.get("line") else ""))
    parts.append(operation)
    if full:
        for label in ("purpose", "thoughts"):
            if proposal.get(label):
                parts.append(Text.assemble((f"{label}: ", "bold"), str(proposal[label])))
        parts.append(Text.assemble(("id: ", "bold"), str(proposal.get("id", "")), "  ",
                                   ("status: ", "bold"), str(proposal.get("status", "")), "  ",
                                   ("backend: ", "bold"), str(proposal.get("backend") or "—")))
    parts.append(Text(""))
    parts.append(response_renderable(proposal))
    evidence_lines = why_lines(proposal.get("evidence"), proposal.get("rule"))
    if evidence_lines:  # the evidence it rests on and the rule that fired
        parts.append(Text(""))
        parts.append(Text("why — the evidence:", style="bold"))
        parts.extend(Text(f"  {line}") for line in evidence_lines)
    parts.append(Text(""))
    parts.append(Text("why — the events that led to it:", style="bold"))
    parts.append(why_renderable(why, len(proposal.get("event_ids") or [])))
    return Group(*parts)


def command_text(response: str) -> str:
    """The command of a run_command proposal, without Markdown fences or a `$ ` prompt."""
    lines = [line for line in response.strip().splitlines() if not line.strip().startswith("```")]
    text = "\n".join(lines).strip()
    return text[2:] if text.startswith("$ ") else text
