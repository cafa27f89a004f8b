"""`load_gate(config)`: the gate the user chose in `[gate] kind` (reward | icl | ollama | openai).

Heavy modules are imported only for the kind asked for: the `reward` gate (MiniLM heads and the
judgement memory), the `icl` gate (the agent model judging with the user's own accepted and rejected
proposals as demonstrations, companion/gate/icl_gate.py), and the `ollama` and `openai` gates (a
served model judging with ProactiveBench's reward prompt).
"""

from __future__ import annotations

from typing import Any

from companion.config import ollama_host
from companion.gate.base import Gate

KINDS = ("reward", "icl", "ollama", "openai")


def openai_endpoint(config: Any) -> tuple[str, str]:
    """The openai gate's base_url and api_key_env: `[gate]`'s, or the agent's where those are empty."""
    section, agent = config.gate, getattr(config, "agent", None)
    return (getattr(section, "base_url", "") or getattr(agent, "base_url", ""),
            getattr(section, "api_key_env", "") or getattr(agent, "api_key_env", ""))


class GateUnavailable(RuntimeError):
    """The configured gate cannot be built; the message says what to install or change."""


def load_gate(config: Any, store: Any = None, workspace: Any = None) -> Gate:
    """`config` is a companion Config (or anything with `.gate`, and `.agent` for Ollama's host)."""
    section = config.gate
    kind = section.kind
    runtime = getattr(section, "encoder", "auto")
    if kind == "reward":
        from companion.gate.encoder import EncoderUnavailable
        from companion.gate.reward import RewardGate

        try:
            return RewardGate(store=store, workspace=workspace, memory=bool(getattr(section, "memory", True)),
                              encoder_runtime=runtime)
        except EncoderUnavailable as exc:
            raise GateUnavailable(str(exc)) from None
    if kind == "ollama":
        from companion.gate.ollama_gate import OllamaGate
        from companion.gate.reward import RewardGate

        agent = getattr(config, "agent", None)
        host = ollama_host(getattr(section, "ollama_host", ""), getattr(agent, "ollama_host", ""))
        if not section.model:
            raise GateUnavailable("gate.kind = \"ollama\" needs gate.model (the Ollama model that judges), "
                                  "e.g. COMPANION_GATE_MODEL=llama3.1:8b")
        return OllamaGate(section.model, host=host, timeout_s=float(getattr(section, "timeout_s", 20.0)),
                          keep_alive=getattr(agent, "keep_alive", "5m"),
                          fallback=lambda: RewardGate(encoder_runtime=runtime))
    if kind == "openai":
        from companion.agent.backends.openai_http import EndpointError
        from companion.gate.openai_gate import OpenAIGate
        from companion.gate.reward import RewardGate

        base_url, key_env = openai_endpoint(config)
        if not section.model:
            raise GateUnavailable("gate.kind = \"openai\" needs gate.model (the model that judges on the server)")
        try:
            return OpenAIGate(section.model, base_url, key_env, timeout_s=float(getattr(section, "timeout_s", 20.0)),
                              fallback=lambda: RewardGate(encoder_runtime=runtime))
        except EndpointError as exc:
            raise GateUnavailable(str(exc)) from None
    if kind == "icl":
        from companion.gate.icl_gate import IclGate

        return IclGate(store=store, workspace=workspace, config=config)
    raise GateUnavailable(f"unknown gate.kind {kind!r}; expected one of {', '.join(KINDS)}")
