"""A finished command's evidence: its output tail and its test failures, gathered by the daemon.

Why the daemon gathers it and the hook does not: the hook runs before every prompt and must never
block it or start a process, so it only leaves pointers in the command's spool record (its id and
flags). From those the daemon that takes the record reads, in this order:

- the output: `out-ID.json` written by `companion shell` (route `pty`), or else, for a command in
  tmux, the last lines of its pane read with `tmux capture-pane` right away (route `tmux`: the pane
  may have moved on if the daemon reads late, so it is only read for recent records);
- the failures: `pytest-RID.xml` (the JUnit report the hook asked pytest for, named by the record's
  `junit` flag), or else the user's own `--junitxml` file named on the command line or in their
  `PYTEST_ADDOPTS` (the record's `addopts` flag), or else pytest's short test summary in the output;
  a report also gives the ids that passed (`passed`), the greens of those test ids.

Per-command spool files are deleted once read, whatever the settings say: nothing raw stays at rest.
Nothing here raises on bad files; a command's event never waits on its evidence for long.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from companion.evidence import failures as failure_parsers
from companion.evidence.output import MAX_LINES, output_evidence
from companion.shell.spool import OUTPUT_PREFIX, REPORT_PREFIX, CommandRecord, command_file, report_id

OUTPUT_WAIT_S = 0.5  # how long to wait for `companion shell` to write a just-finished command's output
TMUX_RECENT_S = 10.0  # a pane is read only for records this recent (later, it shows other things)
TMUX_TIMEOUT_S = 2.0
MAX_OUTPUT_FILE = 1024 * 1024
_JUNIT_OPTION = re.compile(r"^--junit-?xml(?:=(?P<value>.+))?$")


def wants_output(record: CommandRecord, mode: str) -> bool:
    """`[shell] capture_output`: failed (default), all, or off."""
    return mode == "all" or (mode == "failed" and record.exit_code not in (0, None))


def gather(record: CommandRecord, directory: Path, root: Path, mode: str, pytest_report: bool = True,
           now: float | None = None) -> dict[str, Any]:
    """The `evidence` dict for one command of this workspace ({} when there is none)."""
    now = time.time() if now is None else now
    flags = record.flags or {}
    evidence: dict[str, Any] = {}
    output = None
    recent = record.end is None or now - record.end < TMUX_RECENT_S
    if record.command_id and flags.get("pty"):
        # only a just-finished command's output may still be on its way (a backlog's is there or gone)
        output = _pty_output(directory, record.command_id, wait=wants_output(record, mode) and recent)
    elif flags.get("pane") and flags.get("tmux") and wants_output(record, mode) and recent:
        output = tmux_output(flags["tmux"], flags["pane"], record.command)
    if output is not None and wants_output(record, mode):
        evidence["output"] = output
    report = None
    rid = report_id(record)
    if rid:
        report = _take_report(command_file(directory, REPORT_PREFIX, rid, ".xml"), root, use=pytest_report)
    if report is None and record.exit_code is not None:
        report = _user_report(record, root)
    if report is not None:
        evidence.update(failure_parsers.report_evidence(report, root))
    elif output is not None and mode != "off":
        evidence.update(failure_parsers.failures_evidence(*failure_parsers.parse_short_summary(output["tail"], root)))
    return evidence


def discard(record: CommandRecord, directory: Path) -> None:
    """Delete a command's per-command files unread (it is ignored by this workspace's settings)."""
    if record.command_id:
        _unlink(command_file(directory, OUTPUT_PREFIX, record.command_id, ".json"))
    rid = report_id(record)
    if rid:
        _unlink(command_file(directory, REPORT_PREFIX, rid, ".xml"))


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _pty_output(directory: Path, command_id: str, wait: bool) -> dict[str, Any] | None:
    path = command_file(directory, OUTPUT_PREFIX, command_id, ".json")
    deadline = time.monotonic() + (OUTPUT_WAIT_S if wait else 0.0)
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_OUTPUT_FILE + 1)
    except OSError:
        return None
    finally:
        _unlink(path)
    if len(raw) > MAX_OUTPUT_FILE:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tail"), str):
        return None
    result = output_evidence(data["tail"], "pty")  # re-bounded: the file is input like any other
    for key in ("lines", "bytes"):
        if isinstance(data.get(key), int) and data[key] >= 0:
            result[key] = data[key]
    result["truncated"] = bool(result["truncated"] or data.get("truncated"))
    return result


def tmux_output(socket: str, pane: str, command: str) -> dict[str, Any] | None:
    """The last lines of a tmux pane after the line where `command` was typed."""
    if not re.match(r"^%\d+$", pane) or not socket.startswith("/"):
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    try:
        result = subprocess.run(["tmux", "-S", socket, "capture-pane", "-p", "-J", "-S", f"-{MAX_LINES}", "-t", pane],
                                capture_output=True, timeout=TMUX_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    lines = result.stdout.decode("utf-8", errors="replace").rstrip("\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    first = command.strip().split("\n")[0].strip()
    typed = next((i for i in range(len(lines) - 1, -1, -1) if first and first in lines[i]), None)
    if typed is not None:
        prompt = lines[typed].split(first, 1)[0].rstrip()
        lines = lines[typed + 1:]
        if prompt:  # stop at the next prompt: what follows belongs to later commands
            after = next((i for i, line in enumerate(lines) if line.startswith(prompt)), None)
            if after is not None:
                lines = lines[:after]
    elif lines:
        lines.pop()  # without the typed line, at least not the next prompt
    text = "\n".join(lines)
    evidence = output_evidence(text, "tmux")
    evidence["truncated"] = evidence["truncated"] or typed is None
    return evidence


def _take_report(path: Path, root: Path, use: bool) -> failure_parsers.JUnitReport | None:
    """Read and delete the JUnit report pytest wrote into the spool for this command."""
    if not path.exists():
        return None
    try:
        if not use:
            return None
        return failure_parsers.read_junit(path, root)
    except failure_parsers.ReportError:
        return None
    finally:
        _unlink(path)


def junit_paths(command: str) -> list[str]:
    """The JUnit report paths a command line names (`--junitxml=F`, `--junit-xml F`)."""
    try:
        words = shlex.split(command, comments=False)
    except ValueError:
        words = command.split()
    found = []
    for index, word in enumerate(words):
        match = _JUNIT_OPTION.match(word)
        if match is None:
            continue
        value = match.group("value")
        if value is None and index + 1 < len(words):
            value = words[index + 1]
        if value:
            found.append(value)
    return found


def _user_report(record: CommandRecord, root: Path) -> failure_parsers.JUnitReport | None:
    """The user's own `--junitxml` report, when the command wrote it (it is theirs: never deleted).

    pytest reads PYTEST_ADDOPTS before the command line and the last `--junitxml` wins, so the
    command line is searched first, from its end, then the user's PYTEST_ADDOPTS."""
    addopts = (record.flags or {}).get("addopts", "")
    for name in [*reversed(junit_paths(record.command)), *reversed(junit_paths(addopts))]:
        path = Path(os.path.expanduser(name))
        if not path.is_absolute():
            path = Path(record.cwd or root) / path
        try:
            fresh = record.start is None or path.stat().st_mtime >= record.start - 1
        except OSError:
            continue
        if not fresh:
            continue
        try:
            return failure_parsers.read_junit(path, root)
        except failure_parsers.ReportError:
            return None
    return None
