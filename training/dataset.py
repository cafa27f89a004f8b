"""The user's answers as training data, in the two shapes personalisation needs.

(a) reward data in ProactiveBench's format ({"obs": [{"time", "event"}], "pred_task", "valid"}),
    so the reward gate and the in-context judge read user data and benchmark data alike;
(b) agent fine-tuning data: chat messages built by the agent's own prompt builder
    (companion.agent.prompt), the accepted proposal as the assistant's JSON reply, so a LoRA
    adapter learns exactly what the engine will show it at run time.

Events were redacted when stored; every string is redacted again on export (the rules may
have grown since, and exported files leave the store's protection).

`companion export dataset [--out DIR]` writes reward.jsonl, agent.jsonl and manifest.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from companion import paths
from companion.agent.adapters import AGENT_OBSERVATION_TOKENS
from companion.gate.user_rows import Answered, answered, redactor_from_config, reward_row
from companion.proposals import Proposal
from companion.redact import Redactor

FEEDBACK_WINDOW_S = 3600.0  # earlier answers within this time are shown as feedback, as at run time
MAX_FEEDBACK = 3


def reply_target(proposal: Proposal) -> dict[str, Any]:
    """The assistant reply the agent should have written: the proposal the user accepted."""
    return {"purpose": proposal.purpose, "thoughts": proposal.thoughts, "proactive_task": proposal.task,
            "response": proposal.response, "operation": proposal.operation, "path": proposal.path,
            "line": proposal.line}


def chat_example(observations: Sequence[dict[str, str]], reply: dict[str, Any],
                 feedback: Sequence[dict[str, str]] = (), observation_tokens: int = AGENT_OBSERVATION_TOKENS,
                 ) -> dict[str, Any]:
    """One fine-tuning example in the agent's prompt format (no few-shot turns: the adapter learns
    the format itself, and the sequences stay short)."""
    from companion.agent.prompt import build_messages, format_reply

    messages = build_messages(observations, feedback, few_shot=False, max_observation_tokens=observation_tokens)
    messages.append({"role": "assistant", "content": format_reply(reply)})
    return {"messages": messages}


def agent_examples(items: Sequence[Answered], redactor: Redactor) -> list[dict[str, Any]]:
    """Accepted proposals as targets, with the feedback on earlier answers the agent saw."""
    examples = []
    for index, item in enumerate(items):
        if item.outcome.outcome != "accepted" or not item.proposal.task:
            continue
        earlier = [e for e in items[:index] if e.proposal.task
                   and 0 <= item.proposal.ts - e.outcome.ts <= FEEDBACK_WINDOW_S][-MAX_FEEDBACK:]
        feedback = [{"task": e.proposal.task, "outcome": e.outcome.outcome} for e in earlier]
        example = chat_example(item.observations, reply_target(item.proposal), feedback)
        if item.evidence:
            example["evidence"] = item.evidence
        examples.append(redactor.redact_data(example))
    return examples


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a bad line raises ValueError with its number."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return rows


def default_dir() -> Path:
    return paths.data_dir() / "datasets"


def export(out: Path | None = None, workspace: str | None = None, store: Any = None) -> dict[str, Any]:
    """Write reward.jsonl, agent.jsonl and manifest.json; return the manifest (with counts)."""
    from companion.store import Store

    out = Path(out) if out else default_dir()
    out.mkdir(parents=True, exist_ok=True)
    own_store = store is None
    store = store or Store()
    try:
        redactor = redactor_from_config(workspace)
        items = answered(store, workspace, redactor)
        rewards = write_jsonl(out / "reward.jsonl", (reward_row(i, redactor) for i in items))
        agents = write_jsonl(out / "agent.jsonl", agent_examples(items, redactor))
    finally:
        if own_store:
            store.close()
    by_outcome: dict[str, int] = {}
    for item in items:
        by_outcome[item.outcome.outcome] = by_outcome.get(item.outcome.outcome, 0) + 1
    manifest = {"out": str(out), "workspace": workspace, "created": time.time(), "reward_rows": rewards,
                "agent_examples": agents, "outcomes": by_outcome,
                "files": {"reward": str(out / "reward.jsonl"), "agent": str(out / "agent.jsonl")}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
