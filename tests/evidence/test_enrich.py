"""The enrichment stage in a real pipeline with a real store: which runs are green, which green a
failure is compared with, evidence from capture kept, and a failing stage never loses the event."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from companion.events import Event, thaw
from companion.evidence.enrich import Enricher
from companion.evidence.keys import command_key, looks_around, runner_family, split_command
from companion.pipeline import Pipeline
from companion.proposals import Outcome, Proposal
from companion.redact import Redactor
from companion.render import render
from companion.store import Store
from training.dataset import export


@pytest.mark.parametrize("command, family", [
    ("pytest -x tests/test_a.py", "tests:pytest"),
    ("python3 -m pytest -q", "tests:pytest"),
    ("PYTHONPATH=src uv run pytest", "tests:pytest"),
    ("time py.test", "tests:pytest"),
    ("npm test", "tests:npm test"),
    ("npm run test -- --watch=false", "tests:npm test"),
    ("cargo test --release", "tests:cargo test"),
    ("go test ./...", "tests:go test"),
    ("make test", "tests:make test"),
    ("npx jest api", "tests:jest"),
    ("tox -e py311", "tests:tox"),
    ("python benchmark/run.py", None),
    ("make build", None),
    ("npm install", None),
])
def test_test_runner_families(command: str, family: str | None) -> None:
    assert runner_family(split_command(command)) == family


def test_command_keys_normalize_spacing_assignments_and_folder() -> None:
    assert command_key(split_command("FOO=1  python   -m pytest  -q"), ".") == "python -m pytest -q"
    assert command_key(split_command("pytest 'tests/a b.py'"), "api") == "pytest tests/a b.py (in api/)"
    assert command_key(split_command("echo 'unbalanced"), None) == "echo 'unbalanced"
    assert looks_around(split_command("git status -s")) and looks_around(split_command("cd src"))
    assert looks_around(split_command("git commit -m x")) and not looks_around(split_command("./build.sh"))


@pytest.mark.parametrize("command, whole", [
    ("pytest", True), ("python -m pytest -q -x", True), ("npm test", True), ("cargo test --release", True),
    ("pytest tests/test_a.py", False), ("pytest -k parse", False), ("pytest -kparse", False),
    ("pytest --lf", False), ("pytest --deselect=tests/a.py::x", False), ("npx jest -t login", False),
    ("cargo test parser", False), ("go test ./...", False), ("pytest -n 4", False), ("make build", False),
])
def test_whole_suite_runs_are_told_apart(command: str, whole: bool) -> None:
    from companion.evidence.keys import whole_suite

    assert whole_suite(split_command(command)) is whole


class Rig:
    """A real pipeline and store with the enrichment stage, on a real folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.ws = tmp_path / "ws"
        self.ws.mkdir()
        self.redactor = Redactor()
        self.store = Store(tmp_path / "db.sqlite")
        self.enricher = Enricher.for_workspace(self.ws, tmp_path / "evidence", self.redactor)
        self.pipeline = Pipeline(self.store, self.redactor, enrich=self.enricher)
        self.pipeline.start()

    def emit(self, kind: str, data: dict, source: str = "shell") -> Event:
        event = Event(source=source, kind=kind, workspace=str(self.ws), data=data)
        self.pipeline.submit(event)
        assert self.pipeline.flush()
        return self.store.events(ids=[event.id])[0]

    def command(self, command: str, exit_code: int | None, **extra) -> Event:
        return self.emit("shell.command", {"command": command, "exit_code": exit_code, "dir": ".", **extra})

    def write(self, name: str, text: str) -> None:
        path = self.ws / name
        path.write_text(text)
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10_000_000))

    def close(self) -> None:
        self.pipeline.stop()
        self.enricher.stop()
        self.store.close()


@pytest.fixture
def rig(tmp_path: Path):
    made = Rig(tmp_path)
    yield made
    made.close()


