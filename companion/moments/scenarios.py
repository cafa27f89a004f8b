"""What a moment is: set-up done before the daemon watches, steps a developer takes while it does,
and what help would be right. Builders here make the regressions, the SyntaxError and the routine
moments; `commands` makes the command errors; `plan` decides how many of each per repository.

Steps are data (save a file as an editor does, type a line into the hooked shell, wait), so the
driver replays every moment the same way and a failing moment can be printed and rerun by hand.
"""

from __future__ import annotations

import ast
import random
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from companion.moments.mutants import Mutant
from companion.moments.selection import Kept

MAX_TYPED_TESTS = 5  # node ids typed after the test command (the failing ones, as a developer reruns them)


@dataclass
class Step:
    """`save` (path, text: temp file + rename), `type` (a line into the shell; `trigger` marks the
    one whose event should wake the companion), `wait` (seconds), or set-up only: `git` (args)
    and `write` (path, text) run by the harness before the daemon starts."""

    kind: str
    path: str = ""
    text: str = ""
    args: list[str] = field(default_factory=list)
    seconds: float = 0.0
    trigger: bool = False


@dataclass
class Expect:
    """What right help names. `file`/`line`: the place (±3 lines); `commands`: regexes of right
    commands; `evidence`: names a grounded proposal may use; `failing`: tests a fix must make pass."""

    failure: bool
    file: str = ""
    line: int = 0
    commands: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    mutant: dict | None = None  # the injected change
    rerun: str = ""  # the command that reruns `failing` (the fix check runs it in the harness)
    find_conflict: bool = False  # the line is the first conflict marker, known only after the merge


@dataclass
class Moment:
    id: str
    repo: str
    category: str
    setup: list[Step] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    expect: Expect = field(default_factory=lambda: Expect(failure=False))
    route: str = "hook"  # hook | pty (inside `companion shell`)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def test_names(tests: list[str]) -> list[str]:
    """The parts of node ids a proposal would name: the id, its file, the test function."""
    names: list[str] = []
    for test in tests:
        names.append(test)
        path, _, rest = test.partition("::")
        names.append(path)
        if rest:
            names.append(rest.split("::")[-1].split("[")[0])
    return names


def typed_tests(command: str, tests: list[str]) -> str:
    return f"{command} -x " + " ".join(shlex.quote(t) for t in tests[:MAX_TYPED_TESTS])


def green_first(typed: str) -> list[Step]:
    """The tests pass before the slip, as they do for a developer who then edits: the companion's
    "what changed since it last worked" needs that green run."""
    return [Step("type", text=typed), Step("wait", seconds=1.0)]


