"""One moment end to end, through the product's own parts.

A fresh copy of the repository, the moment's set-up, then a real daemon (`companion run`, engine
on, in its own process group, with its own COMPANION_HOME so store, budget and spool start empty)
and a real interactive bash with the hook, typed into through a pty (inside `companion shell` for
the pty route). The steps are replayed, the daemon's own record is read back over its socket (the
trigger event with its evidence, the proposals with the gate's verdict, the engine's figures),
then everything is stopped. Nothing here decides a score: `scoring` does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from companion import paths
from companion.ipc import Client, IpcError
from companion.moments.interpreter import Interpreter
from companion.moments.repo import Repo, git, git_env, write_identity
from companion.moments.scenarios import Moment, Step
from companion.moments.terminal import CommandTimeout, HookedBash, ShellError

DAEMON_START_S = 300.0  # the first start may convert the model once; a loaded machine builds the gate slowly
EVENT_WAIT_S = 60.0  # the hook's record reaches the daemon within a spool poll; generous for a machine at load 10+
QUIET_S = 2.0  # after the trigger's step, this long without a new trigger ends a failure moment


@dataclass
class Settings:
    """How every moment of a run is driven."""

    config: dict[str, dict[str, Any]]  # TOML sections for each moment's config file
    test_python: Path  # the folder of the python that runs the tests, first on the shell's PATH
    models_dir: Path
    idle_s: float
    step_timeout_s: float  # how long a trigger's step may take
    command_timeout_s: float  # a typed command is interrupted after this
    pty_wrapper: list[str] = field(default_factory=list)  # argv of `companion shell --`, when it exists
    interpreter: Interpreter | None = None  # the repository's own Python: replaces test_python when set


@dataclass
class MomentRun:
    """What happened in one moment, as the daemon recorded it."""

    moment: Moment
    workspace: Path | None = None
    error: str = ""
    trigger: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    started_ts: float = 0.0
    seconds: float = 0.0
    fix: dict[str, Any] | None = None  # the scored edit, accepted through the daemon, then the tests rerun


def scored_proposal(run: "MomentRun") -> dict[str, Any] | None:
    """The proposal a moment is judged by: the first one surfaced after the trigger (for a routine
    moment, the first surfaced at all)."""
    since = run.trigger["ts"] if run.trigger and run.moment.expect.failure else run.started_ts
    surfaced = sorted((p for p in run.proposals if p.get("surfaced") and p.get("ts", 0) >= since - 0.001),
                      key=lambda p: p.get("ts", 0))
    return surfaced[0] if surfaced else None


class Reaper:
    """Every process group a run starts, so Ctrl-C (or any exit) can end them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self.stopping = threading.Event()

    def add(self, pid: int) -> None:
        with self._lock:
            self._groups.add(pid)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._groups.discard(pid)

    def kill_all(self) -> None:
        self.stopping.set()
        with self._lock:
            groups = list(self._groups)
        for pid in groups:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def socket_path(home: Path, workspace: Path) -> Path:
    """The daemon's socket for a workspace under another COMPANION_HOME (paths.runtime_dir's rule)."""
    return home / "run" / f"{paths.workspace_key(workspace)}.sock"


