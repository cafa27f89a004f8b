"""A gate judged by a model behind any OpenAI-compatible API, with ProactiveBench's reward prompt.

`[gate] kind = "openai"`, with `model`, and `base_url`/`api_key_env` (empty: the agent's). The
judging, the reply parsing and the fallback to the trained reward gate are judge_gate's; this
module only talks to the server (companion/agent/backends/openai_http.py). The reply is asked for as
the reward prompt's `{thought, judgement}` JSON through the endpoint's structured output, the same
path as the agent's reply schema, so a server with a grammar cannot leave the judgement out; the
thought is bounded so that the judgement always fits in JUDGEMENT_TOKENS.
"""

from __future__ import annotations

from typing import Callable, Sequence

from companion.agent.backends.openai_http import EndpointError, OpenAIEndpoint
from companion.gate.base import Gate, Observation
from companion.gate.judge_gate import ModelJudgeGate, reward_messages

JUDGEMENT_TOKENS = 256  # the thought and the judgement
THOUGHT_CHARS = 600  # a few sentences: a thought longer than this could crowd the judgement out
JUDGEMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "thought": {"type": "string", "maxLength": THOUGHT_CHARS},
        "judgement": {"type": "string", "enum": ["accepted", "rejected"]},
    },
    "required": ["thought", "judgement"],
}


class OpenAIGate(ModelJudgeGate):
    name = "openai"

    def __init__(self, model: str, base_url: str, api_key_env: str = "", timeout_s: float = 20.0,
                 fallback: Gate | Callable[[], Gate] | None = None) -> None:
        if not model:
            raise ValueError("the openai gate needs a model name: set [gate] model = \"NAME\" in the config")
        super().__init__(fallback)
        self.model = model
        self.timeout_s = timeout_s
        self.endpoint = OpenAIEndpoint(base_url, api_key_env, timeout_s)

    def judge(self, observations: Sequence[Observation], task: str | None) -> bool | None:
        try:
            self.endpoint.check_model(self.model)
            content, _usage = self.endpoint.chat(self.model, reward_messages(observations, task), JUDGEMENT_TOKENS,
                                                 schema=JUDGEMENT_SCHEMA, timeout=self.timeout_s)
        except EndpointError as exc:
            return self._problem(str(exc))
        return self._verdict(content)
