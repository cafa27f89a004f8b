"""Settings: defaults, then ~/.config/companion/config.toml, then <workspace>/.companion.toml,
then COMPANION_<SECTION>_<KEY> environment variables.

Every section is a dataclass, so the schema is the code: unknown keys and wrong types are
reported with the file and the key instead of being silently ignored (a typo in a config file
should never be a mystery).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from companion import paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

WORKSPACE_CONFIG = ".companion.toml"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def ollama_host(*configured: str, environ: Mapping[str, str] | None = None) -> str:
    """The one place that says where Ollama answers (agent backend, Ollama gate, the dashboard's
    probe): the first non-empty configured host, else OLLAMA_HOST, else 127.0.0.1:11434; with a
    scheme, as OLLAMA_HOST may be given without one."""
    env = os.environ if environ is None else environ
    host = next((h for h in configured if h), "") or env.get("OLLAMA_HOST", "") or DEFAULT_OLLAMA_HOST
    return host if "://" in host else "http://" + host


class ConfigError(ValueError):
    """A config file or variable that cannot be used; the message names the file and key."""


@dataclass
class GeneralConfig:
    max_age_days: int = 90  # events, proposals and outcomes older than this are deleted
    interruption_level: int = 3  # 1 = only the surest proposals … 5 = anything plausible
    # when the workspace folder is deleted or moved away: "stop" the daemon cleanly, or "wait" for a
    # folder to be at its path again (watchers off meanwhile; the socket and the store stay up)
    on_workspace_missing: str = "stop"


@dataclass
class RedactionConfig:
    patterns: list[str] = field(default_factory=list)  # extra regexes, replaced by [REDACTED:custom]
    entropy: bool = True  # also redact long high-entropy strings
    secret_files: list[str] = field(default_factory=list)  # extra glob names never read


@dataclass
class WatchConfig:
    debounce_ms: int = 300  # a burst of writes to one file becomes one event after this quiet time
    max_file_bytes: int = 1_000_000  # larger files give an event without content
    ignore: list[str] = field(default_factory=list)  # extra gitignore-style patterns
    dirty_tree_minutes: int = 30  # report uncommitted work that stays this long (0 with no seconds: never)
    dirty_tree_seconds: float = 0.0  # finer control of the same: when > 0 it replaces dirty_tree_minutes
    git_poll_seconds: float = 2.0  # how often the git watcher stats the few files git changes
    test_reports: list[str] = field(default_factory=list)  # JUnit XML globs to watch


@dataclass
class ShellConfig:
    history: bool = True  # tail the shell history files when no hook is installed
    ignore_commands: list[str] = field(default_factory=list)  # regexes of commands never recorded
    history_files: list[str] = field(default_factory=list)  # history files to tail; empty: the shells' defaults
    spool_keep_days: float = 7.0  # spool segments no running daemon has read are deleted after this
    capture_output: str = "failed"  # keep a command's output tail: failed | all | off


@dataclass
class ResultsConfig:
    """The `[tests]` section (not named Test* so that pytest never takes it for a test class)."""
    pytest_report: bool = True  # the shell hook asks pytest for a JUnit report in the spool (PYTEST_ADDOPTS)


@dataclass
class AgentConfig:
    # llama_cpp (the packaged GGUF through llama.cpp, ~6x faster here; falls back to transformers when
    # llama-cpp-python is not installed) | transformers | ollama | scripted (tests and demos)
    backend: str = "llama_cpp"
    model: str = ""  # backend-specific model name, folder or GGUF path; empty means the default
    ollama_host: str = ""  # empty means OLLAMA_HOST or http://127.0.0.1:11434
    # openai backend (any OpenAI-compatible server): its address, e.g. http://127.0.0.1:8080/v1, and the
    # name of the environment variable that holds the API key (the key itself never goes in the config)
    base_url: str = ""
    api_key_env: str = ""
    timeout_s: float = 60.0
    keep_alive: str = "5m"
    max_new_tokens: int = 256
    temperature: float = 0.0
    threads: int = 0  # CPU threads for in-process backends; 0: all cores (transformers), all up to 4 while spare, else 1 (llama_cpp)
    dtype: str = "float32"  # transformers backend: float32 | bfloat16
    max_observation_tokens: int = 600  # budget for the observations in one prompt (newest kept)
    few_shot: bool = True  # show two worked examples to the model before the real step
    # LoRA adapter on the default model (llama_cpp, transformers): "" = the one `companion train agent`
    # activated, else the one shipped with companion; "none" = the untuned model; or an adapter folder.
    # llama_cpp and transformers merge it into the weights (llama_cpp: a Q8_0 copy, built once); with an
    # adapter the prompt is the one it was trained on (no few-shot turns, its observation budget; see
    # docs/personalisation.md).
    adapter: str = ""
    script: str = ""  # scripted backend: a JSON file with the list of replies


@dataclass
class GateConfig:
    kind: str = "reward"  # reward | icl | ollama | openai
    model: str = ""  # for the ollama and openai gates
    icl_shots: int = 8
    timeout_s: float = 20.0  # ollama gate: seconds per judgement before the reward gate answers instead
    ollama_host: str = ""  # ollama gate: empty means agent.ollama_host, then OLLAMA_HOST
    base_url: str = ""  # openai gate: empty means agent.base_url
    api_key_env: str = ""  # openai gate: empty means agent.api_key_env
    memory: bool = True  # reward gate: recall answered situations (ProactiveBench's and yours) before generalising
    encoder: str = "auto"  # reward gate's MiniLM runtime: auto (onnx when it runs) | onnx | torch


@dataclass
class EngineConfig:
    enabled: bool = True
    max_per_hour: int = 6
    cooldown_s: float = 120.0
    backoff_s: float = 900.0  # after an ignored or rejected proposal
    expire_s: float = 600.0  # unanswered proposals become "ignored"
    quiet_hours: str = ""  # e.g. "22:00-07:00"
    snooze_s: float = 1800.0  # a snoozed proposal (and its kind of help) stays away this long
    idle_s: float = 20.0  # a pause after a burst of edits
    # Routine moments stay silent: these two triggers wake the agent only when switched on (on the
    # moments benchmark they produced generic help, not help that names what to do).
    idle_trigger: bool = False  # a pause after a burst of edits (idle_s) calls the agent
    todo_trigger: bool = False  # a new TODO/FIXME in a saved file calls the agent
    repeat_window_s: float = 3600.0  # a task offered or answered this recently is not offered again
    preload: bool = True  # load the agent model when the daemon starts, not at the first trigger


@dataclass
class QuickfixConfig:
    """Rules that turn a failure's evidence into concrete help (companion/quickfix, docs/quickfix.md)."""

    enabled: bool = True
    rules: list[dict] = field(default_factory=list)  # the user's own: [[quickfix.rules]] id, command, output, response
    disabled: list[str] = field(default_factory=list)  # rule ids switched off, e.g. "ports.in_use"
    refine: bool = True  # the model may choose among the rules' candidates and explain them, after they are shown
    max_evidence_tokens: int = 400  # budget for the evidence and candidates in the agent prompt


