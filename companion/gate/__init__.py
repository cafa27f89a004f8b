"""The reward gate: decides whether a proposal is worth an interruption.

`load_gate(config)` builds the gate named by `[gate] kind`: `reward` (default; MiniLM + trained
heads, companion/gate/reward.py), `ollama` (an Ollama model with ProactiveBench's reward prompt)
or `icl` (the agent model with the user's own examples, companion/gate/icl_gate.py).
"""

from companion.gate.factory import GateUnavailable, load_gate

__all__ = ["GateUnavailable", "load_gate"]
