"""ProactiveBench-style evaluation of the agent on recorded traces, judged by the reward gate.

Each trace is a list of {"observation": {"time", "event"}}. It is replayed event by event: after
every event the agent sees all observations so far (within its token budget) plus the feedback on
its earlier proposals, and answers. Every answer is judged by the gate, as the paper judges with
its reward model: a proposed task is accepted when the gate's acceptance probability clears 0.5,
a "no task" is right when the gate's probability that silence is right clears 0.5. The verdict
goes back to the agent as feedback on the next steps (accepted, or rejected: "try another way").

Scores follow the paper's `calculate_scores`: a proposed task judged accepted is a true positive,
judged rejected a false positive; silence judged right is a true negative, judged wrong a false
negative. "Gated" scores are the same replay where tasks the gate would not surface (below the
threshold of the interruption level) count as silence — what the user would actually see. The
gate is then both filter and judge, so its false alarms fall by construction; the figure shows
how much proposing the gate suppresses, not an independent quality measure.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from companion.agent.prompt import Feedback
from companion.agent.runner import Agent
from companion.gate.base import Gate

EPS = 1e-8
JUDGE_THRESHOLD = 0.5


def calculate_scores(steps: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The paper's turn-based scores from steps holding "pred" (task or None) and "judgement" (bool)."""
    tp = fp = tn = fn = 0
    for step in steps:
        if step["pred"] is not None:
            tp, fp = (tp + 1, fp) if step["judgement"] else (tp, fp + 1)
        else:
            tn, fn = (tn + 1, fn) if step["judgement"] else (tn, fn + 1)
    recall = tp / (tp + fn + EPS)
    precision = tp / (tp + fp + EPS)
    return {
        "Recall": recall,
        "Precision": precision,
        "Accuracy": (tp + tn) / (tp + tn + fp + fn + EPS),
        "False-Alarm": fp / (tp + fp + EPS),
        "F1": 2 * precision * recall / (precision + recall + EPS),
        "TP": tp, "FP": fp, "TN": tn, "FN": fn,
    }


def load_traces(folder: Path) -> dict[str, list[dict[str, str]]]:
    """name -> observations, from every *.json trace in the folder (clear errors for bad files)."""
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no *.json traces in {folder}")
    traces = {}
    for path in files:
        try:
            raw = json.loads(path.read_text())
            traces[path.stem] = [{"time": str(item["observation"]["time"]), "event": str(item["observation"]["event"])}
                                 for item in raw]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a ProactiveBench trace ([{{\"observation\": {{\"time\", \"event\"}}}}, ...]): {exc}") from None
    return traces


def well_formed(raw: str) -> bool:
    """The reply is exactly one JSON object with the proactive_task key (no repair, nothing around it)."""
    try:
        value = json.loads(raw.strip())
    except ValueError:
        return False
    return isinstance(value, dict) and "proactive_task" in value


@dataclass
class Replay:
    steps: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def scores(self, gated: bool = False) -> dict[str, float]:
        key = "gated" if gated else "raw"
        return calculate_scores([s[key] for s in self.steps])


def replay_trace(name: str, observations: Sequence[dict[str, str]], agent: Agent, gate: Gate | None,
                 surface_threshold: float,
                 replay: Replay, progress: Callable[[str], None] | None = None) -> None:
    feedback: list[Feedback] = []
    for index in range(len(observations)):
        seen = list(observations[: index + 1])
        result = agent.step(seen, feedback)
        task = result.reply.task
        if gate is None:  # no judge: record what the agent did, nothing more
            replay.steps.append({"trace": name, "index": index, "raw": {"pred": task, "judgement": None},
                                 "gated": {"pred": task, "judgement": None}, "score": None, "seconds": result.seconds,
                                 "problem": result.reply.problem, "well_formed": well_formed(result.reply.raw)})
            if progress:
                progress(f"{name} {index + 1}/{len(observations)}: {task!r} ({result.seconds:.1f} s)")
            continue
        score = gate.score(seen, task)
        judgement = score >= JUDGE_THRESHOLD
        surfaced = task is not None and score >= surface_threshold
        gated = {"pred": task, "judgement": judgement} if surfaced or task is None else \
            {"pred": None, "judgement": gate.score(seen, None) >= JUDGE_THRESHOLD}
        replay.steps.append({"trace": name, "index": index, "raw": {"pred": task, "judgement": judgement},
                             "gated": gated, "score": score, "seconds": result.seconds, "problem": result.reply.problem,
                             "well_formed": well_formed(result.reply.raw)})
        if task is not None:
            feedback.append(Feedback(task=task, outcome="accepted" if judgement else "rejected",
                                     time=observations[index]["time"]))
        if progress:
            progress(f"{name} {index + 1}/{len(observations)}: {task!r} score {score:.2f} ({result.seconds:.1f} s)")


def evaluate(traces: dict[str, list[dict[str, str]]], agent: Agent, gate: Gate | None, surface_threshold: float,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    replay = Replay()
    started = time.monotonic()
    for name, observations in traces.items():
        replay_trace(name, observations, agent, gate, surface_threshold, replay, progress)
    replay.seconds = time.monotonic() - started
    unusable = sum(1 for s in replay.steps if s["problem"] and s["raw"]["pred"] is None)
    json_share = round(sum(s["well_formed"] for s in replay.steps) / max(1, len(replay.steps)), 4)
    activity = {"events": len(replay.steps), "traces": len(traces), "unusable_replies": unusable, "well_formed_json": json_share,
                "proposed": sum(1 for s in replay.steps if s["raw"]["pred"]), "seconds": round(replay.seconds, 1),
                "steps": replay.steps}
    if gate is None:
        return activity
    raw = replay.scores()
    return {**{k: raw[k] for k in ("Recall", "Precision", "Accuracy", "False-Alarm", "F1")},
            "counts": {k: raw[k] for k in ("TP", "FP", "TN", "FN")}, "gated": replay.scores(gated=True),
            "events": len(replay.steps), "traces": len(traces), "proposed": sum(1 for s in replay.steps if s["raw"]["pred"]),
            "unusable_replies": unusable, "well_formed_json": json_share, "seconds": round(replay.seconds, 1), "surface_threshold": surface_threshold,
            "steps": replay.steps}
