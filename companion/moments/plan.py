"""How many moments of each kind a repository gets, in a seeded, balanced order.

Categories take turns (a cycle), so a short run still covers every kind and a long one repeats
the cycle with new draws. Each kept mutant gives two moments, one per shell route (the plain hook
and `companion shell`), so the routes are compared on the same slip. A repository without tests
still gets its command moments; what it cannot have is said in the notes.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from companion.moments import commands, scenarios, selection
from companion.moments.interpreter import Interpreter
from companion.moments.repo import Repo
from companion.moments.scenarios import Moment
from companion.moments.selection import Baseline, Kept

CYCLE = ("regression", "routine_tests_pass", "typo_command", "regression", "merge_conflict", "routine_edits",
         "missing_module", "regression", "push_no_upstream", "syntax_error", "routine_commit", "dirty_switch")
DECOY_SHARE = 0.5  # regressions that also save a harmless comment in another file (the suspect ranking's test)
NEEDS_TESTS = ("regression", "syntax_error", "routine_tests_pass")
MOMENTS_PER_CYCLE = len(CYCLE) + CYCLE.count("regression")  # each regression is two moments


def mutants_needed(per_repo: int) -> int:
    cycles = -(-per_repo // MOMENTS_PER_CYCLE)
    return cycles * CYCLE.count("regression")


@dataclass
class RepoPlan:
    repo: Repo
    command: str
    baseline: Baseline
    kept: list[Kept]
    notes: list[str] = field(default_factory=list)
    interpreter: Interpreter | None = None  # the tests' Python (see interpreter)
    env: dict[str, str] = field(default_factory=dict)  # the harness's environment with that Python first


def source_files(plan: RepoPlan) -> list[str]:
    """Python source files (not tests) worth editing: covered ones first, else every tracked one."""
    covered = sorted(plan.baseline.covered)
    if covered:
        return covered
    return selection.source_files(plan.repo.base)


def importable_in(base: Path, env: dict[str, str]) -> Callable[[str], bool]:
    """Whether the tests' python can import a module (asked once per module)."""
    known: dict[str, bool] = {}

    def check(module: str) -> bool:
        if module not in known:
            probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 1)"
            result = subprocess.run(["python", "-c", probe, module], cwd=base, env=env, capture_output=True, timeout=60)
            known[module] = result.returncode == 0
        return known[module]

    return check


def build(plan: RepoPlan, count: int, seed: int, importable: Callable[[str], bool], pty: bool) -> list[Moment]:
    """Up to `count` moments for one repository."""
    rng = random.Random(f"{seed}:{plan.repo.name}")
    base, name, command = plan.repo.base, plan.repo.name, plan.command
    has_tests = plan.baseline.usable and not plan.baseline.note.startswith("the test command found no tests")
    sources = source_files(plan)
    mutants = list(plan.kept)
    passing = sorted({t for k in plan.kept for t in k.failing})
    moments: list[Moment] = []
    skipped: dict[str, str] = {}
    slot = 0
    while len(moments) < count and slot < count * 3:
        kind = CYCLE[slot % len(CYCLE)]
        slot += 1
        moment_id = f"{name}-{len(moments) + 1:02d}"
        if kind in NEEDS_TESTS and not has_tests:
            skipped[kind] = "needs a test run the harness can read; see the note above" if plan.baseline.note \
                else "no tests"
            continue
        made: list[Moment | None] = []
        if kind == "regression":
            if not mutants:
                skipped[kind] = (f"only {len(plan.kept)} mutants made 1 to 20 tests fail" if plan.kept
                                 else "no mutant made 1 to 20 tests fail")
                continue
            kept = mutants.pop(0)
            picker = random.Random(f"{seed}:{name}:{moment_id}:decoy")  # its own draws: the others stay as they were
            decoy = scenarios.decoy_edit(base, sources, kept.mutant.path, picker) \
                if picker.random() < DECOY_SHARE else None
            made.append(scenarios.regression(f"{moment_id}-hook", name, kept, command, "hook", base, decoy))
            if pty:  # the same slip and the same decoy on both routes
                made.append(scenarios.regression(f"{moment_id}-pty", name, kept, command, "pty", base, decoy))
            else:
                skipped["regression_pty"] = "`companion shell` is not available in this version"
        elif kind == "syntax_error":
            made.append(scenarios.syntax_error(moment_id, name, rng.choice(plan.kept), command, base, rng)
                        if plan.kept else None)
        elif kind == "routine_tests_pass":
            made.append(scenarios.routine_tests_pass(moment_id, name, rng.sample(passing, min(3, len(passing))), command)
                        if passing else None)
        elif kind == "routine_commit":
            made.append(scenarios.routine_commit(moment_id, name, rng.choice(sources), base, rng) if sources else None)
        elif kind == "routine_edits":
            made.append(scenarios.routine_edits(moment_id, name, rng.choice(sources), base, rng) if sources else None)
        elif kind == "typo_command":
            made.append(commands.typo_command(moment_id, name, command, rng))
        elif kind == "missing_module":
            made.append(commands.missing_module(moment_id, name, base, importable, rng))
        elif kind == "push_no_upstream":
            made.append(commands.push_no_upstream(moment_id, name, rng))
        elif kind == "merge_conflict":
            made.append(commands.merge_conflict(moment_id, name, base, plan.repo.branch, sources, rng) if sources else None)
        elif kind == "dirty_switch":
            made.append(commands.dirty_switch(moment_id, name, base, plan.repo.branch, sources, rng) if sources else None)
        for moment in made:
            if moment is None:
                skipped.setdefault(kind, "nothing in this repository to build it from")
            elif len(moments) < count:
                moments.append(moment)
    plan.notes += [f"{kind}: skipped ({why})" for kind, why in sorted(skipped.items())]
    return moments
