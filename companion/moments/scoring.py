"""How one moment is scored, from what the daemon recorded (see driver.MomentRun).

- surfaced: a proposal cleared the gate and the budget after the trigger; latency is its time
  minus the time the trigger's command finished (or the save happened).
- grounded: the proposal (task, response, file) names something in the moment's evidence: the
  changed file, a failing test, the typed command, the enclosing function, the missing module,
  the branch, or any test or file the trigger event's evidence carries.
- localized: the right file within ±3 lines of the injected change or the first conflict marker
  (the proposal's own file and line, a line its patch touches, or `file:line` in its text), or
  the expected command, as a regex over its text.
- fixed: for an `edit`, accepted through the daemon (the product applies the patch) and the
  failing tests rerun in the harness: do they pass? None when there was no edit to try.
- false alarm: a routine moment (nothing wrong) where anything surfaced.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any

from companion.moments.driver import MomentRun, scored_proposal

LINE_SLACK = 3
MIN_NAME = 3  # shorter evidence names ("a", "io") would match anything
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.M)


@dataclass
class Score:
    surfaced: bool = False
    latency_s: float | None = None
    grounded: bool = False
    localized: bool = False
    fixed: bool | None = None
    false_alarm: bool = False
    proposed: int = 0  # proposals the agent made, surfaced or kept back by the gate
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def proposal_text(proposal: dict[str, Any]) -> str:
    """What the user sees of a proposal: its task, its response and the file it points at."""
    return "\n".join(str(proposal.get(k) or "") for k in ("task", "response", "path"))


def evidence_names(run: MomentRun) -> list[str]:
    """The moment's own facts plus the tests and files its trigger event's evidence carries."""
    names = list(run.moment.expect.evidence)
    data = (run.trigger or {}).get("data") or {}
    evidence = data.get("evidence") or {}
    if isinstance(evidence, dict):
        for failure in evidence.get("failures") or []:
            if isinstance(failure, dict):
                names += [str(failure.get(k)) for k in ("test", "path") if failure.get(k)]
                test = str(failure.get("test") or "")
                if "::" in test:
                    names.append(test.split("::")[-1].split("[")[0])
        for suspect in evidence.get("suspects") or []:
            if isinstance(suspect, dict) and suspect.get("path"):
                names.append(str(suspect["path"]))
    if data.get("command"):
        names.append(str(data["command"]))
    return [n for n in dict.fromkeys(names) if len(n.strip()) >= MIN_NAME]


def names_any(text: str, names: list[str]) -> bool:
    for name in names:
        pattern = re.escape(name.strip())
        if re.search(rf"(?<![\w.]){pattern}(?![\w])", text):
            return True
    return False


def _same_file(candidate: str, expected: str) -> bool:
    candidate = candidate.strip().strip("`'\"").removeprefix("./").removeprefix("a/").removeprefix("b/")
    if not candidate:
        return False
    return candidate == expected or expected.endswith("/" + candidate) or candidate.endswith("/" + expected)


def proposal_places(proposal: dict[str, Any], expected_file: str) -> list[int]:
    """Lines of `expected_file` the proposal points at: its own line, its patch's hunks, `file:N` in its text."""
    lines: list[int] = []
    path = str(proposal.get("path") or "")
    if _same_file(path, expected_file):
        for key in ("line", "end_line"):
            if isinstance(proposal.get(key), int):
                lines.append(proposal[key])
        if proposal.get("operation") == "edit":
            for match in _HUNK.finditer(str(proposal.get("response") or "")):
                start, count = int(match.group(1)), int(match.group(2) or 1)
                lines.extend(range(start, start + max(count, 1)))
    text = proposal_text(proposal)
    name = re.escape(PurePosixPath(expected_file).name)
    for match in re.finditer(rf"(?:[\w./-]*/)?{name}(?:\"?,? line |:)(\d+)", text):
        lines.append(int(match.group(1)))
    return lines


def is_localized(proposal: dict[str, Any], run: MomentRun) -> bool:
    expect = run.moment.expect
    if expect.file and expect.line:
        places = proposal_places(proposal, expect.file)
        if any(abs(line - expect.line) <= LINE_SLACK for line in places):
            return True
    text = proposal_text(proposal)
    return any(re.search(pattern, text) for pattern in expect.commands)


def score(run: MomentRun) -> Score:
    result = Score(error=run.error, proposed=len(run.proposals))
    proposal = scored_proposal(run)
    if proposal is None:
        return result
    result.surfaced = True
    if run.trigger is not None:  # from the end of the command (a shell.command's time is its start)
        finished = float(run.trigger["ts"]) + float((run.trigger.get("data") or {}).get("duration_s") or 0.0)
        result.latency_s = round(max(0.0, float(proposal["ts"]) - finished), 2)
    if not run.moment.expect.failure:
        result.false_alarm = True
        return result
    result.grounded = names_any(proposal_text(proposal), evidence_names(run))
    result.localized = is_localized(proposal, run)
    if run.fix is not None:
        result.fixed = bool(run.fix.get("applied") and run.fix.get("passed"))
    return result