@dataclass
class EditorConfig:
    show_message: str = "unfocused"  # off | unfocused | always


@dataclass
class EvidenceConfig:
    enabled: bool = True  # keep the workspace's content at green runs; give failures their suspect hunks
    max_store_mb: int = 64  # the snapshot blob store's bound per workspace (oldest greens dropped first)
    max_files: int = 5000  # files per snapshot walk


@dataclass
class Config:
    general: GeneralConfig = field(default_factory=GeneralConfig)
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    shell: ShellConfig = field(default_factory=ShellConfig)
    tests: ResultsConfig = field(default_factory=ResultsConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    quickfix: QuickfixConfig = field(default_factory=QuickfixConfig)
    editor: EditorConfig = field(default_factory=EditorConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    sources: list[str] = field(default_factory=list)  # files that were read, for `doctor`


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Check a TOML value against a field's annotation; ints are accepted where floats are expected."""
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        return [_check_type(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")
    return value


def _field_types(section: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(type(section))
    return {f.name: hints[f.name] for f in dataclasses.fields(section)}


def _apply(config: Config, raw: Mapping[str, Any], origin: str) -> None:
    sections = _field_types(config)
    for name, values in raw.items():
        if name not in sections or name == "sources":
            known = ", ".join(s for s in sections if s != "sources")
            raise ConfigError(f"{origin}: unknown section [{name}] (known: {known})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: [{name}] must be a table")
        section = getattr(config, name)
        types = _field_types(section)
        for key, value in values.items():
            if key not in types:
                raise ConfigError(f"{origin}: unknown key {name}.{key} (known: {', '.join(types)})")
            setattr(section, key, _check_type(value, types[key], f"{origin}: {name}.{key}"))
            if (name, key) == ("quickfix", "rules"):
                _check_user_rules(value, origin)


def _check_user_rules(rules: list[Any], origin: str) -> None:
    """A user quick-fix rule with a broken regex or a missing key is an error naming the file and key."""
    from companion.quickfix.user import UserRuleError, check_rules

    try:
        check_rules(rules, f"{origin}: quickfix.rules")
    except UserRuleError as exc:
        raise ConfigError(str(exc)) from None


def _parse_env_value(text: str, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    try:
        if origin is list:
            return [item.strip() for item in text.split(",") if item.strip()]
        if annotation is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        return annotation(text)
    except ValueError:
        raise ConfigError(f"{where}: cannot read {text!r} as {getattr(annotation, '__name__', annotation)}") from None


def _apply_env(config: Config, environ: Mapping[str, str]) -> None:
    """COMPANION_AGENT_BACKEND=ollama sets [agent] backend; other COMPANION_* names are not settings."""
    sections = {name: getattr(config, name) for name in _field_types(config) if name != "sources"}
    for var, text in environ.items():
        if not var.startswith("COMPANION_"):
            continue
        rest = var[len("COMPANION_"):].lower()
        for name, section in sections.items():
            if rest.startswith(name + "_"):
                key = rest[len(name) + 1:]
                types = _field_types(section)
                if key not in types:
                    raise ConfigError(f"environment variable {var}: unknown key {name}.{key}")
                setattr(section, key, _parse_env_value(text, types[key], f"environment variable {var}"))
                config.sources.append(f"${var}")
                break


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


# The agent backends a config may name ("scripted" replays fixed replies, for tests and benchmarks).
AGENT_BACKENDS = ("transformers", "llama_cpp", "ollama", "openai", "scripted")


def validate(config: Config) -> None:
    """Range checks that types alone cannot express."""
    level = config.general.interruption_level
    if not 1 <= level <= 5:
        raise ConfigError(f"general.interruption_level must be 1 to 5, got {level}")
    if config.agent.backend not in AGENT_BACKENDS:
        raise ConfigError(f"agent.backend must be {', '.join(AGENT_BACKENDS[:-1])} or {AGENT_BACKENDS[-1]}, "
                          f"got {config.agent.backend!r}")
    if config.agent.dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"agent.dtype must be float32 or bfloat16, got {config.agent.dtype!r}")
    if config.gate.kind not in ("reward", "icl", "ollama", "openai"):
        raise ConfigError(f"gate.kind must be reward, icl, ollama or openai, got {config.gate.kind!r}")
    if config.gate.encoder not in ("auto", "onnx", "torch"):
        raise ConfigError(f"gate.encoder must be auto, onnx or torch, got {config.gate.encoder!r}")
    if config.shell.capture_output not in ("failed", "all", "off"):
        raise ConfigError(f"shell.capture_output must be failed, all or off, got {config.shell.capture_output!r}")
    if config.editor.show_message not in ("off", "unfocused", "always"):
        raise ConfigError(f"editor.show_message must be off, unfocused or always, got {config.editor.show_message!r}")


def load_config(workspace: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the user file, then the workspace file, then the environment."""
    config = Config()
    files = [paths.config_file()]
    if workspace is not None:
        files.append(Path(workspace) / WORKSPACE_CONFIG)
    for path in files:
        if path.is_file():
            _apply(config, _read_toml(path), str(path))
            config.sources.append(str(path))
    _apply_env(config, os.environ if environ is None else environ)
    validate(config)
    return config


def to_toml(values: Mapping[str, Mapping[str, Any]]) -> str:
    """Write simple [section] key = value tables (what the TUI settings screen saves)."""
    import json

    lines: list[str] = []
    for section, table in values.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)


def update_config_file(path: Path, section: str, updates: Mapping[str, Any]) -> None:
    """Change some keys of one section of a config file, keeping its other settings."""
    current = _read_toml(path) if path.is_file() else {}
    current.setdefault(section, {}).update(updates)
    probe = Config()
    _apply(probe, current, str(path))  # refuse to write something that would not load
    paths.private_dir(path.parent)
    tmp = paths.private_file(path.with_suffix(".tmp"))
    tmp.write_text(to_toml(current))
    os.replace(tmp, path)
