"""A whole benchmark run: repositories prepared, moments planned, driven in parallel, scored.

Everything a run starts lives under one temporary folder and in process groups the Reaper knows:
on Ctrl-C (or SIGTERM) every group is killed and the folder removed, whatever state the moments
were in. Moments run `jobs` at a time (each is a daemon, a shell and the tests: about one core).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from companion import paths
from companion.config import Config, load_config
from companion.moments import interpreter as interpreters
from companion.moments import plan as planning
from companion.moments import ranking as gate_ranking
from companion.moments import testrun
from companion.moments.driver import MomentRun, Reaper, Settings, drive
from companion.moments.repo import Repo, RepoError, git_env, write_identity
from companion.moments.scenarios import Moment
from companion.moments.scoring import Score, score
from companion.moments.selection import (SELECTION_SAFETY_S, Baseline, SelectionTimeout, cache_key, load_cached,
                                         run_baseline, save_cached, select_mutants)

SILENT_MODEL = "@SILENT_MODEL@"  # replaced by a scripted backend's reply file: a model that never proposes
# Config switches of each set-up the report compares; a set-up whose keys this version's config
# does not have is reported as unavailable rather than run wrongly. "No model" is a scripted
# backend that always answers "no task": the rules' proposals stand as they are, nothing is loaded.
SETUPS: dict[str, dict[str, dict[str, Any]]] = {
    "default": {},
    "model_only": {"quickfix": {"enabled": False}},
    "rules_only": {"quickfix": {"enabled": True, "refine": False}, "agent": {"backend": "scripted", "script": SILENT_MODEL}},
}


@dataclass
class Options:
    repos: list[Path]
    test_command: str = "python -m pytest -q"
    moments: int = 45
    seed: int = 0
    jobs: int = 2
    setup: str = "default"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # more config for every moment's daemon
    idle_s: float = 5.0
    step_timeout_s: float = 90.0
    command_timeout_s: float = 120.0
    baseline_timeout_s: float = 600.0
    selection_budget_s: float = SELECTION_SAFETY_S  # a safety: passing it is an error, never a quiet stop
    python: Path | None = None  # --python: the tests' interpreter for every repository (else detected per repository)
    cache: bool = True
    keep: bool = False
    progress: bool = True


@dataclass
class Result:
    moment: Moment
    run: MomentRun
    score: Score


@dataclass
class Outcome:
    results: list[Result]
    repos: list[dict[str, Any]]
    config: Config
    setup: str
    seconds: float
    pty: bool
    moment_config: dict[str, dict[str, Any]] = field(default_factory=dict)  # what every moment's daemon ran with
    ranking: dict[str, Any] = field(default_factory=dict)  # the gate's ranking of right vs generic help (ranking.py)

    @property
    def rules(self) -> bool:
        quickfix = self.moment_config.get("quickfix")
        return bool(quickfix and quickfix.get("enabled", True))

    @property
    def model(self) -> str:
        """The agent model the moments ran ("none" for the set-up without one)."""
        if SETUPS[self.setup].get("agent", {}).get("script") == SILENT_MODEL:
            return "none"
        return str(self.moment_config.get("agent", {}).get("model") or "default")


def missing_switches(setup: dict[str, dict[str, Any]], config: Config) -> list[str]:
    missing = []
    for section, values in setup.items():
        part = getattr(config, section, None)
        for key in values:
            if part is None or not hasattr(part, key):
                missing.append(f"{section}.{key}")
    return missing


def moment_config(config: Config, options: Options, root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The effective config of this run (user file, env) as every moment's config file, engine on,
    with the set-up's switches (its silent model's reply file written under `root`)."""
    sections: dict[str, dict[str, Any]] = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value):
            sections[item.name] = {k: v for k, v in dataclasses.asdict(value).items() if v is not None}
    for extra in (SETUPS[options.setup], options.overrides):
        for section, values in extra.items():
            sections.setdefault(section, {}).update(values)
    sections["engine"].update({"enabled": True, "idle_s": options.idle_s})
    if sections.get("agent", {}).get("script") == SILENT_MODEL:
        script = (root or Path(tempfile.gettempdir())) / "silent-model.json"
        script.write_text(json.dumps([{"purpose": "", "thoughts": "", "task": None, "response": "", "operation": None}]))
        sections["agent"]["script"] = str(script)
    return sections


