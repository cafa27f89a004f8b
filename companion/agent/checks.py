"""`companion doctor` checks for the agent: is the configured backend usable? (cheap: no model load)

Imported by the doctor CLI (`companion.cli.doctor` imports the modules that carry checks).
"""

from __future__ import annotations

from pathlib import Path

from companion.checks import CheckResult, check


@check
def agent_backend(workspace: Path) -> CheckResult:
    from companion.config import load_config

    agent = load_config(workspace).agent
    if agent.backend == "ollama":
        from companion.agent.backends import BackendUnavailable
        from companion.agent.backends.ollama import OllamaBackend

        backend = OllamaBackend(agent.model, agent.ollama_host, timeout_s=5.0)
        try:
            backend.check()
        except BackendUnavailable as exc:
            return CheckResult("agent", False, str(exc))
        return CheckResult("agent", True, f"ollama model {backend.model_name} at {backend.host}")
    if agent.backend == "openai":
        return openai_endpoint_check("agent", "agent", agent.base_url, agent.model, agent.api_key_env,
                                     "proposals and your redacted events, evidence and focused file lines")
    if agent.backend in ("llama_cpp", "transformers") and not agent.model:
        adapter = _adapter_check(agent)
        if adapter is not None:
            return adapter
    if agent.backend == "llama_cpp":
        from companion.agent.backends.llama_cpp import available

        if not available():
            return CheckResult("agent", True, "llama_cpp configured but llama-cpp-python is not installed: "
                                              "using transformers (pip install 'companion[llama]' for speed)", required=False)
        from companion.models import smollm2_gguf

        return CheckResult("agent", True, f"llama.cpp on {agent.model or smollm2_gguf().name}")
    if agent.backend == "scripted":
        return CheckResult("agent", Path(agent.script).is_file(), f"scripted replies from {agent.script or '(agent.script unset)'}")
    from companion.agent.smollm import converted_dir
    from companion.models import ModelMissing, smollm2_gguf

    try:
        gguf = smollm2_gguf()
    except ModelMissing as exc:
        return CheckResult("agent", False, str(exc))
    cached = converted_dir().is_dir()
    return CheckResult("agent", True, f"transformers on {agent.model or gguf.name}"
                                      + ("" if cached or agent.model else " (converted on first use, ~30 s)"))


def _adapter_check(agent) -> CheckResult | None:
    """The default model with a LoRA adapter (the trained one or the one shipped): llama.cpp runs it
    folded into a Q8_0 copy of the model when llama-cpp-python is installed, transformers merges it
    otherwise."""
    from companion.agent.backends.llama_cpp import available
    from companion.agent.adapters import SHIPPED, for_agent

    try:
        adapter = for_agent(agent.adapter)
    except ValueError as exc:
        return CheckResult("agent", False, str(exc))
    if adapter is None:
        return None
    which = "shipped default" if adapter.resolve() == SHIPPED.resolve() else "fine-tuned"
    if agent.backend == "llama_cpp" and available():
        where = "llama.cpp (merged into a Q8_0 copy)"
    elif agent.backend == "llama_cpp":
        where = "transformers (llama-cpp-python is not installed)"
    else:
        where = "transformers"
    return CheckResult("agent", True, f"{where} on the default model + the {which} adapter {adapter}; "
                                      "[agent] adapter = \"none\" for the untuned model")


def openai_endpoint_check(name: str, section: str, base_url: str, model: str, api_key_env: str,
                          leaving: str, required: bool = True) -> CheckResult:
    """The endpoint answers, serves the model (GET /models) and answers a 1-token chat request, so a
    server that lists its models but hangs or answers HTML on chat is found here; a server off this
    machine is named as such, because `leaving` (what is sent) then leaves it. One check for the
    agent's backend and the openai gate (companion/gate/checks.py); `section` is "agent" or "gate"."""
    from companion.agent.backends.openai_http import EndpointError, OpenAIEndpoint, is_local

    where = f"openai endpoint {base_url or '(base_url unset)'}"
    if not model:
        return CheckResult(name, False, f"{where}: {section}.model is not set; name a model the server serves", required)
    try:
        endpoint = OpenAIEndpoint(base_url, api_key_env, timeout_s=10.0)
    except EndpointError as exc:
        return CheckResult(name, False, f"{where}: {exc}", required)
    try:
        endpoint.check_model(model)
        try:
            endpoint.probe(model)
        except EndpointError as exc:
            return CheckResult(name, False, f"{where} lists {model}, but a 1-token chat request failed: {exc}", required)
    except EndpointError as exc:
        return CheckResult(name, False, f"{where}: {exc}", required)
    finally:
        endpoint.close()
    served = f"model {model} at {endpoint.base_url}"
    if not is_local(endpoint.base_url):
        return CheckResult(name, False, f"{served} — not on this machine: {leaving} leave this machine", required=False)
    return CheckResult(name, True, f"openai-compatible {served}")
