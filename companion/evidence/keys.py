"""Which runs count as "the same" for "since it last worked": the keys of green runs.

Keys (documented in docs/evidence.md):
- command key: the command line split like a shell would, leading `NAME=value` assignments and
  `time`/`command`/`nohup`/`exec` dropped, words joined by one space, plus the folder it ran in
  when that is not the workspace root; redacted (keys are kept on disk);
- tests family: `tests:<runner>` for a run of a test runner (pytest, tox, jest, `go test`,
  `cargo test`, `npm test`, `make test`, …, also behind `python -m`, `uv run`, `npx`, …), so any
  successful run of the same runner counts;
- test ids: `test:<node id>`;
- whole-suite runs: `tests:<runner>:all` (per folder) for a successful test command without
  paths, names or selecting options (`pytest -q`, `npm test`), which passed every test.
Which green a failure is compared with (companion.evidence.enrich): the newest of the failing tests' own last passes, the
same command's last success and its runner's last whole-suite run in the same folder; when none
exists, the last success of its tests family (any run of the runner).

Commands that only look around (cd, ls, cat, editors, …) and git commands are neither greens nor
failures worth suspects: they cost nothing.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Any, Iterable

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


def all_key(family: str, directory: Any) -> str:
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
