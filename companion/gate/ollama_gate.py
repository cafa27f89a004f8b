"""A gate judged by any Ollama model with ProactiveBench's reward prompt.

For users with a GPU: ProactiveBench's released 8B reward model (converted to GGUF) or any chat
model answers `{"thought": ..., "judgement": "accepted" | "rejected"}` for an observation history
and a proposed task (null = "no task"). The reply is read as forgivingly as the agent's replies:
strict JSON, then repaired JSON (json-repair), then the `"judgement": "..."` pattern, then the last
bare "accepted"/"rejected" word. Whenever no judgement comes back — server down, model not
pulled, time-out, an unreadable reply — the score comes from the fallback gate (the trained
reward gate by default) and `last_problem` says why, so a missing Ollama never blocks the engine.
"""

from __future__ import annotations

import json
import logging
import re
import time
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


class OllamaGate:
    name = "ollama"

    def __init__(self, model: str, host: str = "", timeout_s: float = 20.0, keep_alive: str = "5m",
                 fallback: Gate | Callable[[], Gate] | None = None) -> None:
        if not model:
            raise ValueError("the ollama gate needs a model name: set [gate] model = \"NAME\" in the config")
        import ollama

        self.model = model
        self.host = host or None
        self.timeout_s = timeout_s
        self.keep_alive = keep_alive
        self._client = ollama.Client(host=self.host, timeout=timeout_s)
        self._fallback_source = fallback
        self._fallback: Gate | None = None
        self._tags_checked_at = -TAGS_TTL_S
        self._model_present = False
        self.last_problem: str | None = None
        self.fallbacks = 0

    # -- the Gate protocol --------------------------------------------------------------
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

    # -- talking to Ollama --------------------------------------------------------------
    def judge(self, observations: Sequence[Observation], task: str | None) -> bool | None:
        """The model's verdict, or None (with `last_problem` set) when there is none."""
        import httpx
        import ollama

        if not self._available():
            return None
        try:
            response = self._client.chat(model=self.model, messages=reward_messages(observations, task),
                                         options={"temperature": 0.0}, keep_alive=self.keep_alive)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                self._model_present = False
                self._tags_checked_at = time.monotonic()
                return self._problem(f"the Ollama model {self.model!r} is not pulled; run `ollama pull {self.model}`")
            return self._problem(f"Ollama answered an error: {exc}")
        except (ConnectionError, httpx.ConnectError):
            self._tags_checked_at = time.monotonic()
            self._model_present = False
            return self._problem(f"no Ollama server at {self._where()}; is `ollama serve` running?")
        except httpx.TimeoutException:
            return self._problem(f"Ollama did not answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return self._problem(f"Ollama request failed: {exc}")
        content = (response.get("message") or {}).get("content", "") if isinstance(response, dict) else response.message.content
        verdict = parse_judgement(content or "")
        if verdict is None:
            return self._problem(f"could not read a judgement in the reply: {(content or '')[:120]!r}")
        self.last_problem = None
        return verdict

    def _available(self) -> bool:
        """Is the model pulled? Asked at most once a minute (GET /api/tags), not before every call."""
        import httpx
        import ollama

        now = time.monotonic()
        if now - self._tags_checked_at < TAGS_TTL_S:
            if not self._model_present and self.last_problem is None:
                self.last_problem = f"the Ollama model {self.model!r} is not available"
            return self._model_present
        self._tags_checked_at = now
        try:
            listing = self._client.list()
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
            self._model_present = False
            self._problem(f"no Ollama server at {self._where()} ({type(exc).__name__}); is `ollama serve` running?")
            return False
        names = set()
        for entry in listing.get("models", []) if isinstance(listing, dict) else listing.models:
            name = entry.get("model") or entry.get("name") if isinstance(entry, dict) else entry.model
            if name:
                names.update({name, name.removesuffix(":latest")})
        self._model_present = self.model in names or f"{self.model}:latest" in names
        if not self._model_present:
            self._problem(f"the Ollama model {self.model!r} is not pulled; run `ollama pull {self.model}`")
        return self._model_present

    def _problem(self, message: str) -> None:
        if message != self.last_problem:
            log.warning("ollama gate: %s; using the fallback gate", message)
        self.last_problem = message
        return None

    def _where(self) -> str:
        return str(self._client._client.base_url)

    def _fallback_gate(self) -> Gate | None:
        if self._fallback is None and self._fallback_source is not None:
            source = self._fallback_source
            is_factory = isinstance(source, type) or (callable(source) and not hasattr(source, "score"))
            self._fallback = source() if is_factory else source  # type: ignore[assignment,operator]
        return self._fallback