def test_the_same_command_first_then_its_tests_family(rig: Rig) -> None:
    rig.write("app.py", "x = 1\ny = 2\n")
    rig.command("pytest tests/test_b.py", 0)  # family green first
    rig.write("app.py", "x = 10\ny = 2\n")
    rig.command("pytest tests/test_a.py", 0)  # then the same command's own green
    rig.write("app.py", "x = 10\ny = 20\n")
    own = thaw(rig.command("pytest tests/test_a.py", 1).data)["evidence"]
    assert own["green"]["key"] == "pytest tests/test_a.py" and own["green"]["kind"] == "command"
    assert [(s["line"], s["added"]) for s in own["suspects"]] == [(2, ["y = 20"])]
    other = thaw(rig.command("pytest -x", 1).data)["evidence"]  # never green itself: the family's last green
    assert other["green"]["key"] == "tests:pytest"  # (any pytest run that passed: the test_a.py one)
    assert [(s["line"], s["added"]) for s in other["suspects"]] == [(2, ["y = 20"])]
    rig.write("app.py", "x = 1\ny = 2\n")
    rig.command("pytest tests/test_b.py", 0)
    rig.write("app.py", "x = 1\ny = 3\n")
    again = thaw(rig.command("pytest tests/test_a.py", 1).data)["evidence"]  # its own green, older than the family's
    assert again["green"]["key"] == "pytest tests/test_a.py"
    assert [(s["line"], s["removed"], s["added"]) for s in again["suspects"]] == [(1, ["x = 10", "y = 2"], ["x = 1", "y = 3"])]


def test_a_later_whole_suite_run_is_a_newer_green_for_a_narrow_command(rig: Rig) -> None:
    rig.write("app.py", "x = 1\ny = 2\n")
    rig.command("pytest tests/test_a.py", 0)
    rig.write("app.py", "x = 10\ny = 2\n")
    rig.command("pytest -q", 0, dir="api")  # another folder's whole suite does not count here
    rig.command("pytest -q", 0)  # every test passed with x = 10
    rig.write("app.py", "x = 10\ny = 20\n")
    evidence = thaw(rig.command("pytest tests/test_a.py", 1).data)["evidence"]
    assert evidence["green"]["key"] == "pytest -q" and evidence["green"]["kind"] == "tests"
    assert [(s["line"], s["added"]) for s in evidence["suspects"]] == [(2, ["y = 20"])]
    tests_failed = rig.emit("tests.failed", {"tests": ["tests/test_a.py::test_x"], "runner": "pytest"}, source="tests")
    assert thaw(tests_failed.data)["evidence"]["green"]["key"] == "pytest -q"


def test_a_command_that_never_succeeded_and_unknown_outcomes_get_no_suspects(rig: Rig) -> None:
    rig.write("app.py", "x = 1\n")
    rig.command("python app.py", 0)
    rig.write("app.py", "x = 2\n")
    assert "evidence" not in rig.command("python other.py", 1).data
    assert "evidence" not in rig.command("python app.py", None, origin="history").data
    assert "evidence" not in rig.command("python app.py", 130).data  # Ctrl-C is no failure
    assert "evidence" not in rig.command("cat missing.txt", 1).data  # looking around
    failed = rig.command("python app.py", 2)
    assert [s["line"] for s in thaw(failed.data)["evidence"]["suspects"]] == [1]


def test_nothing_changed_is_said_too(rig: Rig) -> None:
    rig.write("app.py", "x = 1\n")
    rig.command("./run.sh", 0)
    failed = rig.command("./run.sh", 1)
    assert thaw(failed.data)["evidence"]["suspects"] == []
    assert render(failed).endswith("it failed (exit 1). Nothing in the workspace changed since it last succeeded.")


