"""`companion export dataset`: a real store with real proposals and outcomes becomes reward rows
in ProactiveBench's format and agent chat examples, redacted, with counts."""

from __future__ import annotations

import json
from pathlib import Path

from companion.store import Store
from tests.conftest import run_cli
from tests.personal.conftest import fill_store

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def test_export_dataset_writes_redacted_reward_and_agent_data(workspace: Path, tmp_path: Path) -> None:
    with Store() as store:
        fill_store(store, str(workspace), [
            (f"curl -H 'Authorization: token {SECRET}' https://api.github.com/user", "Explain the 401 error", "accepted"),
            ("pytest -x tests/test_api.py", "Fix the failing import in api.py", "rejected"),
            ("python -m app", "Install the missing sqlalchemy package", "accepted"),
            ("make build", "Explain the linker error", "ignored"),
            ("git push", "Pull before pushing", "snoozed"),
        ])
    out = tmp_path / "export"
    result = run_cli("export", "dataset", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["reward_rows"] == 4  # snoozed is not an answer yet
    assert manifest["agent_examples"] == 2  # accepted proposals only
    assert manifest["outcomes"] == {"accepted": 2, "rejected": 1, "ignored": 1}

    text = (out / "reward.jsonl").read_text() + (out / "agent.jsonl").read_text()
    assert SECRET not in text and "[REDACTED" in text

    rewards = [json.loads(line) for line in (out / "reward.jsonl").read_text().splitlines()]
    assert [r["valid"] for r in rewards] == [True, False, True, False]
    first = rewards[0]
    assert first["pred_task"] == "Explain the 401 error"
    assert set(first["obs"][0]) == {"time", "event"} and "curl" in first["obs"][0]["event"]

    from companion.agent.prompt import SYSTEM_RULES

    examples = [json.loads(line) for line in (out / "agent.jsonl").read_text().splitlines()]
    messages = examples[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0]["content"] == SYSTEM_RULES
    assert "python -m app" in messages[1]["content"]
    assert "Explain the 401 error" in messages[1]["content"]  # earlier answer shown as feedback
    reply = json.loads(messages[2]["content"])
    assert reply["proactive_task"] == "Install the missing sqlalchemy package" and reply["operation"] == "explain"


def test_export_dataset_human_output_and_empty_store(tmp_path: Path) -> None:
    result = run_cli("export", "dataset", "--out", str(tmp_path / "empty"))
    assert result.returncode == 0, result.stderr
    assert "reward rows (ProactiveBench format): 0" in result.stdout
    assert (tmp_path / "empty" / "reward.jsonl").read_text() == ""
