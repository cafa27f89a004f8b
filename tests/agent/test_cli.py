"""The command line end to end: a real detached daemon started by the client, a scripted model,
real commands reported through the daemon's socket, and outcomes that go through the daemon."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from companion import paths
from companion.ipc import Client, IpcError
from tests.conftest import run_cli, wait_for
from tests.engine.conftest import FAILING, reply, run_command

DIFF = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"


@pytest.fixture
def scripted(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([reply("Fix add() in calc.py", DIFF, "edit", path="calc.py"),
                                  reply("Install the missing module", "pip install nothing-here", "run_command")]))
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "true")
    monkeypatch.setenv("COMPANION_AGENT_BACKEND", "scripted")
    monkeypatch.setenv("COMPANION_AGENT_SCRIPT", str(script))
    monkeypatch.setenv("COMPANION_ENGINE_COOLDOWN_S", "0")
    yield repo
    try:
        with Client(paths.socket_file(repo), timeout=5) as client:
            client.request("shutdown")
        wait_for(lambda: not paths.socket_file(repo).exists(), timeout=15)
    except IpcError:
        pass


def emit(repo: Path, command: str) -> None:
    event = {"source": "shell", "kind": "shell.command", "data": run_command(repo, command)}
    with Client(paths.socket_file(repo), timeout=10) as client:
        client.request("emit", events=[event], wait=True)


def test_suggest_starts_the_daemon_and_accept_applies_the_patch(scripted: Path) -> None:
    repo = scripted
    nothing = json.loads(run_cli("suggest", str(repo), "--once", "--json").stdout)
    assert nothing["proposal"] is None and nothing["note"] == "no events recorded yet"
    emit(repo, "ls")  # a command that worked: no trigger, but an event to look at
    done = run_cli("suggest", str(repo), "--once", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    proposal = result["proposal"]
    assert proposal["task"] == "Fix add() in calc.py" and proposal["operation"] == "edit"
    assert proposal["trigger"] == "manual" and proposal["path"] == "calc.py"
    if proposal["score"] is not None:
        assert proposal["surfaced"] == (proposal["score"] >= result["threshold"])
    listed = json.loads(run_cli("suggestions", str(repo), "--all", "--json").stdout)["proposals"]
    assert [p["id"] for p in listed] == [proposal["id"]]
    assert (repo / "calc.py").read_text().endswith("a - b\n")  # nothing applied before the accept
    accepted = run_cli("accept", proposal["id"][:6])
    assert accepted.returncode == 0, accepted.stderr
    assert "patched" in accepted.stdout and (repo / "calc.py").read_text().endswith("a + b\n")
    again = run_cli("accept", proposal["id"])
    assert again.returncode == 2 and "already accepted" in again.stderr


def test_a_failing_command_becomes_a_proposal_the_user_can_reject(scripted: Path) -> None:
    repo = scripted
    assert run_cli("run", str(repo), "--detach").returncode == 0
    emit(repo, "true")
    emit(repo, FAILING)

    def stored() -> list[dict]:
        listed = json.loads(run_cli("suggestions", str(repo), "--all", "--json").stdout)["proposals"]
        return [p for p in listed if p["trigger"] == "failed_command"]

    proposal = wait_for(stored, timeout=60)[0]
    # the quick-fix rule answers at once (the model's later "Fix add()" matches none of its candidates)
    assert proposal["task"] == "Install the missing package no_such_module_here"
    assert proposal["rule"] == "imports.python_missing" and proposal["operation"] == "run_command"
    assert "No module named 'no_such_module_here'" in proposal["evidence"]["output_lines"][0]
    shown = run_cli("suggestions", str(repo), "--all").stdout
    assert "why: output: ModuleNotFoundError: No module named 'no_such_module_here'" in shown
    assert "rule: imports.python_missing" in shown
    rejected = run_cli("reject", proposal["id"], "--json")
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["proposal"]["status"] == "rejected"
    assert (repo / "calc.py").read_text().endswith("a - b\n")  # a rejected patch is never applied


def test_accepting_a_command_prints_it_and_runs_nothing(scripted: Path, tmp_path: Path) -> None:
    repo = scripted
    script = tmp_path / "replies.json"
    marker = tmp_path / "ran"
    script.write_text(json.dumps([reply("Install the missing module", f"touch {marker}", "run_command")]))
    assert run_cli("run", str(repo), "--detach").returncode == 0
    emit(repo, "ls")
    proposal = json.loads(run_cli("suggest", str(repo), "--once", "--json").stdout)["proposal"]
    accepted = run_cli("accept", proposal["id"])
    assert accepted.returncode == 0, accepted.stderr
    assert f"run it yourself: touch {marker}" in accepted.stdout and not marker.exists()


def test_user_errors_are_clear(scripted: Path) -> None:
    missing = run_cli("accept", "nonexistent")
    assert missing.returncode == 2 and "no proposal with id" in missing.stderr
    bad = run_cli("pause", "soon", str(scripted))
    assert bad.returncode == 2 and "cannot read duration" in bad.stderr
