"""ProactiveBench replay and the paper's scores, with a scripted agent and a deterministic judge."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from companion.agent.backends.scripted import ScriptedBackend
from companion.agent.evaluate import calculate_scores, evaluate, load_traces, well_formed
from companion.agent.runner import Agent
from tests.conftest import run_cli
from tests.engine.conftest import KeywordGate, reply

# shared/ lies beside the checkout (as on the developers' machines and in CI)
SHARED_TRACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "proactivebench" / "traces"


def test_scores_follow_the_paper_definitions() -> None:
    steps = [{"pred": "a", "judgement": True}, {"pred": "b", "judgement": False}, {"pred": "c", "judgement": True},
             {"pred": None, "judgement": True}, {"pred": None, "judgement": False}]
    scores = calculate_scores(steps)
    assert (scores["TP"], scores["FP"], scores["TN"], scores["FN"]) == (2, 1, 1, 1)
    assert scores["Recall"] == pytest.approx(2 / 3) and scores["Precision"] == pytest.approx(2 / 3)
    assert scores["Accuracy"] == pytest.approx(3 / 5) and scores["False-Alarm"] == pytest.approx(1 / 3)
    assert scores["F1"] == pytest.approx(2 / 3)


def write_trace(folder: Path, name: str, events: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps([{"observation": {"time": f"t{i}", "event": e}}
                                                     for i, e in enumerate(events)]))


def test_replay_feeds_the_verdicts_back_and_gates(tmp_path: Path) -> None:
    write_trace(tmp_path, "t1", ["The user opens app.py.", "The user runs the tests; 2 fail.", "The user edits app.py."])
    backend = ScriptedBackend([reply(None), reply("Fix the two failing tests"), reply("Tell a joke", "ha")])
    agent = Agent(backend, None, timeout_s=5)
    result = evaluate(load_traces(tmp_path), agent, KeywordGate(), surface_threshold=0.5)
    assert result["events"] == 3 and result["proposed"] == 2
    assert result["counts"] == {"TP": 1, "FP": 1, "TN": 1, "FN": 0}
    assert result["gated"]["FP"] == 0 and result["gated"]["TP"] == 1  # the joke is not surfaced
    assert result["well_formed_json"] == 1.0
    last_prompt = backend.calls[-1][-1]["content"]
    assert "\"Fix the two failing tests\": accepted" in last_prompt
    assert last_prompt.index("opens app.py") < last_prompt.index("edits app.py")


def test_bad_traces_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_traces(tmp_path)
    (tmp_path / "bad.json").write_text('[{"obs": 1}]')
    with pytest.raises(ValueError, match="not a ProactiveBench trace"):
        load_traces(tmp_path)


def test_the_cli_reads_the_shared_traces(tmp_path: Path) -> None:
    if not SHARED_TRACES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared ProactiveBench traces are missing: {SHARED_TRACES}")
        pytest.skip("the shared ProactiveBench traces are not beside this checkout")
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([reply(None)]))
    os.environ["COMPANION_AGENT_BACKEND"] = "scripted"
    os.environ["COMPANION_AGENT_SCRIPT"] = str(script)
    try:
        done = run_cli("eval", "agent", "--traces", str(SHARED_TRACES), "--json", cwd=tmp_path, timeout=600)
    finally:
        del os.environ["COMPANION_AGENT_BACKEND"], os.environ["COMPANION_AGENT_SCRIPT"]
    if done.returncode == 0:  # the reward gate is installed: real figures for a silent agent
        result = json.loads(done.stdout)
        assert {"Recall", "Precision", "Accuracy", "False-Alarm", "F1"} <= set(result)
        assert result["events"] == 52 and result["proposed"] == 0 and result["Precision"] == 0
    else:
        assert "reward gate" in done.stderr and "Traceback" not in done.stderr


def test_the_cli_replays_a_prefix_of_each_trace_and_rejects_a_bad_adapter(tmp_path: Path) -> None:
    write_trace(tmp_path / "traces", "t1", ["The user opens app.py.", "The user runs the tests; 2 fail.", "The user edits app.py."])
    write_trace(tmp_path / "traces", "t2", ["The user runs `make`; it fails.", "The user saves app.py."])
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([reply(None)]))
    os.environ["COMPANION_AGENT_BACKEND"] = "scripted"
    os.environ["COMPANION_AGENT_SCRIPT"] = str(script)
    try:
        done = run_cli("eval", "agent", "--traces", str(tmp_path / "traces"), "--max-steps", "1", "--json", cwd=tmp_path)
        bad = run_cli("eval", "agent", "--traces", str(tmp_path / "traces"), "--backend", "transformers",
                      "--adapter", str(tmp_path / "no-adapter"), cwd=tmp_path)
    finally:
        del os.environ["COMPANION_AGENT_BACKEND"], os.environ["COMPANION_AGENT_SCRIPT"]
    if done.returncode == 0:  # the reward gate is installed
        result = json.loads(done.stdout)
        assert result["events"] == 2 and result["traces"] == 2 and result["max_steps"] == 1
        assert result["adapter"] is None and result["few_shot"] is True
    else:
        assert "reward gate" in done.stderr and "Traceback" not in done.stderr
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "not a LoRA adapter folder" in bad.stderr or "reward gate" in bad.stderr


def test_well_formed_means_one_plain_json_object_with_the_task_key(tmp_path: Path) -> None:
    assert well_formed('{"purpose": "p", "proactive_task": null}') and well_formed(reply("Fix it"))
    assert not well_formed('{"purpose": "p", "proactive_task": "x"') and not well_formed('{"purpose": "p"}')
    assert not well_formed('Sure! {"proactive_task": null}') and not well_formed("")
    write_trace(tmp_path, "t", ["The user runs the tests; 2 fail.", "The user saves app.py."])
    backend = ScriptedBackend(['{"purpose": "p", "proactive_task": "Fix the tests"', reply(None)])
    result = evaluate(load_traces(tmp_path), Agent(backend, None, timeout_s=5), KeywordGate(), surface_threshold=0.5)
    assert result["well_formed_json"] == 0.5 and [s["well_formed"] for s in result["steps"]] == [False, True]
