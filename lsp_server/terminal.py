"""VS Code's integrated terminal, as reported by the extension (its shell integration route):
each finished command arrives as a `companion/terminalCommand` notification and becomes one
`shell.command` event, origin "vscode", with the tail of its output as `evidence.output` and the
test failures pytest's short summary in that tail names as `evidence.failures` (no JUnit report
exists on this route: the hook stands aside in these terminals), as the shell routes give them
(docs/shell.md, the evidence contract in docs/architecture.md).

The extension already strips ANSI and bounds the tail; this side trusts nothing it is sent:
types are checked, the tail is stripped and bounded again (companion.evidence.output), commands outside the workspace, ignored ones
(`[shell] ignore_commands`) and leading-space ones are dropped like the shell hook drops them,
and the output is kept only as `[shell] capture_output` says (failed commands by default).
Redaction happens in the daemon's pipeline before anything is stored.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

from companion.evidence.failures import failures_evidence, parse_short_summary
from companion.evidence.output import output_evidence
from companion.shell.attribution import CommandFilter, event_id

NOTIFICATION = "companion/terminalCommand"
MAX_COMMAND = 16 * 1024
CAPTURE_MODES = ("failed", "all", "off")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: Any) -> int:
    number = _number(value)
    return max(0, int(number)) if number is not None else 0


def terminal_output(raw: Any) -> dict[str, Any] | None:
    """`evidence.output` from the extension's tail, checked and bounded again (companion.evidence.output)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("tail"), str):
        return None
    return output_evidence(raw["tail"], "vscode", total_bytes=_count(raw.get("bytes")),
                           total_lines=_count(raw.get("lines")), dropped=bool(raw.get("truncated")))


def command_event(params: Mapping[str, Any], commands: CommandFilter, capture_output: str = "failed",
                  now: float | None = None) -> dict[str, Any] | None:
    """The raw `shell.command` event for one notification, or None when it is not recorded."""
    command = params.get("command")
    if not isinstance(command, str) or not command.strip() or command[:1].isspace():
        return None  # nothing to name, or a leading-space command (never recorded, as in the hooks)
    command = command.rstrip()[:MAX_COMMAND]  # VS Code may keep a trailing space (fish) or newline
    cwd = params.get("cwd") if isinstance(params.get("cwd"), str) else ""
    directory = commands.relative_dir(cwd) if cwd else "."
    if directory is None or commands.ignored(command):
        return None
    end = _number(params.get("end")) or (now if now is not None else time.time())
    start = _number(params.get("start"))
    start = start if start is not None and start <= end else end
    exit_code = params.get("exitCode")
    exit_code = int(exit_code) if _number(exit_code) is not None and float(exit_code).is_integer() else None
    session = str(params.get("session") or "vscode")[:64]
    data: dict[str, Any] = {
        "command": command, "cwd": cwd or str(commands.workspace), "dir": directory, "exit_code": exit_code,
        "duration_s": round(end - start, 3), "shell": str(params.get("terminal") or "")[:32],
        "session": session, "origin": "vscode"}
    if params.get("confidence") in ("low", "medium", "high"):
        data["command_confidence"] = params["confidence"]
    keep_output = capture_output == "all" or (capture_output == "failed" and exit_code not in (0, None))
    output = terminal_output(params.get("output")) if keep_output else None
    if output is not None and output["tail"]:
        failures = failures_evidence(*parse_short_summary(output["tail"], commands.workspace))
        data["evidence"] = {"output": output, **failures}
    return {"source": "shell", "kind": "shell.command", "ts": start,
            "id": event_id(str(commands.workspace), session, start, command), "data": data}
