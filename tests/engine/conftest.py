"""Engine fixtures: a real daemon (real store, socket, pipeline) with the engine attached to a
scripted backend and a small deterministic gate (the reward gate has its own tests; here the
engine's triggers, budget and bookkeeping are what is checked)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

from companion.agent.backends.scripted import ScriptedBackend
from companion.config import load_config
from companion.engine.engine import Engine
from companion.events import Event
from companion.gate.base import DEFAULT_THRESHOLDS


class KeywordGate:
    """Accepts tasks that mention fixing or installing; everything else scores low."""

    name = "keyword-test-gate"

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, str]], str | None]] = []

    def score(self, observations: Sequence[dict[str, str]], task: str | None) -> float:
        self.calls.append((list(observations), task))
        if task is None:
            return 0.5
        return 0.9 if any(word in task.lower() for word in ("fix", "install", "resolve")) else 0.1

    def score_batch(self, pairs: Sequence[tuple[Sequence[dict[str, str]], str | None]]) -> list[float]:
        return [self.score(o, t) for o, t in pairs]

    def thresholds(self) -> dict[int, float]:
        return dict(DEFAULT_THRESHOLDS)


def reply(task: str | None, response: str = "", operation: str | None = "explain", **extra: Any) -> str:
    return json.dumps({"purpose": "p", "thoughts": "t", "proactive_task": task, "response": response,
                       "operation": operation, **extra})


def run_command(cwd: Path, command: str) -> dict[str, Any]:
    """Run a real shell command and describe it the way the shell hook does."""
    started = time.time()
    done = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True)
    return {"command": command, "cwd": str(cwd), "exit_code": done.returncode,
            "duration_s": round(time.time() - started, 3), "output": (done.stdout + done.stderr)[-2000:]}


@pytest.fixture
def engine_factory(daemon_factory: Callable[..., Any]) -> Callable[..., tuple[Any, Engine, ScriptedBackend, KeywordGate]]:
    def make(root: Path, replies: Sequence[Any], **engine_settings: Any) -> tuple[Any, Engine, ScriptedBackend, KeywordGate]:
        config = load_config(root)
        config.engine.enabled = True
        config.engine.cooldown_s = 0.0
        config.engine.backoff_s = 0.0
        config.engine.idle_s = 3600.0
        config.engine.max_per_hour = 100
        config.agent.timeout_s = 10.0
        config.quickfix.enabled = False  # these tests drive the model path; tests/quickfix drive the rules
        for key, value in engine_settings.items():
            section, name = key.split("__")
            setattr(getattr(config, section), name, value)
        daemon = daemon_factory(root, config=config, services=False)
        backend = ScriptedBackend(list(replies))
        gate = KeywordGate()
        engine = Engine(daemon, backend=backend, gate=gate)
        engine.start()
        daemon.services.append(engine)  # stopped with the daemon
        return daemon, engine, backend, gate

    return make


def emit_command(daemon: Any, root: Path, command: str) -> Event:
    data = run_command(root, command)
    event = Event(source="shell", kind="shell.command", data=data, workspace=str(daemon.workspace))
    daemon.submit(event)
    return event


def save_file(daemon: Any, root: Path, name: str, text: str, **data: Any) -> Event:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    event = Event(source="file", kind="file.saved", workspace=str(daemon.workspace),
                  data={"path": name, "lines": text.count("\n"), **data})
    daemon.submit(event)
    return event


FAILING = f"{sys.executable} -c \"import no_such_module_here\""
