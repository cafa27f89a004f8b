"""The engine in a real daemon: triggers, the gate, storage, expiry, accepting patches."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from companion.ipc import Client
from companion.proposals import Outcome
from tests.conftest import wait_for
from tests.engine.conftest import FAILING, emit_command, reply, save_file


def proposals(daemon):
    return daemon.store.proposals(workspace=str(daemon.workspace))


def test_a_failed_command_gives_a_gated_stored_proposal(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Install no_such_module_here", "pip install x",
                                                                 "run_command")])
    emit_command(daemon, repo, "true")  # a command that worked: nothing to say
    event = emit_command(daemon, repo, FAILING)
    found = wait_for(lambda: proposals(daemon))
    proposal = found[0]
    assert proposal.task == "Install no_such_module_here" and proposal.operation == "run_command"
    assert proposal.response == "pip install x" and proposal.score == 0.9
    assert proposal.surfaced and proposal.status == "open" and proposal.trigger == "failed_command"
    assert proposal.event_ids[0] == event.id and proposal.backend == "scripted"
    assert len(backend.calls) == 1  # the successful command did not call the model
    prompt = backend.calls[0][-1]["content"]
    assert "no_such_module_here" in prompt and prompt.index("ran `true`") < prompt.index("no_such_module_here")
    assert gate.calls and gate.calls[-1][1] == "Install no_such_module_here"


def test_the_gate_keeps_unlikely_proposals_silent(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Tell a joke about no_such_module_here", "Why?")])
    emit_command(daemon, repo, FAILING)
    proposal = wait_for(lambda: proposals(daemon))[0]
    assert proposal.status == "silent" and not proposal.surfaced and proposal.score == 0.1
    assert proposal.evidence == {"grounded_on": ["no_such_module_here"]} and proposal.rule is None


def test_a_generic_model_task_is_dropped_with_the_reason_stored(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Help with this task right now.", "Sure."),
                                                         reply("Open src/missing.py to fix no_such_module_here", "",
                                                               "explain")])
    emit_command(daemon, repo, FAILING)
    first = wait_for(lambda: proposals(daemon))[0]
    assert not first.surfaced and first.status == "silent" and first.score is None  # never reached the gate
    assert first.evidence["dropped"].startswith("generic: it names no file, test, command or symbol")
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: len(proposals(daemon)) == 2)
    second = [p for p in proposals(daemon) if p.id != first.id][0]
    assert not second.surfaced and "src/missing.py, which does not exist" in second.evidence["dropped"]


def test_garbage_and_null_replies_offer_nothing(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, ["I am a small model ]]]", reply(None, ""), "{'broken"])
    for _ in range(3):
        emit_command(daemon, repo, FAILING)
        time.sleep(0.05)
    wait_for(lambda: engine.stats["steps"] >= 1 and not engine._queue.qsize(), timeout=10)
    time.sleep(0.3)
    assert proposals(daemon) == []
    assert daemon.store.count_events(str(daemon.workspace)) >= 3  # the daemon still records everything


def test_a_new_todo_and_a_dependency_file_trigger_with_the_focused_lines(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Resolve the TODO in app.py", "Handle None."),
                                                         reply("Fix the dependency pin in requirements.txt", "Pin it.")])
    text = "".join(f"line {i}\n" for i in range(1, 30)) + "x = None  # TODO: handle None\n" + "end\n"
    engine.rules.todos = True  # [engine] todo_trigger = true (off by default: routine moments stay silent)
    save_file(daemon, repo, "app.py", text, todos_added=["TODO: handle None"])
    wait_for(lambda: len(proposals(daemon)) == 1)
    prompt = backend.calls[0][-1]["content"]
    assert "Focused file `app.py`" in prompt and "   30 | x = None  # TODO: handle None" in prompt
    save_file(daemon, repo, "requirements.txt", "requests==2.0\n")
    wait_for(lambda: len(proposals(daemon)) == 2)
    assert {p.trigger for p in proposals(daemon)} == {"todo_added", "dependency_changed"}


def test_plain_saves_wait_for_the_pause_after_the_burst(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the formatting of app.py", "Run black.")],
                                                   engine__idle_s=0.6, engine__idle_trigger=True)
    for i in range(4):
        save_file(daemon, repo, "app.py", f"x = {i}\n")
        time.sleep(0.1)
    assert backend.calls == []  # still editing
    wait_for(lambda: proposals(daemon), timeout=10)
    time.sleep(1.0)
    assert len(backend.calls) == 1 and proposals(daemon)[0].trigger == "idle_after_edits"


def test_unanswered_proposals_expire_to_ignored(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the import of no_such_module_here", "Add it.")], engine__expire_s=0.5)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: proposals(daemon) and proposals(daemon)[0].status == "ignored", timeout=10)
    answers = daemon.store.outcomes(workspace=str(daemon.workspace))
    assert [(o.outcome, o.via) for _, o in answers] == [("ignored", "expiry")]


DIFF = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"


def test_accepting_an_edit_applies_the_patch_only_then(repo: Path, engine_factory) -> None:
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix add() in calc.py", DIFF, "edit", path="calc.py")])
    emit_command(daemon, repo, f"{FAILING} # calc.py:2")
    proposal = wait_for(lambda: proposals(daemon))[0]
    assert proposal.operation == "edit" and (repo / "calc.py").read_text().endswith("a - b\n")
    with Client(daemon.socket_path) as client:
        answered = client.request("outcome", proposal_id=proposal.id, outcome="accepted", via="test")
    assert answered["proposal"]["status"] == "accepted" and answered["applied"].endswith("calc.py")
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


def test_an_edit_that_no_longer_applies_stays_open(repo: Path, engine_factory) -> None:
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix add() in calc.py", DIFF, "edit", path="calc.py")])
    emit_command(daemon, repo, f"{FAILING} # calc.py:2")
    proposal = wait_for(lambda: proposals(daemon))[0]
    (repo / "calc.py").write_text("def plus(a, b):\n    return b - a\n")
    with Client(daemon.socket_path) as client:
        try:
            client.request("outcome", proposal_id=proposal.id, outcome="accepted", via="test")
            raise AssertionError("a stale patch must not be accepted")
        except Exception as exc:
            assert "no longer applies" in str(exc)
    assert daemon.store.proposal(proposal.id).status == "open"
    assert (repo / "calc.py").read_text() == "def plus(a, b):\n    return b - a\n"


def test_a_hanging_model_times_out_and_the_daemon_goes_on(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [{"sleep": 30}, reply("Fix the import of no_such_module_here", "Add it.")],
                                                   agent__timeout_s=0.5)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: engine.stats["steps"] == 1, timeout=10)
    assert proposals(daemon) == []
    with Client(daemon.socket_path) as client:  # the daemon answers while the model hangs
        assert client.request("status")["status"]["engine"]["steps"] == 1
    backend.close()  # the stuck call ends; the next trigger gets a proposal
    wait_for(lambda: not engine.proposer.agent.busy, timeout=5)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: proposals(daemon), timeout=10)


def test_a_model_that_times_out_twice_in_a_row_backs_off_like_one_that_is_down(repo: Path, engine_factory) -> None:
    """A server that hangs would hold every trigger for the whole time-out: after two time-outs in a
    row the engine says so once (companion.error) and stops asking the model for a while."""
    daemon, engine, backend, gate = engine_factory(repo, [{"sleep": 30}, {"sleep": 30},
                                                         reply("Fix the import of no_such_module_here", "Add it.")],
                                                   agent__timeout_s=0.5)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: engine.stats["steps"] == 1, timeout=10)
    assert not engine._backing_off()  # one time-out is not yet a pattern
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: engine.stats["steps"] == 2, timeout=10)
    daemon.pipeline.flush()
    errors = wait_for(lambda: daemon.store.events(workspace=str(daemon.workspace), kinds=["companion.error"]))
    assert len(errors) == 1 and "did not answer within 0.5 s, 2 times in a row" in errors[0].data["message"]
    emit_command(daemon, repo, FAILING)  # backing off: the model is not asked, nothing is proposed
    wait_for(lambda: engine.stats["triggers"] >= 3 and engine._queue.qsize() == 0 and engine.model.pending == 0)
    time.sleep(0.3)
    assert len(backend.calls) == 2 and engine.stats["steps"] == 2 and proposals(daemon) == []
    assert engine.status()["agent"]["ok"] is False and "2 times in a row" in engine.status()["agent"]["error"]


def test_an_unavailable_backend_reports_once_and_backs_off(repo: Path, daemon_factory) -> None:
    from companion.agent.backends import BackendUnavailable
    from companion.config import load_config
    from companion.engine.engine import Engine

    calls = []

    def factory():
        calls.append(1)
        raise BackendUnavailable("Ollama does not answer at http://127.0.0.1:9")

    config = load_config(repo)
    daemon = daemon_factory(repo, config=config, services=False)
    engine = Engine(daemon, backend_factory=factory, gate=None)
    engine.start()
    daemon.services.append(engine)
    for _ in range(3):
        emit_command(daemon, repo, FAILING)
    wait_for(lambda: engine.stats["triggers"] >= 1 and engine._queue.qsize() == 0)
    daemon.pipeline.flush()
    time.sleep(0.3)
    errors = daemon.store.events(workspace=str(daemon.workspace), kinds=["companion.error"])
    assert len(errors) == 1 and "Ollama does not answer" in errors[0].data["message"]
    assert len(calls) == 1  # backing off, not retrying on every trigger
    assert "Ollama does not answer at http://127.0.0.1:9" in engine.status()["engine"]["notes"]


def test_status_describes_the_agent_and_the_gate_for_clients(repo: Path, engine_factory) -> None:
    """The dashboard's Models screen reads these objects as they are."""
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the import of no_such_module_here", "…")],
                                                   general__interruption_level=2)
    emit_command(daemon, repo, FAILING)
    wait_for(lambda: proposals(daemon))
    from companion.client import connect

    with connect(repo, start=False) as client:
        status = client.request("status")["status"]
    assert status["agent"]["backend"] == "scripted" and status["agent"]["ok"] is True
    assert status["gate"] == {"kind": "keyword-test-gate", "level": 2, "threshold": 0.75,  # the gate's own table
                              "thresholds": {str(k): v for k, v in gate.thresholds().items()}}


