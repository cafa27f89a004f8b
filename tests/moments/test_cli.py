"""`companion eval moments` as a user runs it: one JSON object with the figures, thresholds that
fail the run, a bundle that does not clone reported while the rest goes on, and Ctrl-C leaving
no process and no folder behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.moments.test_scoring import GENERIC

KEYS = {"moments", "repos", "backend", "rules", "model", "helpful_recall", "grounded", "localized", "fixed",
        "fixed_all", "false_alarm", "latency_p50_s", "latency_p95_s", "by_category"}
CATEGORY_KEYS = {"n", "surfaced", "grounded", "localized", "fixed", "false_alarm", "latency_p50_s", "latency_p95_s"}


@pytest.fixture
def short_tmp():
    """A short temporary folder: the moments' daemon sockets live below it (AF_UNIX paths are short)."""
    folder = Path(tempfile.mkdtemp(prefix="cmt", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def scripted(tmp_path: Path) -> list[str]:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([GENERIC]))
    return ["--backend", "scripted", "--set", f"agent.script={json.dumps(str(script))}",
            "--set", "general.interruption_level=5"]


@pytest.mark.timeout(900)  # four moments, each a daemon, a shell and the tests: minutes on a busy machine
def test_json_report_thresholds_export_and_a_bundle_that_does_not_clone(calc_repo, tmp_path, short_tmp, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(short_tmp))
    bad = tmp_path / "broken.bundle"
    bad.write_bytes(b"garbage")
    export = tmp_path / "labelled.jsonl"
    result = run_cli("eval", "moments", "--repo", str(bad), "--repo", str(calc_repo), "--moments", "4", "--json",
                     "--jobs", "1", "--export", str(export), "--min-helpful", "0.99", "--setup", "model_only",
                     *scripted(tmp_path),
                     cwd=tmp_path, timeout=800)
    assert result.returncode == 1, result.stderr  # helpful recall misses the threshold
    assert "helpful_recall" in result.stderr and "below --min-helpful 0.99" in result.stderr
    report = json.loads(result.stdout)
    assert KEYS <= set(report)
    failed = [(d["id"], d["error"]) for d in report["details"] if d["error"]]
    assert report["backend"] == "scripted" and report["moments"] == 4 and report["errors"] == 0, failed
    assert report["setup"] == "model_only" and report["rules"] is False and report["model_on"] is True
    broken, calc = report["repos"]
    assert not broken["ok"] and "does not clone" in broken["error"]
    assert calc["ok"] and calc["tests"] == 6 and calc["mutants"] >= 1
    assert calc["notes"][0].startswith("tests run with ") and calc["python"]  # no .venv there: $VIRTUAL_ENV or ours
    assert set(report["by_category"]) == {"regression_hook", "regression_pty", "routine_tests_pass", "typo_command"}
    details = {d["category"]: d for d in report["details"]}
    assert details["regression_pty"]["evidence"]["output_route"] == "pty"  # `companion shell` kept the output
    assert details["regression_hook"]["evidence"]["output_route"] is None
    assert details["regression_hook"]["evidence"]["failures"] >= 1  # pytest's report reached the event
    for row in report["by_category"].values():
        assert CATEGORY_KEYS <= set(row)
    assert report["by_category"]["regression_hook"]["grounded"] == 0.0  # the generic reply names nothing
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert rows and all(r["label"] == "rejected" for r in rows)
    assert {r["moment"]["category"] for r in rows} >= {"regression_hook", "typo_command"}
    assert list(short_tmp.glob("cm-*")) == []  # every moment's folder is gone (ONNX Runtime leaves its .ses)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


@pytest.mark.timeout(600)
def test_ctrl_c_stops_every_process_and_removes_every_folder(calc_repo, tmp_path, short_tmp):
    env = {**os.environ, "TMPDIR": str(short_tmp)}
    process = subprocess.Popen([sys.executable, "-m", "companion", "eval", "moments", "--repo", str(calc_repo),
                                "--moments", "2", "--jobs", "2", *scripted(tmp_path)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not list(short_tmp.glob("cm-*/*/home/run/*.sock")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            time.sleep(0.2)
        assert list(short_tmp.glob("cm-*/*/home/run/*.sock")), "no moment's daemon started"
        assert _processes_mentioning(str(short_tmp))
        process.send_signal(signal.SIGINT)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(short_tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(short_tmp)) == []
    assert list(short_tmp.glob("cm-*")) == []
