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

Keys and which green a failure is compared with: companion.evidence.keys (and docs/evidence.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from companion.events import Event, thaw
from companion.evidence.failures import MAX_PASSED
from companion.evidence.keys import all_key, command_key, looks_around, runner_family, split_command, whole_suite
from companion.evidence.snapshots import Green, Snapshots
from companion.evidence.suspects import suspects
from companion.redact import Redactor

log = logging.getLogger(__name__)
INTERRUPTED = 130
PRIME_DELAY_S = 10.0  # priming starts this long after the daemon, and reads half the time
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
        """Fill the stat cache in the background, so the first green run costs a stat walk (after
        PRIME_DELAY_S, at half duty: a big tree's one-off read must not slow the daemon's start)."""
        def prime() -> None:
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only (Linux)
            except (AttributeError, OSError):
                pass
            if self._stop.wait(PRIME_DELAY_S):  # the daemon's own start-up (the file watcher's walk) first
                return
            try:
                began = time.monotonic()
                count = self.snapshots.prime(self._stop, duty=0.5)
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
        if event.kind in ("file.saved", "file.created", "file.moved") and isinstance(event.data.get("path"), str) \
                and not event.data.get("is_dir"):
            self.snapshots.touch(event.data["path"])
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
        passed, event = _take_passed(event)
        data = event.data
        exit_code = data.get("exit_code")
        if not isinstance(exit_code, int) or isinstance(exit_code, bool) or exit_code == INTERRUPTED:
            return event
        words = split_command(str(data.get("command") or ""))
        if looks_around(words):
            return event
        key = self.redactor.redact(command_key(words, data.get("dir")))
        family = runner_family(words)
        whole = all_key(family, data.get("dir")) if family else None
        if exit_code == 0:
            names = [(f"cmd:{key}", key, "command")]
            if family:
                names.append((family, family, "tests"))
                if whole and whole_suite(words):
                    names.append((whole, key, "tests"))
            names += [(f"test:{t}", t, "tests") for t in passed]  # the last passing run of each test id
            duration = data.get("duration_s")
            ended = event.ts + duration if isinstance(duration, (int, float)) and not isinstance(duration, bool) \
                and 0 <= duration < 7 * 86400 else None  # a shell.command's time is its start
            self._green(event.ts, names, ended)
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
    def _green(self, ts: float, names: list[tuple[str, str, str]], ended: float | None = None) -> None:
        if not self.snapshots.workspace.is_dir():
            return  # the workspace is gone (or its disk): an empty tree is no green moment
        manifest = self.snapshots.snapshot(ts, ended)
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


def _take_passed(event: Event) -> tuple[list[str], Event]:
    """The test ids a command's JUnit report says passed (`evidence.passed`, companion/shell/capture.py),
    and the event without them: they are greens to mark, not something to store with every run."""
    evidence = event.data.get("evidence")
    if not isinstance(evidence, Mapping) or "passed" not in evidence:
        return [], event
    data = thaw(event.data)
    passed = [str(t) for t in data["evidence"].pop("passed") or [] if t][:MAX_PASSED]
    if not data["evidence"]:
        del data["evidence"]
    return passed, event.with_data(data)