def test_snoozed_proposals_come_back_after_the_snooze(repo: Path, engine_factory) -> None:
    daemon, engine, backend, gate = engine_factory(repo, [reply("Fix the import of no_such_module_here", "…")], engine__snooze_s=0.5)
    emit_command(daemon, repo, FAILING)
    [proposal] = wait_for(lambda: proposals(daemon))
    from companion.client import connect

    with connect(repo, start=False) as client:
        client.request("outcome", proposal_id=proposal.id, outcome="snoozed", via="cli")
    assert daemon.store.proposal(proposal.id).status == "snoozed"
    wait_for(lambda: daemon.store.proposal(proposal.id).status == "open", timeout=10)
    [(_, outcome)] = daemon.store.outcomes(workspace=str(repo))
    assert outcome.outcome == "snoozed"  # the answer stays recorded as training data


def test_the_proposer_is_built_once_when_both_threads_ask_at_start(repo: Path, engine_factory,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """At start the engine thread (rules) and the model thread (the preload) both ask for the
    proposer. Before the lock each built one; when the engine thread's finished last it replaced
    the one the model had been loaded into, and the daemon never reported its agent loaded (a
    moments-benchmark moment waited 300 s for it in CI). Here the engine thread's build is made
    the slower one, which lost the model every time before the fix."""
    import threading

    from companion.engine.engine import Engine

    built: list[str] = []
    original = Engine._build_proposer

    def slow_build(self: Engine, agent: Any) -> Any:
        built.append(threading.current_thread().name)
        time.sleep(0.6 if threading.current_thread().name == "engine" else 0.05)
        return original(self, agent)

    monkeypatch.setattr(Engine, "_build_proposer", slow_build)
    _daemon, engine, _backend, _gate = engine_factory(repo, [reply(None)])
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and not engine.status()["agent"]["loaded"]:
        time.sleep(0.05)
    time.sleep(0.8)  # past the slower build, had there been two
    assert engine.status()["agent"]["loaded"] and engine.proposer.agent is not None
    assert len(built) == 1, built