def test_capture_evidence_is_kept_and_test_ids_choose_their_green(rig: Rig) -> None:
    rig.write("src.py", "A = 1\nB = 2\n")
    rig.emit("tests.fixed", {"tests": ["tests/test_s.py::test_b"], "runner": "pytest"}, source="tests")
    rig.write("src.py", "A = 1\nB = 3\n")
    failures = [{"test": "tests/test_s.py::test_b", "message": "assert 3 == 2", "path": "tests/test_s.py", "line": 4}]
    failed = rig.command("python -m pytest -q", 1, evidence={"failures": failures, "failure_count": 1,
                                                             "output": {"tail": "E   assert 3 == 2\n1 failed", "lines": 2}})
    evidence = thaw(failed.data)["evidence"]
    assert evidence["failures"] == failures and evidence["output"]["lines"] == 2
    assert evidence["green"]["key"] == "tests/test_s.py::test_b"
    assert render(failed) == (
        "The user ran `python -m pytest -q` in the workspace root; it failed (exit 1): "
        "`tests/test_s.py::test_b` — assert 3 == 2 (tests/test_s.py:4). "
        "Since the last passing run, `src.py` line 2 changed: `B = 2` → `B = 3`.")


def test_secrets_in_suspects_are_redacted_in_the_store(rig: Rig) -> None:
    secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    rig.write("conf.py", "URL = 'x'\n")
    rig.command("make", 0)
    rig.write("conf.py", f"URL = 'x'\nTOKEN = '{secret}'\n")
    failed = rig.command("make", 2)
    assert secret not in failed.data_json() and "[REDACTED" in failed.data_json()


def test_a_failing_stage_keeps_the_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")

    def broken(event: Event) -> Event:
        raise RuntimeError("boom")

    pipeline = Pipeline(store, Redactor(), enrich=broken)
    pipeline.start()
    event = Event(source="shell", kind="shell.command", workspace="w", data={"command": "make", "exit_code": 1})
    pipeline.submit(event)
    assert pipeline.flush()
    assert store.events(ids=[event.id])[0].data["command"] == "make"
    pipeline.stop()
    store.close()


def test_exported_training_data_carries_the_evidence(rig: Rig, tmp_path: Path) -> None:
    rig.write("lib.py", "def f():\n    return 1\n")
    rig.command("python -m pytest", 0)
    rig.write("lib.py", "def f():\n    return 2\n")
    failed = rig.command("python -m pytest", 1)
    proposal = Proposal(task="Revert the change to lib.py line 2", response="return 1", operation="edit",
                        event_ids=[failed.id], workspace=str(rig.ws), path="lib.py", line=2)
    rig.store.save_proposal(proposal)
    rig.store.record_outcome(Outcome(proposal_id=proposal.id, outcome="accepted", answer_s=3.0, via="cli"))
    export(tmp_path / "out", str(rig.ws), rig.store)
    [row] = [json.loads(line) for line in (tmp_path / "out" / "reward.jsonl").read_text().splitlines()]
    assert "`lib.py` line 2 changed: `return 1` → `return 2`" in row["obs"][-1]["event"]
    [evidence] = row["evidence"]
    assert evidence["event_id"] == failed.id and evidence["suspects"][0]["line"] == 2
    [example] = [json.loads(line) for line in (tmp_path / "out" / "agent.jsonl").read_text().splitlines()]
    assert example["evidence"][0]["green"]["kind"] == "command"
    assert "line 2 changed" in example["messages"][1]["content"]


def test_a_changed_gitignore_is_read_again(tmp_path: Path) -> None:
    from watchers.ignore import IgnoreRules

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("x = 1\n")
    rules = IgnoreRules(ws)
    redactor = Redactor()
    enricher = Enricher.for_workspace(ws, tmp_path / "evidence", redactor, rules.is_ignored,
                                      ignore_changed=rules.forget_folder)

    def event(kind: str, data: dict) -> Event:
        return enricher(Event(source=kind.split(".")[0], kind=kind, workspace=str(ws), data=data))

    event("shell.command", {"command": "make", "exit_code": 0, "dir": "."})
    (ws / "build.log").write_text("noise\n")
    (ws / ".gitignore").write_text("*.log\n")
    event("file.created", {"path": ".gitignore"})
    failed = thaw(event("shell.command", {"command": "make", "exit_code": 2, "dir": "."}).data)["evidence"]
    assert [s["path"] for s in failed["suspects"]] == [".gitignore"]