def moment_env(home: Path, user: Path, gitconfig: Path, settings: Settings, tests: bool = True) -> dict[str, str]:
    """The environment of a moment's shell (`tests`: with the PYTHONPATH that makes the tests import
    the copy) or of its daemon (without it: the daemon is companion, not the project)."""
    env = {k: v for k, v in git_env(gitconfig).items() if not k.startswith("COMPANION_")}
    env.update({"COMPANION_HOME": str(home), "COMPANION_MODELS_DIR": str(settings.models_dir), "HOME": str(user),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONDONTWRITEBYTECODE": "1"})
    if settings.interpreter is not None:
        return settings.interpreter.apply(env, tests=tests)
    env["PATH"] = f"{settings.test_python}{os.pathsep}{env.get('PATH', '')}"
    return env


def save_like_an_editor(path: Path, text: str) -> None:
    """Write a temporary file beside the target, then rename it over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.moments~")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


MOMENT_FOLDER = "@MOMENT@"  # in set-up arguments: the moment's own folder (a bare remote lives there)


def run_setup(steps: list[Step], workspace: Path, env: dict[str, str]) -> None:
    for step in steps:
        if step.kind == "git":
            git(workspace, *[a.replace(MOMENT_FOLDER, str(workspace.parent)) for a in step.args], env=env)
        elif step.kind == "write":
            (workspace / step.path).parent.mkdir(parents=True, exist_ok=True)
            (workspace / step.path).write_text(step.text, encoding="utf-8")
        elif step.kind == "append":
            target = workspace / step.path
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            target.write_text(current + ("" if current.endswith("\n") or not current else "\n") + step.text, encoding="utf-8")
        else:
            raise ValueError(f"unknown set-up step {step.kind!r}")


class Session:
    """The daemon and the shell of one moment; `close()` stops both, whatever state they are in."""

    def __init__(self, folder: Path, workspace: Path, settings: Settings, reaper: Reaper, route: str) -> None:
        self.folder, self.workspace, self.settings, self.reaper = folder, workspace, settings, reaper
        self.home, self.user = folder / "home", folder / "user"
        self.home.mkdir(parents=True, exist_ok=True)
        gitconfig = write_identity(self.user)
        self.env = moment_env(self.home, self.user, gitconfig, settings)
        self.daemon_env = moment_env(self.home, self.user, gitconfig, settings, tests=False)
        (self.home / "config.toml").write_text(tomli_w.dumps(settings.config))  # user rules are lists of tables
        self.daemon: subprocess.Popen[bytes] | None = None
        self.client: Client | None = None
        self.shell: HookedBash | None = None
        self.route = route

    def start(self) -> None:
        log = open(self.home / "daemon.out", "ab")
        try:
            self.daemon = subprocess.Popen([sys.executable, "-m", "companion", "run", str(self.workspace), "--quiet"],
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           cwd=self.workspace, env=self.daemon_env, start_new_session=True)
        finally:
            log.close()
        self.reaper.add(self.daemon.pid)
        self._wait_loaded()
        from companion.cli.shell_init import hook_script

        wrapper = self.settings.pty_wrapper if self.route == "pty" else []
        if wrapper and wrapper[0] == sys.executable and self.env.get("PYTHONPATH") != self.daemon_env.get("PYTHONPATH"):
            # the project's copy goes first on the tests' PYTHONPATH; `companion shell` itself ignores it (-E)
            wrapper = [wrapper[0], "-E", *wrapper[1:]]
        self.shell = HookedBash(hook_script("bash"), self.user, self.workspace, self.env,
                                timeout=self.settings.command_timeout_s, wrapper=wrapper)
        self.reaper.add(self.shell.process.pid)

    def _wait_loaded(self) -> None:
        """Until the socket answers and the engine has loaded (or given up on) its agent and gate."""
        deadline = time.monotonic() + DAEMON_START_S
        path = socket_path(self.home, self.workspace)
        agent: dict[str, Any] = {}
        while time.monotonic() < deadline and not self.reaper.stopping.is_set():
            if self.daemon is not None and self.daemon.poll() is not None:
                tail = (self.home / "daemon.out").read_text(errors="replace")[-800:]
                raise RuntimeError(f"the daemon exited at start (code {self.daemon.returncode}): {tail}")
            try:
                if self.client is None:
                    self.client = Client(path, timeout=30.0)
                status = self.status()
                agent = status.get("agent", {})
                if agent.get("loaded") or agent.get("ok") is False or "engine" not in status:
                    return
            except IpcError:
                if self.client is not None:
                    self.client.close()
                    self.client = None
            time.sleep(0.2)
        raise RuntimeError(f"the daemon did not load its agent within {DAEMON_START_S:.0f} s "
                           f"(its last word on it: {agent or 'no answer on its socket'})")

    def status(self) -> dict[str, Any]:
        assert self.client is not None
        return self.client.request("status")["status"]

    def events(self, kinds: list[str] | None = None) -> list[dict[str, Any]]:
        assert self.client is not None
        return self.client.request("events", kinds=kinds, limit=500)["events"]

    def proposals(self) -> list[dict[str, Any]]:
        assert self.client is not None
        return self.client.request("proposals", limit=200)["proposals"]

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()
            self.reaper.discard(self.shell.process.pid)
        if self.client is not None:
            self.client.close()
        if self.daemon is not None:
            if self.daemon.poll() is None:
                try:
                    os.killpg(self.daemon.pid, signal.SIGTERM)
                    self.daemon.wait(15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            try:
                os.killpg(self.daemon.pid, signal.SIGKILL)  # whatever is left of its group
            except (ProcessLookupError, PermissionError):
                pass
            self.daemon.wait(5)
            self.reaper.discard(self.daemon.pid)


def _pending(engine: dict[str, Any]) -> int:
    return int(engine.get("triggers", 0)) - int(engine.get("steps", 0)) - int(engine.get("held", 0))


def _matches(event: dict[str, Any], step: Step, workspace: Path) -> bool:
    data = event.get("data") or {}
    if step.kind == "type":
        return event.get("kind") == "shell.command" and str(data.get("command", "")).strip() == step.text.strip()
    if step.kind == "save":
        path = str(data.get("path") or "")
        return event.get("kind", "").startswith("file.") and (path == step.path or path == str(workspace / step.path))
    return False


def _wait_settled(session: Session, since: float, quiet: float, limit: float) -> None:
    """Until the engine has handled every trigger and `quiet` seconds passed with nothing new."""
    deadline = time.monotonic() + limit
    last = session.status().get("engine", {})
    changed = time.monotonic()
    while time.monotonic() < deadline and not session.reaper.stopping.is_set():
        time.sleep(0.3)
        status = session.status()
        engine = status.get("engine", {})
        if engine.get("triggers") != last.get("triggers") or engine.get("steps") != last.get("steps"):
            changed = time.monotonic()
        last = engine
        unavailable = status.get("agent", {}).get("ok") is False
        if (unavailable or _pending(engine) <= 0) and time.monotonic() - max(changed, since) >= quiet:
            return


def drive(moment: Moment, repo: Repo, folder: Path, settings: Settings, reaper: Reaper) -> MomentRun:
    """Replay one moment; the MomentRun says what the daemon saw and offered (or what went wrong)."""
    run = MomentRun(moment=moment)
    started = time.monotonic()
    session: Session | None = None
    try:
        env = git_env(write_identity(folder / "user"))
        workspace = repo.copy(folder / "ws", env)
        run.workspace = workspace
        run_setup(moment.setup, workspace, env)
        session = Session(folder, workspace, settings, reaper, moment.route)
        session.start()
        run.started_ts = time.time()
        anchor: Step | None = None
        trigger_mono, trigger_wall = time.monotonic(), time.time()
        for step in moment.steps:
            if reaper.stopping.is_set():
                raise KeyboardInterrupt
            if step.trigger:
                trigger_wall = time.time()
            if step.kind == "save":
                save_like_an_editor(workspace / step.path, step.text)
            elif step.kind == "wait":
                time.sleep(step.seconds)
            elif step.kind == "type":
                assert session.shell is not None
                try:
                    printed = session.shell.run(step.text, timeout=settings.command_timeout_s)
                except CommandTimeout as exc:
                    run.error = str(exc)
                    printed = ""
                if step.trigger:
                    run.output = printed[-4000:]
            if step.trigger:
                anchor, trigger_mono = step, time.monotonic()
        if anchor is not None and not run.error:
            deadline = time.monotonic() + EVENT_WAIT_S
            while run.trigger is None and time.monotonic() < deadline:
                found = [e for e in session.events() if _matches(e, anchor, workspace) and e["ts"] >= trigger_wall - 0.5]
                run.trigger = found[-1] if found else None
                if run.trigger is None:
                    time.sleep(0.25)
            if run.trigger is None:
                run.error = f"the daemon never recorded the moment's {anchor.kind} step ({anchor.text or anchor.path!r})"
        if not run.error:
            quiet = QUIET_S if moment.expect.failure else settings.idle_s + QUIET_S
            _wait_settled(session, trigger_mono, quiet, settings.step_timeout_s + quiet + 10)
        run.events = session.events()
        run.proposals = [p for p in session.proposals() if p.get("ts", 0) >= run.started_ts]
        run.engine = session.status().get("engine", {})
        if moment.expect.find_conflict:
            moment.expect.line = first_conflict_line(workspace, moment.expect.file) or moment.expect.line
        run.fix = _accept_edit(session, run)
    except KeyboardInterrupt:
        run.error = "interrupted"
    except (ShellError, IpcError, RuntimeError, OSError, ValueError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        if session is not None:
            session.close()
        if run.fix and run.fix.get("applied") and run.workspace is not None:
            run.fix.update(_rerun_failing(run.workspace, run.moment, session.env if session else {}, settings))
        run.seconds = round(time.monotonic() - started, 2)
    return run


def _accept_edit(session: Session, run: MomentRun) -> dict[str, Any] | None:
    """Accept the scored `edit` through the daemon (the product applies the patch, as on a user's accept)."""
    proposal = scored_proposal(run)
    if proposal is None or proposal.get("operation") != "edit" or not run.moment.expect.rerun:
        return None
    assert session.client is not None
    try:
        reply = session.client.request("outcome", proposal_id=proposal["id"], outcome="accepted", via="moments")
    except IpcError as exc:
        return {"proposal": proposal["id"], "applied": False, "error": str(exc)}
    return {"proposal": proposal["id"], "applied": bool(reply.get("applied"))}


def _rerun_failing(workspace: Path, moment: Moment, env: dict[str, str], settings: Settings) -> dict[str, Any]:
    """The tests the injected change broke, rerun in the harness on the patched copy."""
    from companion.moments.testrun import run_tests

    report = run_tests(moment.expect.rerun, workspace, env, workspace.parent / "fix.xml", settings.command_timeout_s)
    return {"passed": report.passed, "still_failing": report.failed[:20], "exit_code": report.exit_code}


def first_conflict_line(workspace: Path, path: str) -> int:
    try:
        for number, line in enumerate((workspace / path).read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("<<<<<<<"):
                return number
    except (OSError, UnicodeDecodeError):
        pass
    return 0


def dump(run: MomentRun) -> str:
    return json.dumps({"moment": run.moment.to_dict(), "error": run.error, "trigger": run.trigger,
                       "proposals": run.proposals, "engine": run.engine}, default=str)
