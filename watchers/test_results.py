"""Test outcomes from the test runners' own records: pytest's cache and JUnit XML reports.

Reading what the runner already writes needs no plugin and no wrapper around the user's command:
pytest keeps the ids of the failing tests in `.pytest_cache/v/cache/lastfailed` (a test leaves it
when it passes again), and most other runners (Gradle, Maven, jest-junit, go-junit-report, pytest
`--junitxml`) can write JUnit XML to the paths listed in `watch.test_reports`. A change becomes
`tests.failed` (tests failing now that did not before) and/or `tests.fixed` (tests that failed and
pass now). The file watcher ignores `.pytest_cache/`, so this watcher polls those few files itself.
Files present when the daemon first starts are a silent baseline; later runs are compared with the
last read, which is kept in the Store across restarts.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from companion.evidence import failures
from companion.evidence.failures import ReportError
from watchers.base import WatchContext, Watcher

log = logging.getLogger(__name__)
POLL_S = 1.0
RESCAN_S = 20.0
LASTFAILED = Path(".pytest_cache") / "v" / "cache" / "lastfailed"
SKIP_DIRS = {"node_modules", ".git", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache", "site-packages"}


def read_lastfailed(path: Path) -> tuple[set[str], set[str]]:
    """(failing, passing) test ids of a pytest cache; pytest's cache knows only the failing ones."""
    try:
        raw = json.loads(path.read_bytes() or b"{}")
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ReportError(f"{path}: not a JSON object")
    return {str(k) for k, v in raw.items() if v}, set()


def read_junit(path: Path, root: Path | None = None) -> tuple[set[str], set[str]]:
    """(failing, passing) test ids of a JUnit XML report; ids are `classname::name`."""
    report = failures.read_junit(path, root)
    return report.failing, report.passing


class RunnerResultsWatcher(Watcher):
    name = "test_results"

    def __init__(self, context: WatchContext, poll_s: float = POLL_S) -> None:
        super().__init__(context)
        self.poll_s = poll_s
        self.root = context.workspace
        self.workspace = str(context.workspace)
        self.patterns = list(context.config.watch.test_reports)
        self.signatures: dict[Path, tuple[int, int, int]] = {}
        self.files: list[Path] = []
        self._last_scan = 0.0
        self._baseline = True

    def run(self) -> None:
        while not self.stopping:
            try:
                self.poll()
            except Exception as exc:
                log.exception("test results poll failed")
                self.context.report_error(self.name, f"reading test results failed: {exc}")
            if self.wait(self.poll_s):
                break

    def discover(self) -> list[Path]:
        """pytest caches at the workspace root and up to two folders down, plus the configured reports."""
        found = [self.root / LASTFAILED]
        for first in _subdirs(self.root):
            found.append(first / LASTFAILED)
            found.extend(second / LASTFAILED for second in _subdirs(first))
        for pattern in self.patterns:
            try:
                found.extend(sorted(p for p in self.root.glob(pattern) if p.is_file()))
            except (OSError, ValueError) as exc:
                self.context.report_error(self.name, f"watch.test_reports: cannot use {pattern!r}: {exc}")
        return list(dict.fromkeys(found))

    def poll(self, now: float | None = None) -> int:
        """Check every known result file; returns the number of events emitted."""
        now = time.monotonic() if now is None else now
        if now - self._last_scan > RESCAN_S or not self.files:
            self.files = self.discover()
            self._last_scan = now
        emitted = 0
        for path in self.files:
            try:
                stat = path.stat()
            except OSError:
                continue
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if self.signatures.get(path) == signature:
                continue
            self.signatures[path] = signature
            emitted += self._read(path)
        self._baseline = False
        return emitted

    def rescan_now(self) -> None:
        self._last_scan = 0.0

    def _key(self, path: Path) -> str:
        return f"tests:{os.path.relpath(path, self.root)}"

    def _read(self, path: Path) -> int:
        is_pytest = path.name == "lastfailed" and path.parent.parent.parent.name == ".pytest_cache"
        details: list[dict[str, Any]] = []
        try:
            if is_pytest:
                failing, passing = read_lastfailed(path)
            else:
                report = failures.read_junit(path, self.root)
                failing, passing, details = report.failing, report.passing, report.failures
        except ReportError as exc:
            log.debug("skipping a test report for now: %s", exc)
            return 0
        store = self.context.store
        saved = store.get_state(self.workspace, self._key(path)) if store else None
        if saved is None and self._baseline:
            self._save(path, failing)
            return 0
        before = set((saved or {}).get("failing", []))
        newly = sorted(failing - before)
        fixed = sorted(before - failing) if is_pytest else sorted(before & passing)
        report = os.path.relpath(path, self.root)
        runner = "pytest" if is_pytest else "junit"
        for kind, tests in (("tests.failed", newly), ("tests.fixed", fixed)):
            if tests:
                data: dict[str, Any] = {"tests": tests, "count": len(tests), "failing": len(failing),
                                        "runner": runner, "report": report}
                if kind == "tests.failed" and details:
                    # the report's first failures, with their messages: evidence for the engine
                    data["evidence"] = failures.failures_evidence(details, len(failing))
                self.context.event("tests", kind, data)
        self._save(path, failing)
        return int(bool(newly)) + int(bool(fixed))

    def _save(self, path: Path, failing: set[str]) -> None:
        if self.context.store is not None:
            self.context.store.set_state(self.workspace, self._key(path), {"failing": sorted(failing)})


def _subdirs(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder)
                if e.is_dir(follow_symlinks=False) and not e.name.startswith(".") and e.name not in SKIP_DIRS]
    except OSError:
        return []


def create(context: WatchContext) -> Watcher | None:
    return RunnerResultsWatcher(context)
