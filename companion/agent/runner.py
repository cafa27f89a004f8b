"""One agent step: prompt -> backend (in its own thread, with a deadline) -> parsed, checked reply.

The backend runs in a dedicated worker thread so a model that hangs costs the caller only its
time-out: the step returns "no task" with the problem noted, and later steps are refused quickly
until the stuck call ends; `timeouts_in_a_row` counts such steps (the engine backs off after a few,
as for a server that is down). Backends that cannot be reached raise BackendUnavailable to the caller
(the engine backs off; `companion suggest` prints the message).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from companion.agent.backends import Backend, BackendUnavailable, GenerationTimeout
from companion.agent.operations import validate_reply
from companion.agent.parse import AgentReply, parse_reply
from companion.agent.prompt import Feedback, FocusedFile, Observation, build_messages

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    reply: AgentReply
    seconds: float
    messages: list[dict[str, str]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


class Agent:
    """Runs a backend on the agent prompt, one step at a time, never longer than its time-out."""

    def __init__(self, backend: Backend, workspace: Path | None = None, timeout_s: float = 60.0,
                 max_new_tokens: int = 256, max_observation_tokens: int = 600, few_shot: bool = True,
                 max_evidence_tokens: int = 400) -> None:
        self.backend = backend
        self.workspace = workspace
        self.timeout_s = timeout_s
        self.max_new_tokens = max_new_tokens
        self.max_observation_tokens = max_observation_tokens
        self.few_shot = few_shot
        self.max_evidence_tokens = max_evidence_tokens
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-model")
        self._running: Future[str] | None = None
        self._lock = threading.Lock()
        self.timeouts_in_a_row = 0  # steps that ended at their deadline since the model last answered

    @classmethod
    def from_config(cls, backend: Backend, config: Any, workspace: Path | None = None) -> "Agent":
        """The agent the config describes; on a backend running a LoRA adapter, the prompt is the one
        the adapter was trained on (no few-shot turns, its observation budget), whatever the config says."""
        agent = config.agent
        prompt = {"max_observation_tokens": agent.max_observation_tokens, "few_shot": agent.few_shot}
        adapter = getattr(backend, "adapter", None)
        if adapter is not None:
            from companion.agent.adapters import prompt_settings

            prompt = prompt_settings(Path(adapter))
        quickfix = getattr(config, "quickfix", None)
        evidence_tokens = int(getattr(quickfix, "max_evidence_tokens", 400))
        return cls(backend, workspace, timeout_s=agent.timeout_s, max_new_tokens=agent.max_new_tokens,
                   max_evidence_tokens=evidence_tokens, **prompt)

    @property
    def busy(self) -> bool:
        return self._running is not None and not self._running.done()

    def step(self, observations: Sequence[Observation], feedback: Iterable[Feedback | Mapping[str, Any]] = (),
             focus: FocusedFile | None = None, evidence: Mapping[str, Any] | None = None,
             candidates: Sequence[Mapping[str, Any]] = ()) -> StepResult:
        """One model call; `evidence` and the rules' `candidates` go into the prompt within
        `max_evidence_tokens`."""
        messages = build_messages(observations, feedback, focus, few_shot=self.few_shot,
                                  max_observation_tokens=self.max_observation_tokens, evidence=evidence,
                                  candidates=candidates, max_evidence_tokens=self.max_evidence_tokens)
        started = time.monotonic()
        with self._lock:
            if self.busy:
                return StepResult(AgentReply(problem="the model is still busy with an earlier request"), 0.0, messages)
            deadline = started + self.timeout_s
            self._running = self._executor.submit(self.backend.generate, messages, self.max_new_tokens, deadline)
            running = self._running
        try:
            raw = running.result(timeout=self.timeout_s + 1.0)
        except (FutureTimeout, GenerationTimeout):
            self.timeouts_in_a_row += 1
            log.warning("the agent model did not answer within %.0f s", self.timeout_s)
            reply = AgentReply(problem=f"the model did not answer within {self.timeout_s:.0f} s")
            return StepResult(reply, time.monotonic() - started, messages)
        except BackendUnavailable:
            raise
        except Exception as exc:  # a backend bug must not take the engine down
            log.exception("the agent backend failed")
            return StepResult(AgentReply(problem=f"the backend failed: {exc}"), time.monotonic() - started, messages)
        self.timeouts_in_a_row = 0
        reply = validate_reply(parse_reply(raw), self.workspace)
        if reply.problem and reply.is_task:
            log.info("agent reply adjusted: %s", reply.problem)
        stats = dict(getattr(self.backend, "last_stats", {}) or {})
        return StepResult(reply, time.monotonic() - started, messages, stats)

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)
