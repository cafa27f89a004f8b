"""Command errors with the help each deserves: a missing module, a mistyped command, a push with no
upstream, a merge conflict, a branch switch over uncommitted work.

The expected help is a regex over the proposal's text (a command), or a place (the first conflict
marker); set-up that a developer would have done earlier (a branch, a remote, a commit) happens
before the daemon starts, so the daemon sees only the moment itself.
"""

from __future__ import annotations

import random
import re
import shlex
import sys
from pathlib import Path
from typing import Callable

from companion.moments.mutants import Mutant, compiles, find_mutants
from companion.moments.scenarios import Expect, Moment, Step

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# (import name, distribution) of real packages a small script might use; the first ones are
# imported under another name than the one to install (right help names the distribution)
MODULES = [("yaml", "PyYAML"), ("PIL", "Pillow"), ("dateutil", "python-dateutil"), ("sklearn", "scikit-learn"),
           ("cv2", "opencv-python"), ("wcwidth", "wcwidth"), ("tabulate", "tabulate"), ("toml", "toml"),
           ("simplejson", "simplejson"), ("colorama", "colorama"), ("docopt", "docopt"), ("humanize", "humanize"),
           ("termcolor", "termcolor"), ("xmltodict", "xmltodict"), ("cachetools", "cachetools"), ("arrow", "arrow")]
TYPO_SOURCES = ["git status", "git log --oneline -5", "git diff --stat", "git branch"]


