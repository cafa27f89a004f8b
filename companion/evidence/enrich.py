"""The pipeline's enrichment stage: green runs become snapshots, failures get their suspects.

It runs on the pipeline thread before redaction and storage (companion.pipeline), so whatever it
adds is redacted and stored like the rest of the event. For each event:

- a successful `shell.command` (exit 0) is a green run: the workspace's manifest (see
  companion.evidence.snapshots) is kept as the last green of its **command key** and, for a test
  runner, of its **tests family**;
- `tests.fixed` (and `passed` ids of any tests event) make each named test id green;
- a failed `shell.command` (exit code not 0 and not 130, Ctrl-C) and `tests.failed` get
  `data["evidence"]["suspects"]`, `["green"]` and, for changed files without text,
  `["changed_files"]`: the diff between the chosen green and the workspace now.

Keys (documented in docs/evidence.md):
- command key: the command line split like a shell would, leading `NAME=value` assignments and
  `time`/`command`/`nohup`/`exec` dropped, words joined by one space, plus the folder it ran in
  when that is not the workspace root; redacted (keys are kept on disk);
- tests family: `tests:<runner>` for a run of a test runner (pytest, tox, jest, `go test`,
  `cargo test`, `npm test`, `make test`, …, also behind `python -m`, `uv run`, `npx`, …), so any
  successful run of the same runner counts;
- test ids: `test:<node id>`.
- whole-suite runs: `tests:<runner>:all` (per folder) for a successful test command without
  paths, names or selecting options (`pytest -q`, `npm test`), which passed every test.
Which green a failure is compared with: the newest of the failing tests' own last passes, the
same command's last success and its runner's last whole-suite run in the same folder; when none
exists, the last success of its tests family (any run of the runner).

Commands that only look around (cd, ls, cat, git status, editors, …) are neither greens nor
failures worth suspects: they cost nothing.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from companion.events import Event, thaw
from companion.evidence.snapshots import Green, Snapshots
from companion.evidence.suspects import suspects
from companion.redact import Redactor

log = logging.getLogger(__name__)
INTERRUPTED = 130
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PREFIXES = {"time", "command", "nohup", "exec", "builtin", "noglob", "nice"}
_WRAPPERS = (("uv", "run"), ("poetry", "run"), ("pipenv", "run"), ("pdm", "run"), ("hatch", "run"),
             ("rye", "run"), ("pnpm", "exec"), ("bundle", "exec"), ("npx",), ("bunx",), ("pixi", "run"))
TEST_PROGRAMS = {"pytest", "py.test", "tox", "nox", "jest", "vitest", "mocha", "ava", "rspec", "phpunit", "ctest",
                 "unittest", "nose2", "ward", "behave", "karma", "playwright", "cypress", "tap", "bats"}
TEST_SUBCOMMANDS = {"go": {"test"}, "cargo": {"test", "nextest"}, "npm": {"test", "t"}, "yarn": {"test"},
                    "pnpm": {"test"}, "bun": {"test"}, "make": {"test", "check"}, "dotnet": {"test"},
                    "gradle": {"test", "check"}, "./gradlew": {"test", "check"}, "mvn": {"test", "verify"},
                    "deno": {"test"}, "mix": {"test"}, "swift": {"test"}, "zig": {"test"}, "just": {"test"}}
LOOK_AROUND = {"cd", "ls", "ll", "la", "l", "pwd", "echo", "printf", "clear", "reset", "cat", "bat", "less", "more",
               "head", "tail", "man", "help", "which", "type", "whereis", "history", "exit", "logout", "true",
               "false", "whoami", "id", "date", "env", "printenv", "export", "unset", "alias", "unalias", "source",
               ".", "vim", "vi", "nvim", "nano", "emacs", "code", "open", "xdg-open", "tree", "du", "df", "top",
               "htop", "ps", "jobs", "fg", "bg", "sleep", "wc", "file", "stat", "find", "fd", "grep", "rg", "ag",
               "tmux", "screen", "ssh", "z", "j", "pushd", "popd", "dirs", "mkdir", "touch", "companion"}
SELECTING = {"-k", "-m", "--lf", "--last-failed", "--ff", "--sw", "--stepwise", "--deselect", "--pyargs", "-t",
             "--testNamePattern", "--testPathPattern", "--grep", "-g", "-run", "--run", "--filter", "--only",
             "--tests", "--exact", "--changed", "--onlyChanged", "-o", "--lf-no-collect"}


def split_command(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:  # an unbalanced quote: split on blanks
        words = command.split()
    while words and (_ASSIGNMENT.match(words[0]) or words[0] in _PREFIXES):
        words.pop(0)
    return words


def _program(words: list[str]) -> list[str]:
    """The words from the program that does the work: wrappers and `python -m` dropped."""
    changed = True
    while words and changed:
        changed = False
        for wrapper in _WRAPPERS:
            if tuple(words[: len(wrapper)]) == wrapper:
                words = words[len(wrapper):]
                changed = True
        if len(words) >= 3 and re.fullmatch(r"(.*/)?python[0-9.]*", words[0]) and words[1] == "-m":
            words = words[2:]
            changed = True
    return words


def _runner(words: list[str]) -> tuple[str, list[str]] | None:
    """(`tests:<runner>`, the arguments after the runner) when the command runs a test runner."""
    words = _program(list(words))
    if not words:
        return None
    name = os.path.basename(words[0])
    if name in TEST_PROGRAMS:
        return f"tests:{'pytest' if name == 'py.test' else name}", words[1:]
    subcommands = TEST_SUBCOMMANDS.get(words[0]) or TEST_SUBCOMMANDS.get(name)
    rest = [(i, w) for i, w in enumerate(words) if i > 0 and not w.startswith("-")]
    if subcommands and rest:
        index, first = rest[0]
        if name in ("npm", "yarn", "pnpm", "bun") and first == "run" and len(rest) > 1:
            index, first = rest[1]
        if first in subcommands:
            return f"tests:{name} {first}", words[index + 1:]
    return None


def runner_family(words: list[str]) -> str | None:
    """`tests:<runner>` when the command runs a test runner, else None."""
    found = _runner(words)
    return found[0] if found else None


def whole_suite(words: list[str]) -> bool:
    """Whether a test command runs every test: no paths, names or selecting options after the runner.
    Conservative: an option's value (`-n 4`) reads as a selection, which only costs a wider diff."""
    found = _runner(words)
    if found is None:
        return False
    return not any(not arg.startswith("-") or arg.split("=", 1)[0] in SELECTING
                   or (arg.startswith("-k") and arg != "-k") or (arg.startswith("-m") and len(arg) > 2)
                   for arg in found[1] if arg != "--")


