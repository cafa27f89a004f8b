"""What a quick-fix rule sees (a Moment) and what it offers (Candidates).

A rule is a plain function `Moment -> iterable of Candidate`, wrapped by `@rule(...)` so the
package can find it (see `companion.quickfix.discover`). Rules are deterministic and instant: they
read the trigger event, its evidence (issue "Evidence: what failed and what changed", the contract
in docs/architecture.md) and, at most, a few cheap facts of the workspace (a file exists, a git
ref). They never run the user's command again and never change anything.

Every helper here tolerates missing, binary, huge or non-English data: a rule that finds nothing
returns nothing.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from companion.events import Event, thaw

OPERATIONS = ("edit", "run_command", "open", "explain")
MAX_TAIL_CHARS = 64 * 1024  # what a rule reads of a command's output, at most (the contract's bound)
MAX_TAIL_LINES = 200
_OUTPUT_KEYS = ("output_tail", "output", "stderr", "stdout", "error", "message")


@dataclass
class Candidate:
    """One concrete piece of help: the proposal's fields, the evidence it rests on, how sure the rule is."""

    rule: str
    task: str
    operation: str  # edit | run_command | open | explain
    response: str = ""
    path: str | None = None  # workspace-relative
    line: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)  # the "why": {"failure": …, "suspect": …, "output_lines": […]}
    confidence: float = 0.5

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; expected one of {OPERATIONS}")
        self.confidence = max(0.0, min(1.0, float(self.confidence)))

    def key(self) -> tuple[Any, ...]:
        """Two candidates with the same key offer the same help."""
        return (self.operation, self.path, self.line if self.operation == "open" else None, self.response.strip())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def bounded_tail(text: str, max_chars: int = MAX_TAIL_CHARS, max_lines: int = MAX_TAIL_LINES) -> str:
    """The end of `text`, at most `max_lines` lines and `max_chars` characters, NULs removed."""
    text = text[-max_chars:].replace("\0", "")
    lines = text.splitlines()
    return "\n".join(lines[-max_lines:])


@dataclass
class Moment:
    """The trigger, its event and evidence, and where it happened: everything a rule may read."""

    reason: str  # the trigger reason (failed_command, tests_failing, merge_conflict, …)
    event: Event | None
    workspace: Path
    recent: Sequence[Event] = ()  # recent events of the workspace, oldest first (the user's own history)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        return thaw(self.event.data) if self.event is not None else {}

    @property
    def kind(self) -> str:
        return self.event.kind if self.event is not None else ""

    @functools.cached_property
    def evidence(self) -> dict[str, Any]:
        found = self.data.get("evidence")
        return found if isinstance(found, dict) else {}

    @property
    def command(self) -> str:
        return _text(self.data.get("command")).strip()

    @functools.cached_property
    def argv(self) -> list[str]:
        """The command's words (shell quoting undone; a command that does not parse is split on spaces)."""
        try:
            return shlex.split(self.command)
        except ValueError:
            return self.command.split()

    @property
    def exit_code(self) -> int | None:
        value = self.data.get("exit_code")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            return int(value)
        except ValueError:
            return None

    @functools.cached_property
    def cwd(self) -> Path:
        """The folder the command ran in (inside the workspace when the event does not say)."""
        raw = _text(self.data.get("cwd"))
        if raw and Path(raw).is_absolute() and Path(raw).is_dir():
            return Path(raw)
        folder = self.workspace / _text(self.data.get("dir")) if self.data.get("dir") else self.workspace
        return folder if folder.is_dir() else self.workspace

    @functools.cached_property
    def output(self) -> str:
        """The command's output tail (the evidence's, else any output field the event has), bounded."""
        found = self.evidence.get("output")
        text = _text(found.get("tail")) if isinstance(found, dict) else _text(found)
        if not text:
            text = "\n".join(_text(self.data.get(key)) for key in _OUTPUT_KEYS if self.data.get(key))
        return bounded_tail(text)

    @functools.cached_property
    def failures(self) -> list[dict[str, Any]]:
        """The evidence's failures; for a `tests.failed` event without them, its test ids alone."""
        found = self.evidence.get("failures")
        if isinstance(found, list) and found:
            return [f for f in found if isinstance(f, dict)]
        tests = self.data.get("tests") if self.kind == "tests.failed" else None
        return [{"test": str(t)} for t in tests[:20] if t] if isinstance(tests, list) else []

    @functools.cached_property
    def suspects(self) -> list[dict[str, Any]]:
        found = self.evidence.get("suspects")
        return [s for s in found if isinstance(s, dict) and s.get("path")] if isinstance(found, list) else []

    @functools.cached_property
    def texts(self) -> str:
        """All the error text of the moment: output tail, failure messages and tracebacks."""
        parts = [self.output]
        for failure in self.failures:
            parts.append(_text(failure.get("traceback")))
            parts.append(_text(failure.get("message")))
        return "\n".join(p for p in parts if p)

    def lines_matching(self, pattern: re.Pattern[str], limit: int = 3) -> list[str]:
        """Lines of the moment's error text that match (the evidence a rule quotes)."""
        found = [line.strip() for line in self.texts.splitlines() if pattern.search(line)]
        return [line[:300] for line in found[:limit]]

    def relative(self, path: str | os.PathLike[str], base: Path | None = None) -> str | None:
        """`path` (absolute, or relative to `base` / the command's folder / the workspace) as a
        workspace-relative posix path, when it names an existing file inside the workspace."""
        raw = _text(path).strip().strip("'\"`")
        if not raw or "\0" in raw or len(raw) > 1024:
            return None
        root = self.workspace.resolve()
        candidate = Path(raw)
        tries = [candidate] if candidate.is_absolute() else [(base or self.cwd) / candidate, self.cwd / candidate,
                                                             root / candidate]
        for target in tries:
            try:
                resolved = target.resolve()
                if resolved.is_file() and (root == resolved or root in resolved.parents):
                    return resolved.relative_to(root).as_posix()
            except (OSError, ValueError):
                continue
        return None

    def commands_run(self, succeeded: bool | None = None) -> Iterator[str]:
        """Commands of the recent past, newest first (the user's own history)."""
        for event in reversed(list(self.recent)):
            if event.kind != "shell.command":
                continue
            code = event.data.get("exit_code")
            if succeeded is True and code != 0:
                continue
            command = _text(event.data.get("command")).strip()
            if command:
                yield command


RuleFunc = Callable[[Moment], Iterable[Candidate]]


@dataclass(frozen=True)
class Rule:
    """A rule with its id and the trigger reasons it looks at (empty: every trigger)."""

    id: str
    func: RuleFunc
    triggers: frozenset[str] = frozenset()
    doc: str = ""

    def applies(self, moment: Moment) -> bool:
        return not self.triggers or moment.reason in self.triggers

    def __call__(self, moment: Moment) -> list[Candidate]:
        found = []
        for candidate in self.func(moment) or ():
            candidate.rule = candidate.rule or self.id
            found.append(candidate)
        return found


FAILURES = frozenset({"failed_command", "tests_failing"})


def rule(rule_id: str, triggers: Iterable[str] = FAILURES) -> Callable[[RuleFunc], Rule]:
    """Make a module-level function a discoverable rule: `@rule("git.push_upstream")`."""

    def wrap(func: RuleFunc) -> Rule:
        return Rule(rule_id, func, frozenset(triggers), (func.__doc__ or "").strip().split("\n")[0])

    return wrap
