"""Test results from the runners' own records: a real pytest run's cache and JUnit XML reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from companion.config import Config
from companion.redact import Redactor
from companion.render import render
from companion.store import Store
from tests.conftest import wait_for
from watchers.base import WatchContext
from watchers.test_results import ReportError, RunnerResultsWatcher, read_junit, read_lastfailed

SUITE = """
import os

def test_login():
    assert os.environ.get("LOGIN_OK")

def test_logout():
    assert os.environ.get("LOGOUT_OK")

def test_health():
    pass
"""


def run_pytest(folder: Path, *args: str, **env: str) -> None:
    """A real pytest run; without third-party plugins (cache and junitxml are built in), for speed."""
    subprocess.run([sys.executable, "-m", "pytest", "-q", *args], cwd=folder, capture_output=True, timeout=120,
                   env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1", **env})


class Collected:
    def __init__(self, workspace: Path, reports: list[str] | None = None, store: Store | None = None) -> None:
        self.events: list = []
        config = Config()
        config.watch.test_reports = reports or []
        self.store = store or Store()
        self.context = WatchContext(workspace=workspace, config=config, emit=self.events.append,
                                    redactor=Redactor(), store=self.store)

    def kinds(self) -> list[tuple[str, list[str]]]:
        return [(e.kind, list(e.data["tests"])) for e in self.events]


def junit(path: Path, cases: dict[str, str]) -> None:
    body = []
    for name, outcome in cases.items():
        inner = {"fail": "<failure message='boom'>trace</failure>", "error": "<error message='x'/>",
                 "skip": "<skipped/>", "pass": ""}[outcome]
        body.append(f'<testcase classname="com.shop.CartTest" name="{name}" time="0.1">{inner}</testcase>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="cart">{"".join(body)}</testsuite></testsuites>')


def test_pytest_cache_gives_newly_failing_and_fixed_tests(workspace):
    (workspace / "test_app.py").write_text(SUITE)
    collected = Collected(workspace)
    watcher = RunnerResultsWatcher(collected.context)
    watcher.poll()  # baseline: no cache yet
    run_pytest(workspace)
    watcher.rescan_now()
    watcher.poll()
    run_pytest(workspace, LOGIN_OK="1")
    watcher.poll()
    run_pytest(workspace, LOGIN_OK="1", LOGOUT_OK="1")
    watcher.poll()
    assert collected.kinds() == [
        ("tests.failed", ["test_app.py::test_login", "test_app.py::test_logout"]),
        ("tests.fixed", ["test_app.py::test_login"]),
        ("tests.fixed", ["test_app.py::test_logout"]),
    ]
    assert collected.events[0].source == "tests" and collected.events[0].data["runner"] == "pytest"
    assert render(collected.events[1]) == "Tests fixed (pytest): `test_app.py::test_login`; 1 test fails now."
    assert render(collected.events[2]).endswith("no test fails now.")


def test_a_cache_present_at_start_is_a_silent_baseline_and_state_survives_restarts(workspace):
    (workspace / "test_app.py").write_text(SUITE)
    run_pytest(workspace)
    store = Store()
    first = Collected(workspace, store=store)
    RunnerResultsWatcher(first.context).poll()
    assert first.events == []
    run_pytest(workspace, LOGIN_OK="1")  # while no daemon runs
    second = Collected(workspace, store=store)
    RunnerResultsWatcher(second.context).poll()
    assert second.kinds() == [("tests.fixed", ["test_app.py::test_login"])]


def test_nested_project_caches_are_found(workspace):
    project = workspace / "services" / "api"
    project.mkdir(parents=True)
    (project / "test_api.py").write_text("def test_down():\n    assert False\n")
    collected = Collected(workspace)
    watcher = RunnerResultsWatcher(collected.context)
    watcher.poll()
    run_pytest(project)
    watcher.rescan_now()
    watcher.poll()
    assert collected.kinds() == [("tests.failed", ["test_api.py::test_down"])]
    assert collected.events[0].data["report"] == "services/api/.pytest_cache/v/cache/lastfailed"


def test_junit_reports_from_configured_globs(workspace):
    collected = Collected(workspace, reports=["build/test-results/**/*.xml", "junit.xml"])
    watcher = RunnerResultsWatcher(collected.context)
    watcher.poll()
    report = workspace / "build" / "test-results" / "test" / "TEST-CartTest.xml"
    junit(report, {"addsItem": "pass", "total": "fail", "discount": "error", "legacy": "skip"})
    watcher.rescan_now()
    watcher.poll()
    junit(report, {"addsItem": "fail", "total": "pass", "discount": "error", "legacy": "skip"})
    os.utime(report, ns=(1, 2))  # a new run, even within the same clock tick
    watcher.poll()
    assert collected.kinds() == [
        ("tests.failed", ["com.shop.CartTest::discount", "com.shop.CartTest::total"]),
        ("tests.failed", ["com.shop.CartTest::addsItem"]),
        ("tests.fixed", ["com.shop.CartTest::total"]),
    ]
    assert collected.events[1].data["runner"] == "junit"
    assert collected.events[1].data["report"] == "build/test-results/test/TEST-CartTest.xml"
    evidence = collected.events[1].data["evidence"]  # the report's failures, with their messages
    assert evidence["failure_count"] == 2
    assert [(f["test"], f["message"]) for f in evidence["failures"]] == [
        ("com.shop.CartTest::addsItem", "boom"), ("com.shop.CartTest::discount", "x")]


def test_half_written_or_foreign_files_are_skipped_until_they_are_valid(workspace):
    collected = Collected(workspace, reports=["junit.xml"])
    watcher = RunnerResultsWatcher(collected.context)
    watcher.poll()
    report = workspace / "junit.xml"
    report.write_text('<?xml version="1.0"?><testsuite><testcase name="a"><failure/>')
    watcher.rescan_now()
    assert watcher.poll() == 0
    junit(report, {"a": "fail"})
    watcher.poll()
    assert collected.kinds() == [("tests.failed", ["com.shop.CartTest::a"])]
    cache = workspace / ".pytest_cache" / "v" / "cache" / "lastfailed"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"\xff not json")
    for reader, path in ((read_lastfailed, cache), (read_junit, workspace / "missing.xml")):
        try:
            reader(path)
        except ReportError as exc:
            assert str(path) in str(exc)
        else:
            raise AssertionError("expected a ReportError")


def test_the_daemon_reports_a_real_pytest_run(workspace, daemon_factory):
    (workspace / "test_app.py").write_text(SUITE)
    daemon = daemon_factory(workspace)
    assert "test_results" in [w.name for w in daemon.watchers]
    run_pytest(workspace, LOGIN_OK="1")
    wait_for(lambda: daemon.store.events(kinds=["tests.failed"], workspace=str(workspace)), timeout=15)
    (event,) = daemon.store.events(kinds=["tests.failed"], workspace=str(workspace))
    assert list(event.data["tests"]) == ["test_app.py::test_logout"] and event.source == "tests"
