"""`load_gate(config)`: the gate the user chose in `[gate] kind` (reward | icl | ollama).

Heavy modules are imported only for the kind asked for. The `icl` gate (the agent model judging
with the user's own accepted/rejected proposals as demonstrations) is built in
`companion/gate/icl.py` by the personalisation work; when that module is absent the error says so
instead of failing with an ImportError deep inside the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

from companion.gate.base import Gate

KINDS = ("reward", "icl", "ollama")


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
        host = getattr(section, "ollama_host", "") or getattr(agent, "ollama_host", "")
        if not section.model:
            raise GateUnavailable("gate.kind = \"ollama\" needs gate.model (the Ollama model that judges), "
                                  "e.g. COMPANION_GATE_MODEL=llama3.1:8b")
        return OllamaGate(section.model, host=host, timeout_s=float(getattr(section, "timeout_s", 20.0)),
                          keep_alive=getattr(agent, "keep_alive", "5m"),
                          fallback=lambda: RewardGate(encoder_runtime=runtime))
    if kind == "icl":
        try:
            module = importlib.import_module("companion.gate.icl")
        except ModuleNotFoundError as exc:
            if exc.name != "companion.gate.icl":
                raise
            raise GateUnavailable("gate.kind = \"icl\" needs companion/gate/icl.py (the in-context judge), which this "
                                  "installation lacks; use gate.kind = \"reward\" meanwhile") from None
        gate_class = getattr(module, "IclGate", None)
        if gate_class is None:
            raise GateUnavailable("companion.gate.icl has no IclGate class")
        return gate_class(store=store, workspace=workspace, config=config)
    raise GateUnavailable(f"unknown gate.kind {kind!r}; expected one of {', '.join(KINDS)}")
