"""Sentences for shell commands, e.g. "The user ran `pytest -x` in `api/`; it failed (exit 1) after 4.2 s."."""

from __future__ import annotations

from typing import Any, Mapping

from companion.render import code, renderer
from companion.renderers.evidence import changes_sentence, evidence_of, failure_clause

_SIGNALS = {130: "was interrupted (Ctrl-C)", 137: "was killed", 143: "was terminated"}


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _where(data: Mapping[str, Any]) -> str:
    directory = data.get("dir")
    if directory in (None, ""):
        return ""
    if directory == ".":
        return " in the workspace root"
    return f" in {code(str(directory).rstrip('/') + '/')}"


@renderer("shell.command")
def _command(data: Mapping[str, Any]) -> str:
    sentence = f"The user ran {code(data['command'])}{_where(data)}"
    exit_code = data.get("exit_code")
    duration = data.get("duration_s")
    after = f" after {duration_text(float(duration))}" if isinstance(duration, (int, float)) else ""
    if exit_code is None:
        origin = " (read from the shell history; its outcome is unknown)" if data.get("origin") == "history" else ""
        return f"{sentence}{origin}{';' + after.replace(' after', ' it took') if after else ''}."
    if exit_code == 0:
        return f"{sentence}; it succeeded{after}."
    outcome = _SIGNALS.get(int(exit_code), "failed")
    evidence = evidence_of(data)
    return f"{sentence}; it {outcome} (exit {exit_code}){after}{failure_clause(evidence)}.{changes_sentence(evidence)}"
