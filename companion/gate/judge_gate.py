"""A gate in which a chat model judges each proposal with ProactiveBench's reward prompt.

For users with a GPU or a shared server: ProactiveBench's released 8B reward model (converted to
GGUF) or any chat model answers `{"thought": ..., "judgement": "accepted" | "rejected"}` for an
observation history and a proposed task (null = "no task"). The reply is read forgivingly:
strict JSON, then repaired JSON (json-repair), then the `"judgement": "..."` pattern, then the last
bare "accepted"/"rejected" word. Whenever no judgement comes back (server down, model missing,
time-out, an unreadable reply) the score comes from the fallback gate (the trained reward gate by
default) and `last_problem` says why, so a missing server never blocks the engine. The servers
themselves are the subclasses' business: `ollama_gate.OllamaGate`, `openai_gate.OpenAIGate`.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

from companion.gate.base import DEFAULT_THRESHOLDS, Gate, Observation

log = logging.getLogger(__name__)

# The reward prompt of ProactiveBench (thunlp/ProactiveAgent, eval/reward_model_template.py,
# Apache-2.0): its released reward model was trained on exactly this wording and layout.
REWARD_SYSTEM_PROMPT = """<Task>
Evaluate the task proposed by the proactive assistant as the user.
</Task>

<Rule>
0. Analyze the current observation to understand your current situation and requirements.
1. If the proposed task is `null` (indicating no task is proposed under the current observation), follow these steps:
   - Accept the `null` task if you believe there is no need for a task.
   - Reject the `null` task if you believe a task is needed.
2. Minimize interruptions from the assistant by only accepting tasks that are valuable.
3. Evaluate the current observation and make a judgment on the proposed task accordingly.
</Rule>

<Format>
You should answer with following JSON format:
{
    "thought": "Give your thoughts first, then provide the judgement of the task.",
    "judgement": "accepted or rejected"
}
</Format>"""

_JUDGEMENT_FIELD = re.compile(r'"?judge?ment"?\s*[:=]\s*"?\s*(accepted|rejected|accept|reject)', re.IGNORECASE)
_BARE_WORD = re.compile(r"\b(accepted|rejected)\b", re.IGNORECASE)
TAGS_TTL_S = 60.0  # how long the list of pulled models is trusted


def reward_messages(observations: Sequence[Observation], task: str | None) -> list[dict[str, str]]:
    body = {"Observations (Time Ascending)": [dict(o) for o in observations],
            "Proposed Task": task,
            "Instruction": "Now give your judgement. You should complete the reasoning process in first person."}
    return [{"role": "system", "content": REWARD_SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(body, ensure_ascii=False, indent=4)}]


def parse_judgement(reply: str) -> bool | None:
    """True for accepted, False for rejected, None when the reply holds no judgement."""
    if not reply or not reply.strip():
        return None
    text = reply.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    for candidate in candidates:
        for loader in (json.loads, _repair):
            try:
                value = loader(candidate)
            except (ValueError, TypeError):
                continue
            verdict = _verdict_of(value)
            if verdict is not None:
                return verdict
    match = _JUDGEMENT_FIELD.search(text)
    if match:
        return match.group(1).lower().startswith("accept")
    words = _BARE_WORD.findall(text)
    return words[-1].lower() == "accepted" if words else None


def _repair(text: str) -> Any:
    from json_repair import repair_json

    return repair_json(text, return_objects=True)


def _verdict_of(value: Any) -> bool | None:
    if isinstance(value, list):
        for item in value:
            verdict = _verdict_of(item)
            if verdict is not None:
                return verdict
        return None
    if not isinstance(value, dict):
        return None
    for key, item in value.items():
        if str(key).lower() in ("judgement", "judgment", "verdict", "decision") and isinstance(item, str):
            word = item.strip().lower()
            if word.startswith("accept"):
                return True
            if word.startswith("reject"):
                return False
    return None


class ModelJudgeGate(ABC):
    """The Gate protocol over `judge()`; a missing verdict is answered by the fallback gate."""

    name = "judge"

    def __init__(self, fallback: Gate | Callable[[], Gate] | None = None) -> None:
        self._fallback_source = fallback
        self._fallback: Gate | None = None
        self.last_problem: str | None = None
        self.fallbacks = 0

    @abstractmethod
    def judge(self, observations: Sequence[Observation], task: str | None) -> bool | None:
        """The model's verdict, or None (with `last_problem` set) when there is none: each
        server's subclass asks its own API."""

    def score(self, observations: Sequence[Observation], task: str | None) -> float:
        verdict = self.judge(observations, task)
        if verdict is None:
            self.fallbacks += 1
            fallback = self._fallback_gate()
            return fallback.score(observations, task) if fallback is not None else 0.5
        return 1.0 if verdict else 0.0

    def score_batch(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        return [self.score(obs, task) for obs, task in pairs]

    def thresholds(self) -> dict[int, float]:
        return dict(DEFAULT_THRESHOLDS)

    def _verdict(self, content: str) -> bool | None:
        verdict = parse_judgement(content or "")
        if verdict is None:
            return self._problem(f"could not read a judgement in the reply: {(content or '')[:120]!r}")
        self.last_problem = None
        return verdict

    def _problem(self, message: str) -> None:
        if message != self.last_problem:
            log.warning("%s gate: %s; using the fallback gate", self.name, message)
        self.last_problem = message
        return None

    def _fallback_gate(self) -> Gate | None:
        if self._fallback is None and self._fallback_source is not None:
            source = self._fallback_source
            is_factory = isinstance(source, type) or (callable(source) and not hasattr(source, "score"))
            self._fallback = source() if is_factory else source  # type: ignore[assignment,operator]
        return self._fallback