def pty_wrapper() -> list[str]:
    """`companion shell --` when this version has the pty proxy, else [] (the pty route is skipped)."""
    from companion.cli import build_parser

    parser = build_parser()
    commands = next((a.choices for a in parser._actions if getattr(a, "choices", None) and "run" in a.choices), {})
    return [sys.executable, "-m", "companion", "shell", "--"] if "shell" in commands else []


def prepare(source: Path, options: Options, root: Path, env: dict[str, str],
            say: Callable[[str], None], given: interpreters.Interpreter | None = None) -> planning.RepoPlan:
    """Clone, interpreter, baseline and mutants of one repository (cached per commit, command,
    interpreter and seed). `given`: the --python interpreter, else the repository's own is found."""
    folder = Path(tempfile.mkdtemp(prefix="repo-", dir=root))
    interp = interpreters.choose(source, given)  # before the clone: a .venv of the original folder is not copied
    repo = Repo.clone(source, folder, env)
    interp = interpreters.probe(interpreters.ensure_shim(interp, root / "python"), repo.base, env)
    repo_env = interp.apply(env)
    per_repo = -(-options.moments // max(1, len(options.repos)))
    needed = planning.mutants_needed(per_repo)
    key = cache_key(repo, options.test_command, options.seed, needed, interp.key())
    cache = paths.cache_dir() / "moments" / f"{key}.json"
    cached = load_cached(cache) if options.cache else None
    notes = [f"tests run with {interp.describe()}", *interp.notes]
    if cached is not None:
        baseline, kept = cached
    else:
        say(f"{repo.name}: running the tests once (baseline, with coverage) with {interp.describe()}")
        baseline = run_baseline(repo, options.test_command, repo_env, folder, options.baseline_timeout_s,
                                python=str(interp.python))
        kept = []
        complete = baseline.exit_code is not None  # a run that timed out is tried again next time
        if baseline.usable:
            timeout = options.command_timeout_s if baseline.whole_runs else min(options.command_timeout_s, 120.0)
            try:
                kept = select_mutants(repo, baseline, options.test_command, repo_env, folder, needed, options.seed,
                                      timeout=timeout, budget_s=options.selection_budget_s)
            except SelectionTimeout as exc:
                complete = False
                notes.append(f"{exc}: no regression moments for this repository, so that what is kept never depends "
                             "on the machine's speed (raise --selection-timeout, or use a quicker test command)")
        if complete:
            save_cached(cache, baseline, kept)
    result = planning.RepoPlan(repo=repo, command=options.test_command, baseline=baseline, kept=kept, notes=notes,
                               interpreter=interp, env=repo_env)
    if baseline.failing:
        shown = ", ".join(baseline.failing[:5]) + (" ..." if len(baseline.failing) > 5 else "")
        result.notes.append(f"{len(baseline.failing)} tests fail before any change ({shown}); "
                            "mutants their tests reach are skipped")
    if baseline.note:
        result.notes.append(baseline.note)
    return result


def run(options: Options, config: Config | None = None, say: Callable[[str], None] = lambda line: None) -> Outcome:
    config = config or load_config(Path.cwd())
    missing = missing_switches(SETUPS[options.setup], config)
    if missing:
        raise ValueError(f"the {options.setup} set-up needs config keys this version does not have: {', '.join(missing)}")
    given = interpreters.explicit(options.python) if options.python is not None else None  # a bad one: ValueError
    started = time.monotonic()
    testrun.RUNNING.stopping.clear()
    root = Path(tempfile.mkdtemp(prefix="cm-"))  # short: sockets live below it
    reaper = Reaper()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if threading.current_thread() is threading.main_thread() else None
    try:
        env = git_env(write_identity(root / "harness"))
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        wrapper = pty_wrapper()
        settings = Settings(config=moment_config(config, options, root), test_python=Path(sys.executable).parent,
                            models_dir=paths.models_dir(), idle_s=options.idle_s, step_timeout_s=options.step_timeout_s,
                            command_timeout_s=options.command_timeout_s, pty_wrapper=wrapper)
        plans, repo_rows = _prepare_all(options, root, env, say, given)
        per_repo = -(-options.moments // max(1, len(plans) or 1))
        moments: list[tuple[Moment, planning.RepoPlan]] = []
        for repo_plan in plans:
            importable = planning.importable_in(repo_plan.repo.base, repo_plan.env or env)
            for moment in planning.build(repo_plan, per_repo, options.seed, importable, pty=bool(wrapper)):
                moments.append((moment, repo_plan))
        for row, repo_plan in zip([r for r in repo_rows if r.get("ok")], plans):
            row["notes"] = repo_plan.notes
        results = _drive_all(moments[:options.moments], options, settings, root, reaper)
        ranked_at = time.monotonic()  # the gate is loaded once, here in the harness, after every daemon stopped
        ranking = gate_ranking.for_results(results, config, settings.config, say, progress=options.progress)
        ranking["seconds"] = round(time.monotonic() - ranked_at, 1)
        return Outcome(results=results, repos=repo_rows, config=config, setup=options.setup,
                       seconds=round(time.monotonic() - started, 1), pty=bool(wrapper), moment_config=settings.config,
                       ranking=ranking)
    except KeyboardInterrupt:
        reaper.kill_all()
        testrun.RUNNING.stop_all()
        raise
    finally:
        reaper.kill_all()
        testrun.RUNNING.stop_all()  # baselines or mutant judging still going in other threads
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _prepare_all(options: Options, root: Path, env: dict[str, str], say: Callable[[str], None],
                 given: interpreters.Interpreter | None = None) -> tuple[list[planning.RepoPlan], list[dict[str, Any]]]:
    plans: list[planning.RepoPlan] = []
    rows: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
    try:
        futures = [(source, pool.submit(prepare, source, options, root, env, say, given)) for source in options.repos]
        for source, future in futures:
            try:
                repo_plan = future.result()
            except (RepoError, OSError, subprocess.SubprocessError) as exc:
                say(f"skipping {source}: {exc}")
                rows.append({"source": str(source), "ok": False, "error": str(exc)})
                continue
            plans.append(repo_plan)
            baseline: Baseline = repo_plan.baseline
            rows.append({"source": str(source), "ok": True, "name": repo_plan.repo.name, "commit": repo_plan.repo.commit[:12],
                         "tests": baseline.tests, "baseline_failing": baseline.failing, "baseline_s": baseline.seconds,
                         "mutants": len(repo_plan.kept), "coverage": baseline.coverage,
                         "python": str(repo_plan.interpreter.python) if repo_plan.interpreter else sys.executable})
            for note in repo_plan.notes:
                say(f"{repo_plan.repo.name}: {note}")
    except BaseException:
        testrun.RUNNING.stop_all()  # the other threads' test runs end, and no new one starts
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return plans, rows


def _drive_all(moments: list[tuple[Moment, planning.RepoPlan]], options: Options, settings: Settings, root: Path,
               reaper: Reaper) -> list[Result]:
    from tqdm import tqdm

    results: list[Result] = []
    bar = tqdm(total=len(moments), desc="moments", unit="moment", disable=not options.progress, file=sys.stderr)
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
    pending: dict[Future[MomentRun], Moment] = {}
    try:
        for moment, repo_plan in moments:
            folder = root / moment.id
            future = pool.submit(_one, moment, repo_plan, folder, settings, reaper, options.keep)
            pending[future] = moment
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                moment = pending.pop(future)
                moment_run = future.result()
                results.append(Result(moment, moment_run, score(moment_run)))
                bar.update(1)
                bar.set_postfix_str(moment.id)
    except BaseException:
        reaper.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        bar.close()
    pool.shutdown(wait=True)
    order = {m.id: i for i, (m, _) in enumerate(moments)}
    return sorted(results, key=lambda r: order[r.moment.id])


def _one(moment: Moment, repo_plan: planning.RepoPlan, folder: Path, settings: Settings, reaper: Reaper,
         keep: bool) -> MomentRun:
    folder.mkdir(parents=True, exist_ok=True)
    if repo_plan.interpreter is not None:  # the repository's own Python on the moment's PATH
        settings = dataclasses.replace(settings, interpreter=repo_plan.interpreter)
    try:
        return drive(moment, repo_plan.repo, folder, settings, reaper)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