def _all_key(family: str, directory: Any) -> str:
    """The green name of a whole-suite run of a runner in a folder."""
    return f"{family}:all" if directory in (None, "", ".") else f"{family}:all:{str(directory).rstrip('/')}"


def looks_around(words: list[str]) -> bool:
    """Commands that neither build nor test the work: no green run, no suspects. git is one of
    them: its failures are not about the code, and every commit message would be a key of its own."""
    if not words:
        return True
    return os.path.basename(words[0]) in LOOK_AROUND or os.path.basename(words[0]) == "git"


def command_key(words: Iterable[str], directory: Any) -> str:
    text = " ".join(words)
    if directory in (None, "", "."):
        return text
    return f"{text} (in {str(directory).rstrip('/')}/)"


class Enricher:
    """Callable on the pipeline thread: `event -> event` with evidence added where it applies."""

    def __init__(self, snapshots: Snapshots, redactor: Redactor,
                 ignore_changed: Callable[[str], None] | None = None) -> None:
        self.snapshots = snapshots
        self.redactor = redactor
        self.ignore_changed = ignore_changed  # told the folder of a .gitignore that changed
        self.stats: dict[str, float] = {"events": 0, "greens": 0, "failures": 0, "seconds": 0.0, "max_s": 0.0}
        self._stop = threading.Event()
        self._primer: threading.Thread | None = None

    @classmethod
    def for_workspace(cls, workspace: Path, folder: Path, redactor: Redactor, ignored: Any = None,
                      max_file_bytes: int = 1_000_000, max_store_bytes: int = 64 * 2**20,
                      max_files: int = 5000, ignore_changed: Callable[[str], None] | None = None) -> "Enricher":
        return cls(Snapshots(workspace, folder, redactor, ignored, max_file_bytes=max_file_bytes,
                             max_store_bytes=max_store_bytes, max_files=max_files), redactor, ignore_changed)

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Fill the stat cache in the background, so the first green run costs a stat walk."""
        def prime() -> None:
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only (Linux)
            except (AttributeError, OSError):
                pass
            try:
                began = time.monotonic()
                count = self.snapshots.prime(self._stop)
                self.snapshots.save()  # the next daemon start finds these copies by their stat
                log.info("evidence: %d files read in %.2f s", count, time.monotonic() - began)
            except Exception:
                log.exception("evidence: priming the snapshots failed")

        self._primer = threading.Thread(target=prime, name="evidence-prime", daemon=True)
        self._primer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._primer is not None:
            self._primer.join(5.0)
        try:
            self.snapshots.prune(force=True)
            self.snapshots.save()
        except OSError:
            log.exception("evidence: could not save the snapshot state")

    def status(self) -> dict[str, Any]:
        return {"evidence": {**self.stats, "greens_kept": len(self.snapshots.greens)}}

    # -- the stage --------------------------------------------------------------------------
    def __call__(self, event: Event) -> Event:
        if event.kind.startswith("file.") and self.ignore_changed is not None:
            self._gitignores(event)
        if event.kind not in ("shell.command", "tests.failed", "tests.fixed"):
            return event
        began = time.perf_counter()
        try:
            if event.kind == "shell.command":
                return self._command(event)
            return self._tests(event)
        finally:
            spent = time.perf_counter() - began
            self.stats["events"] += 1
            self.stats["seconds"] += spent
            self.stats["max_s"] = max(self.stats["max_s"], spent)

    def _gitignores(self, event: Event) -> None:
        for key in ("path", "old_path"):
            path = event.data.get(key)
            if isinstance(path, str) and (path == ".gitignore" or path.endswith("/.gitignore")):
                self.ignore_changed(path.rpartition("/")[0])  # type: ignore[misc]
                self.snapshots.forget_ignores()

    def _command(self, event: Event) -> Event:
        data = event.data
        exit_code = data.get("exit_code")
        if not isinstance(exit_code, int) or isinstance(exit_code, bool) or exit_code == INTERRUPTED:
            return event
        words = split_command(str(data.get("command") or ""))
        if looks_around(words):
            return event
        key = self.redactor.redact(command_key(words, data.get("dir")))
        family = runner_family(words)
        whole = _all_key(family, data.get("dir")) if family else None
        if exit_code == 0:
            names = [(f"cmd:{key}", key, "command")]
            if family:
                names.append((family, family, "tests"))
                if whole and whole_suite(words):
                    names.append((whole, key, "tests"))
            self._green(event.ts, names)
            return event
        evidence = thaw(data.get("evidence") or {})
        failing = [str(f.get("test")) for f in evidence.get("failures") or [] if isinstance(f, dict) and f.get("test")]
        exact = [f"cmd:{key}", *(f"test:{t}" for t in failing), *([whole] if whole else [])]
        return self._with_suspects(event, self._choose(exact, [family] if family else []))

    def _tests(self, event: Event) -> Event:
        data = event.data
        tests = [str(t) for t in data.get("tests") or []]
        passed = [str(t) for t in data.get("passed") or []]
        result = event
        if event.kind == "tests.failed":
            runner = str(data.get("runner") or "")
            families = [f"tests:{runner}"] if runner else []
            families += sorted(n for n in self.snapshots.greens if n.startswith("tests:") and ":all" not in n
                               and n not in families)
            exact = [f"test:{t}" for t in tests] + ([f"tests:{runner}:all"] if runner else [])
            result = self._with_suspects(event, self._choose(exact, families))
        else:
            passed = tests + passed
        if passed:
            self._green(event.ts, [(f"test:{t}", t, "tests") for t in passed])
        return result

    # -- greens and failures ----------------------------------------------------------------
    def _green(self, ts: float, names: list[tuple[str, str, str]]) -> None:
        if not self.snapshots.workspace.is_dir():
            return  # the workspace is gone (or its disk): an empty tree is no green moment
        manifest = self.snapshots.snapshot(ts)
        for name, key, kind in names:
            self.snapshots.mark_green(name, key, kind, ts, manifest)
        self.stats["greens"] += 1
        self.snapshots.prune()
        self.snapshots.save()

    def _choose(self, exact: list[str], families: list[str]) -> Green | None:
        """The newest of the exact greens; else the newest green of the families."""
        greens = self.snapshots.greens
        found = [greens[n] for n in exact if n in greens]
        if not found:
            found = [greens[n] for n in families if n in greens]
        return max(found, key=lambda g: g.ts, default=None)

    def _with_suspects(self, event: Event, green: Green | None) -> Event:
        if green is None or not self.snapshots.workspace.is_dir():
            return event
        self.stats["failures"] += 1
        hunks, unread = suspects(self.snapshots.changes_since(green))
        data = thaw(event.data)
        evidence = data.get("evidence") if isinstance(data.get("evidence"), dict) else {}
        evidence.update(suspects=hunks, green=green.public())
        if unread:
            evidence["changed_files"] = unread
        data["evidence"] = evidence
        return event.with_data(data)
