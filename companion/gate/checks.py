"""`companion doctor` checks for the gate (cheap: imports and, for a served gate, two small requests).

The reward gate works on either encoder runtime, but the torch fallback loads several times slower
and scores a pair far slower, so the doctor says which one `[gate] encoder` resolves to and, on
torch, how to get the fast one. `[gate] kind = "openai"` gets the agent's endpoint check (the
server answers, serves the model, answers a chat request; a warning when it is not on this machine).
"""

from __future__ import annotations

from pathlib import Path

from companion.checks import CheckResult, check


def onnx_runtime_version() -> str | None:
    """ONNX Runtime's version when it and `onnx` (which writes the graph) import, else None."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime.__version__


@check
def gate_encoder(workspace: Path) -> CheckResult:
    from companion.config import load_config

    gate = load_config(workspace).gate
    if gate.kind == "icl":
        return CheckResult("gate encoder", True, "not used (gate.kind = \"icl\")", required=False)
    version = onnx_runtime_version()
    if gate.encoder == "torch":
        return CheckResult("gate encoder", True, "torch (gate.encoder = \"torch\"; \"auto\" uses ONNX Runtime, much faster)")
    if version is not None:
        return CheckResult("gate encoder", True, f"ONNX Runtime {version} (fused BERT kernels)")
    if gate.encoder == "onnx":
        return CheckResult("gate encoder", False, "gate.encoder = \"onnx\" but onnxruntime/onnx are not installed: "
                                                  "`pip install onnxruntime onnx`, or set gate.encoder = \"auto\"")
    return CheckResult("gate encoder", True, "torch (onnxruntime is not installed; `pip install onnxruntime onnx` "
                                             "makes the gate much faster)", required=False)


@check
def gate_server(workspace: Path) -> CheckResult:
    from companion.agent.checks import openai_endpoint_check
    from companion.config import load_config
    from companion.gate.factory import openai_endpoint

    config = load_config(workspace)
    if config.gate.kind != "openai":
        return CheckResult("gate server", True, f"not used (gate.kind = \"{config.gate.kind}\")", required=False)
    base_url, key_env = openai_endpoint(config)
    result = openai_endpoint_check("gate server", "gate", base_url, config.gate.model, key_env,
                                   "proposals and your redacted events", required=False)
    if not result.ok and "not on this machine" not in result.detail:
        result.detail += "; the reward gate judges instead"  # the gate falls back; the daemon goes on
    return result