def decoy_edit(base: Path, sources: list[str], mutated: str, rng: random.Random) -> tuple[str, str] | None:
    """(path, text): a harmless comment added to another source file than `mutated`, or None."""
    others = [p for p in sources if p != mutated]
    if not others:
        return None
    path = rng.choice(others)
    try:
        text = (base / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return path, harmless_edit(text, rng, 1)


def regression(moment_id: str, repo: str, kept: Kept, command: str, route: str, base: Path,
               decoy: tuple[str, str] | None = None) -> Moment:
    """The tests pass; the mutant is saved as an editor saves; the same tests then fail in the shell.
    `decoy` (path, text): a harmless edit to another file, saved after the mutant, so that two files
    changed since the green run and the suspect ranking has to find the right one (the expected
    place stays the mutated line)."""
    mutant = kept.mutant
    text = mutant.apply((base / mutant.path).read_text(encoding="utf-8"))
    typed = typed_tests(command, kept.failing)
    evidence = [mutant.path, Path(mutant.path).name, *test_names(kept.failing), typed]
    if mutant.symbol:
        evidence += [mutant.symbol, mutant.symbol.split(".")[-1]]
    saves = [Step("save", path=mutant.path, text=text), Step("wait", seconds=1.0)]
    note = f"{mutant.operator} at {mutant.path}:{mutant.line}: {mutant.old.strip()} -> {mutant.new.strip()}"
    if decoy is not None and decoy[0] != mutant.path:
        saves += [Step("save", path=decoy[0], text=decoy[1]), Step("wait", seconds=1.0)]
        note += f"; a comment added to {decoy[0]}"
    return Moment(id=moment_id, repo=repo, category=f"regression_{route}", route=route,
                  steps=[*green_first(typed), *saves, Step("type", text=typed, trigger=True)],
                  expect=Expect(failure=True, file=mutant.path, line=mutant.line, evidence=evidence,
                                failing=list(kept.failing), mutant=asdict(mutant), rerun=typed),
                  note=note)


def _block_openers(text: str) -> list[int]:
    """Lines of `def`/`if`/`for`/`while` headers that end with a colon on the same line."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines = text.splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.If, ast.For, ast.While)):
            header = node.lineno
            if header <= len(lines) and lines[header - 1].rstrip().endswith(":") and \
                    (node.body and node.body[0].lineno > header):
                found.append(header)
    return sorted(set(found))


def syntax_error(moment_id: str, repo: str, kept: Kept, command: str, base: Path, rng: random.Random) -> Moment | None:
    """A block header loses its colon in a file the tests import; the tests then cannot import it."""
    path = kept.mutant.path
    text = (base / path).read_text(encoding="utf-8")
    openers = _block_openers(text)
    if not openers:
        return None
    near = sorted(openers, key=lambda n: abs(n - kept.mutant.line))[:5]
    line = rng.choice(near)
    lines = text.splitlines(keepends=True)
    content = lines[line - 1].rstrip("\r\n")
    broken = content.rstrip()[:-1]
    ending = lines[line - 1][len(content):]
    lines[line - 1] = broken + ending
    mutant = Mutant(path, line, "syntax_error", content, broken, kept.mutant.symbol)
    typed = typed_tests(command, kept.failing)
    return Moment(id=moment_id, repo=repo, category="syntax_error",
                  steps=[*green_first(typed), Step("save", path=path, text="".join(lines)), Step("wait", seconds=1.0),
                         Step("type", text=typed, trigger=True)],
                  expect=Expect(failure=True, file=path, line=line, failing=list(kept.failing), mutant=asdict(mutant),
                                rerun=typed,
                                evidence=[path, Path(path).name, "SyntaxError", typed, *test_names(kept.failing)]),
                  note=f"missing colon at {path}:{line}")


def harmless_edit(text: str, rng: random.Random, serial: int) -> str:
    """The file with one comment line added above a top-level definition (no TODO, nothing to fix)."""
    lines = text.splitlines(keepends=True)
    spots = [i for i, line in enumerate(lines) if line.startswith(("def ", "class "))]
    if not spots:
        return text + f"\n# reviewed ({serial})\n"
    spot = rng.choice(spots)
    comment = rng.choice(["# Kept small on purpose.", "# See the docs for the full behaviour.",
                          "# Reviewed for clarity.", "# Part of the public API."])
    lines.insert(spot, f"{comment[:-1]} ({serial}).\n")
    return "".join(lines)


def routine_tests_pass(moment_id: str, repo: str, tests: list[str], command: str) -> Moment:
    typed = typed_tests(command, tests)
    return Moment(id=moment_id, repo=repo, category="routine_tests_pass",
                  steps=[Step("type", text=typed, trigger=True)], expect=Expect(failure=False, evidence=[typed]),
                  note="tests that pass")


def routine_commit(moment_id: str, repo: str, path: str, base: Path, rng: random.Random) -> Moment:
    text = harmless_edit((base / path).read_text(encoding="utf-8"), rng, 1)
    commit = f"git commit -qam {shlex.quote('Clarify a comment in ' + Path(path).name)}"
    return Moment(id=moment_id, repo=repo, category="routine_commit",
                  steps=[Step("save", path=path, text=text), Step("wait", seconds=1.0),
                         Step("type", text=commit, trigger=True)],
                  expect=Expect(failure=False, evidence=[path, commit]), note=f"a comment in {path}, committed")


def routine_edits(moment_id: str, repo: str, path: str, base: Path, rng: random.Random, saves: int = 3) -> Moment:
    text = (base / path).read_text(encoding="utf-8")
    steps: list[Step] = []
    for serial in range(1, saves + 1):
        text = harmless_edit(text, rng, serial)
        steps += [Step("save", path=path, text=text, trigger=serial == saves), Step("wait", seconds=1.5)]
    return Moment(id=moment_id, repo=repo, category="routine_edits", steps=steps,
                  expect=Expect(failure=False, evidence=[path]), note=f"{saves} saves of comments in {path}")