def declared_dependencies(base: Path) -> list[str]:
    """Distribution names the project declares in pyproject.toml (required and optional)."""
    try:
        project = tomllib.loads((base / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    specs = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        specs += list(group)
    return [re.split(r"[\s<>=!~;\[]", s, maxsplit=1)[0] for s in specs if isinstance(s, str)]


def distribution_pattern(dist: str) -> str:
    """A regex for the distribution's name as pip reads it: any case, `-`, `_` and `.` alike."""
    parts = re.split(r"[-_.]+", dist)
    return "(?i:" + "[-_.]".join(re.escape(p) for p in parts) + ")"


def requirements_files(base: Path) -> list[str]:
    found = sorted(p.relative_to(base).as_posix() for p in base.glob("requirements*.txt"))
    found += sorted(p.relative_to(base).as_posix() for p in (base / "requirements").glob("*.txt")) \
        if (base / "requirements").is_dir() else []
    return found


def missing_module(moment_id: str, repo: str, base: Path, importable: Callable[[str], bool],
                   rng: random.Random) -> Moment | None:
    """A new script imports a package the environment lacks: the project's way to install it is right."""
    declared = {d.lower().replace("-", "_") for d in declared_dependencies(base)}
    choices = [m for m in MODULES if not importable(m[0])]
    if not choices:
        return None
    preferred = [m for m in choices if m[1].lower().replace("-", "_") in declared]
    module, dist = (preferred or [rng.choice(choices)])[0]
    script = f"scripts/report_{module}.py"
    setup = [Step("write", path=script, text=f'"""Print a small report."""\nimport {module}\n\nprint({module}.__name__)\n')]
    # the distribution by name (`pip install yaml` is wrong: PyYAML); a sync of the lock file only
    # when the project declares it
    d = distribution_pattern(dist)
    named = rf"(?<![\w.-]){d}(?![\w-])"
    install_dist = rf"\b(pip3?|python3? -m pip|uv pip|pipx?) install\b[^\n`]*{named}"
    in_project = dist.lower().replace("-", "_") in declared
    commands: list[str]
    if (base / "uv.lock").is_file():
        commands = [rf"\buv (add|pip install)\b[^\n`]*{named}", *([r"\buv sync\b"] if in_project else [])]
    elif (base / "poetry.lock").is_file():
        commands = [rf"\bpoetry add\b[^\n`]*{named}", *([r"\bpoetry install\b"] if in_project else [])]
    elif (base / "Pipfile").is_file():
        commands = [rf"\bpipenv install\b[^\n`]*{named}", *([r"\bpipenv (install|sync)\b"] if in_project else [])]
    elif requirements_files(base):
        listed = requirements_files(base)[0]
        setup.append(Step("append", path=listed, text=f"{dist}\n"))
        commands = [rf"\bpip3? install\b[^\n`]*-r\s*{re.escape(listed)}", install_dist]
    elif in_project:
        commands = [install_dist, r"\bpip3? install\b[^\n`]*-e\s*['\"]?\.\[\w+\]"]
    else:
        commands = [install_dist]
    setup.append(Step("git", args=["add", "-A"]))
    setup.append(Step("git", args=["commit", "-qm", f"Add a {module} report script"]))
    typed = f"python {script}"
    return Moment(id=moment_id, repo=repo, category="missing_module", setup=setup,
                  steps=[Step("type", text=typed, trigger=True)],
                  expect=Expect(failure=True, commands=commands, evidence=[typed, script, Path(script).name, module, dist]),
                  note=f"{module} is not installed")


def typo(word: str, rng: random.Random) -> str:
    """`word` with two neighbouring letters swapped (a slip of the fingers)."""
    spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
    i = rng.choice(spots)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def typo_command(moment_id: str, repo: str, test_command: str, rng: random.Random) -> Moment:
    correct = rng.choice(TYPO_SOURCES + [test_command])
    words = correct.split()
    index = 1 if words[0] == "git" and rng.random() < 0.5 else 0
    if words[index] == "-m" or len(words[index]) < 3:
        index = 0
    wrong = words.copy()
    wrong[index] = typo(words[index], rng)
    typed = " ".join(wrong)
    return Moment(id=moment_id, repo=repo, category="typo_command", steps=[Step("type", text=typed, trigger=True)],
                  expect=Expect(failure=True, commands=[re.escape(correct)], evidence=[typed, wrong[index], correct]),
                  note=f"{typed!r} for {correct!r}")


def push_no_upstream(moment_id: str, repo: str, rng: random.Random) -> Moment:
    remote = "@MOMENT@/remote.git"  # the moment's folder, filled in by the driver
    branch = rng.choice(["feature/report", "fix-parsing", "docs-update", "topic/cleanup"])
    setup = [Step("git", args=["init", "-q", "--bare", remote]),
             Step("git", args=["remote", "add", "origin", remote]),
             Step("git", args=["checkout", "-qb", branch]),
             Step("write", path="NOTES.md", text="Work in progress.\n"),
             Step("git", args=["add", "NOTES.md"]), Step("git", args=["commit", "-qm", "Add notes"])]
    b = re.escape(branch)
    commands = [rf"git push (-u|--set-upstream) origin {b}\b", rf"git push origin {b} (-u|--set-upstream)",
                rf"git push (-u|--set-upstream) origin HEAD\b", r"push\.autoSetupRemote"]
    return Moment(id=moment_id, repo=repo, category="push_no_upstream", setup=setup,
                  steps=[Step("type", text="git push", trigger=True)],
                  expect=Expect(failure=True, commands=commands, evidence=["git push", branch]),
                  note=f"branch {branch} has no upstream")


def _two_versions(base: Path, path: str, rng: random.Random) -> tuple[int, str, str, str] | None:
    """A line of `path` and two different edits of it, each still valid Python."""
    try:
        text = (base / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    numbers = list(range(1, len(text.splitlines()) + 1))
    rng.shuffle(numbers)
    for start in range(0, min(len(numbers), 400), 40):  # a few lines at a time: big files stay quick
        by_line: dict[int, list[Mutant]] = {}
        for mutant in find_mutants(path, text, set(numbers[start:start + 40]), check=False):
            by_line.setdefault(mutant.line, []).append(mutant)
        for line in sorted(by_line):
            usable = {m.new: m for m in by_line[line] if compiles(m, text)}
            if len(usable) >= 2:
                first, second = rng.sample(sorted(usable), 2)
                return line, text.splitlines()[line - 1], first, second
    return None


def _replace_line(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    old = lines[line - 1]
    lines[line - 1] = new + old[len(old.rstrip("\r\n")):]
    return "".join(lines)


def merge_conflict(moment_id: str, repo: str, base: Path, branch: str, sources: list[str],
                   rng: random.Random) -> Moment | None:
    """Two branches change the same line; `git merge` stops on it. Right help names the file and line."""
    for path in rng.sample(sources, len(sources)):
        found = _two_versions(base, path, rng)
        if found is None:
            continue
        line, _old, ours, theirs = found
        text = (base / path).read_text(encoding="utf-8")
        other = rng.choice(["topic", "refactor-edge-cases", "perf-tweaks"])
        setup = [Step("git", args=["checkout", "-qb", other]),
                 Step("write", path=path, text=_replace_line(text, line, theirs)),
                 Step("git", args=["commit", "-qam", f"Adjust {Path(path).name}"]),
                 Step("git", args=["checkout", "-q", branch]),
                 Step("write", path=path, text=_replace_line(text, line, ours)),
                 Step("git", args=["commit", "-qam", f"Tweak {Path(path).name}"])]
        typed = f"git merge {other}"
        return Moment(id=moment_id, repo=repo, category="merge_conflict", setup=setup,
                      steps=[Step("type", text=typed, trigger=True)],
                      expect=Expect(failure=True, file=path, line=line, find_conflict=True,
                                    evidence=[path, Path(path).name, typed, other]),
                      note=f"both branches change {path}:{line}")
    return None


def dirty_switch(moment_id: str, repo: str, base: Path, branch: str, sources: list[str], rng: random.Random) -> Moment | None:
    """An uncommitted edit to a file that differs on the other branch: `git checkout` refuses."""
    for path in rng.sample(sources, len(sources)):
        found = _two_versions(base, path, rng)
        if found is None:
            continue
        line, _old, ours, theirs = found
        text = (base / path).read_text(encoding="utf-8")
        other = rng.choice(["release", "experiment", "review"])
        setup = [Step("git", args=["checkout", "-qb", other]),
                 Step("write", path=path, text=_replace_line(text, line, theirs)),
                 Step("git", args=["commit", "-qam", f"Change {Path(path).name}"]),
                 Step("git", args=["checkout", "-q", branch])]
        typed = f"git checkout {shlex.quote(other)}"
        commands = [r"\bgit stash\b", r"\bgit commit\b", r"\bgit (switch|checkout) (-m|--merge)\b"]
        return Moment(id=moment_id, repo=repo, category="dirty_switch", setup=setup,
                      steps=[Step("save", path=path, text=_replace_line(text, line, ours)), Step("wait", seconds=1.0),
                             Step("type", text=typed, trigger=True)],
                      expect=Expect(failure=True, commands=commands, evidence=[path, Path(path).name, typed, other]),
                      note=f"uncommitted change to {path} before switching to {other}")
    return None
