"""The engine with the quick-fix rules on: rules answer at once, the model refines in place, routine
moments stay silent, and the evidence reaches the gate and the prompt."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from companion.client import connect
from tests.conftest import wait_for
from tests.engine.conftest import FAILING, emit_command, reply, save_file

CHOSEN = reply("Install the missing package no_such_module_here", "", "run_command",
               thoughts="The script imports no_such_module_here, which is not installed in this Python.")


def proposals(daemon):
    return daemon.store.proposals(workspace=str(daemon.workspace))


def test_the_rules_answer_before_the_model_and_the_model_refines_in_place(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [{"sleep": 2.0, "then": CHOSEN}], quickfix__enabled=True)
    pushed: queue.Queue[dict] = queue.Queue()
    with connect(repo, start=False, on_message=pushed.put) as client:
        client.request("subscribe", topics=["proposal"])
        emit_command(daemon, repo, FAILING)
        first = wait_for(lambda: proposals(daemon), timeout=10)[0]
        assert not backend.calls or engine.proposer.agent.busy  # offered while the model still thinks
        assert first.rule == "imports.python_missing" and first.surfaced and first.backend == "rules"
        assert first.task == "Install the missing package no_such_module_here" and first.confidence == 0.75
        assert first.response.endswith("-m pip install no_such_module_here")
        assert "No module named 'no_such_module_here'" in first.evidence["output_lines"][0]
        assert "rule: imports.python_missing" in first.thoughts
        wait_for(lambda: engine.stats.get("updated") == 1, timeout=15)
        changes = [pushed.get(timeout=5)["change"], pushed.get(timeout=5)["change"]]
    [again] = proposals(daemon)  # one proposal, improved in place: not sent twice
    assert again.id == first.id and changes == ["new", "updated"]
    assert again.thoughts == "The script imports no_such_module_here, which is not installed in this Python."
    assert again.rule == "imports.python_missing" and again.response == first.response
    prompt = backend.calls[0][-1]["content"]
    assert "Candidate help:\n1. [run_command] Install the missing package no_such_module_here" in prompt
    scored = [obs for obs, task in gate.calls if task == first.task][0]
    assert scored[-1]["event"].startswith("Evidence: output: ModuleNotFoundError")  # the gate sees the evidence


def test_a_model_that_picks_nothing_leaves_the_rules_proposal(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Help with this task right now.", "Sure.")],
                                                   quickfix__enabled=True)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: engine.stats["steps"] == 1, timeout=10)
    [only] = proposals(daemon)
    assert only.rule == "imports.python_missing" and only.surfaced


def test_rules_work_without_any_model(repo: Path, daemon_factory) -> None:
    from companion.agent.backends import BackendUnavailable
    from companion.config import load_config
    from companion.engine.engine import Engine

    def down():
        raise BackendUnavailable("the model is not installed")

    config = load_config(repo)
    daemon = daemon_factory(repo, config=config, services=False)
    engine = Engine(daemon, backend_factory=down, gate=None)
    engine.start()
    daemon.services.append(engine)
    started = time.monotonic()
    emit_command(daemon, repo, "gti status")
    [proposal] = wait_for(lambda: proposals(daemon), timeout=10)
    assert proposal.rule == "commands.not_found" and proposal.response == "git status" and proposal.surfaced
    assert time.monotonic() - started < 10 and engine.status()["engine"]["rules"]["off"] == {}


def test_routine_moments_stay_silent(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the formatting of app.py", "Run black.")],
                                                   quickfix__enabled=True, engine__idle_s=0.3)
    emit_command(daemon, repo, "true")
    emit_command(daemon, repo, "git status")
    save_file(daemon, repo, "app.py", "x = 1  # TODO: later\n", todos_added=["TODO: later"])
    for i in range(3):
        save_file(daemon, repo, "app.py", f"x = {i}\n")
    time.sleep(1.5)  # past the idle pause: with idle_trigger off (the default) nothing wakes the agent
    daemon.pipeline.flush()
    assert engine.stats["triggers"] == 0 and backend.calls == [] and proposals(daemon) == []


def _pytest_event(daemon, root: Path, report: Path):
    """Run real pytest and report it the way the shell hook and capture do: output tail + JUnit failures."""
    import subprocess
    import sys

    from companion.evidence.failures import failures_evidence, read_junit
    from companion.evidence.output import output_evidence
    from companion.events import Event

    command = f"{sys.executable} -m pytest -q -p no:cacheprovider tests --junitxml={report.name} -o junit_family=xunit1"
    done = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True, timeout=120)
    evidence: dict = {"output": output_evidence(done.stdout + done.stderr, "pty")}
    if done.returncode:
        parsed = read_junit(report, root)
        evidence.update(failures_evidence(parsed.failures, parsed.failure_count))
    event = Event(source="shell", kind="shell.command", workspace=str(daemon.workspace),
                  data={"command": command, "cwd": str(root), "dir": ".", "exit_code": done.returncode,
                        "duration_s": 1.0, "evidence": evidence})
    daemon.submit(event)
    return done.returncode


def test_a_regression_end_to_end_the_enricher_finds_the_suspect_and_accepting_the_revert_fixes_it(
        repo: Path, engine_factory) -> None:
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_calc.py").write_text("from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
                                                 "\n\ndef test_sub():\n    assert sub(3, 1) == 2\n")
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    daemon, engine, backend, gate = engine_factory(repo, [reply(None)], quickfix__enabled=True)
    assert _pytest_event(daemon, repo, repo / "report.xml") == 0  # green: the enricher keeps a snapshot
    daemon.pipeline.flush()
    (repo / "calc.py").write_text("def add(a, b):\n    return a * b + 1\n\n\ndef sub(a, b):\n    return a - b\n")
    assert _pytest_event(daemon, repo, repo / "report.xml") == 1
    proposal = wait_for(lambda: proposals(daemon), timeout=20)[0]
    assert proposal.rule == "regression.revert" and proposal.operation == "edit" and proposal.surfaced
    assert (proposal.path, proposal.line) == ("calc.py", 2)
    assert proposal.task == "Revert the change to calc.py line 2 that broke test_add"
    assert proposal.evidence["failure"]["test"].endswith("test_add") and proposal.evidence["suspect"]["path"] == "calc.py"
    with connect(repo, start=False) as client:
        answered = client.request("outcome", proposal_id=proposal.id, outcome="accepted", via="test")
    assert answered["proposal"]["status"] == "accepted"
    assert (repo / "calc.py").read_text().startswith("def add(a, b):\n    return a + b\n")
    assert _pytest_event(daemon, repo, repo / "report2.xml") == 0  # the accepted revert fixed the tests
    from companion.gate.user_rows import reward_rows

    [row] = reward_rows(daemon.store, str(daemon.workspace))  # the gate's training row: what it saw at run time
    assert row["valid"] and row["obs"][-1]["event"].startswith("Evidence: tests/test_calc.py::test_add failed")
    assert row["obs"][-1]["event"].endswith("rule: regression.revert")


def test_the_rules_never_wait_for_a_busy_model(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [{"sleep": 6.0, "then": reply(None)}, reply(None)],
                                                   quickfix__enabled=True, engine__cooldown_s=0.0)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: proposals(daemon) and engine.proposer.agent is not None and engine.proposer.agent.busy, timeout=10)
    (repo / "data").mkdir()
    (repo / "data" / "input.txt").write_text("x\n")
    emit_command(daemon, repo, "cat data/inptu.txt")
    found = wait_for(lambda: [p for p in proposals(daemon) if p.rule == "files.no_such_file"], timeout=5)
    assert found[0].response == "cat data/input.txt"
    assert engine.proposer.agent.busy  # answered while the model was still thinking about the first failure


def test_a_surer_rule_proposal_moments_later_replaces_the_open_one_in_place(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply(None)], quickfix__enabled=True,
                                                   engine__cooldown_s=120.0)
    (repo / "app.py").write_text("def load(d):\n    return d['key']\n\n\nprint(load({}))\n")
    emit_command(daemon, repo, "python3 app.py")
    [first] = wait_for(lambda: proposals(daemon), timeout=10)
    assert first.rule == "traceback.frame" and first.path == "app.py" and first.line == 2
    emit_command(daemon, repo, "gti status")  # surer (0.7 > 0.65): it takes the open proposal's place
    wait_for(lambda: proposals(daemon)[0].rule == "commands.not_found", timeout=10)
    [only] = proposals(daemon)
    assert only.id == first.id and only.response == "git status" and only.surfaced
