"""The moments benchmark on the shared repositories: what the companion does at real moments.

    python benchmarks/bench_moments.py [--repos-dir DIR] [--moments 45] [--seed 0] [--setup default|all]
                                       [--check] [--json] [-- EXTRA eval-moments OPTIONS]

Runs `companion eval moments` on every `*.bundle` (and every git folder) in the repositories folder:
`--repos-dir`, else $COMPANION_MOMENTS_REPOS, else ../shared/data/repos beside the repository root.
Prints the per-category table and the figures against the targets below; `--check` exits 1 when a
target is missed. The targets live here, never in timed tests. `--setup all` adds the model-only
and rules-only runs (each part's share). The machine's load is printed: on a shared 2-core machine
the latencies move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {  # figure: (comparison, target); issue 20's table ("Right help at real moments")
    "helpful_recall": (">=", 0.8),
    "grounded": (">=", 0.8),  # failure moments with a surfaced, grounded proposal
    "localized": (">=", 0.8),  # the right file within ±3 lines, or the right command
    "fixed": (">=", 0.6),  # over the failure moments whose proposal was an edit
    "fixed_all": (">=", 0.6),  # over every injected regression: its accepted edit made the failing tests pass
    "false_alarm": ("<=", 0.05),
    "latency_p50_s": ("<=", 1.5),  # trigger -> surfaced proposal
    "latency_p95_s": ("<=", 5.0),
    "seconds": ("<=", 900.0),  # a default run of >= 40 moments on 2 cores
    "gate_right_above_generic": (">=", 0.9),  # issue 20: the gate ranks the right help above generic help
}


def default_repos_dir() -> Path:
    """$COMPANION_MOMENTS_REPOS, else ../shared/data/repos beside this checkout (or beside the main
    checkout, for a git worktree elsewhere)."""
    if os.environ.get("COMPANION_MOMENTS_REPOS"):
        return Path(os.environ["COMPANION_MOMENTS_REPOS"])
    roots = [ROOT]
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=ROOT,
                            capture_output=True, text=True)
    if common.returncode == 0 and common.stdout.strip():
        roots.append(Path(common.stdout.strip()).parent)
    for root in roots:
        candidate = root.parent / "shared" / "data" / "repos"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "repos"


def repositories(folder: Path) -> list[Path]:
    found = sorted(folder.glob("*.bundle"))
    found += sorted(p for p in folder.iterdir() if p.is_dir() and (p / ".git").exists())
    return found


def met(value: float | None, comparison: str, target: float) -> bool:
    if value is None:
        return False
    return value >= target if comparison == ">=" else value <= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos-dir", type=Path, default=None,
                        help="the repositories folder (default: $COMPANION_MOMENTS_REPOS, else ../shared/data/repos)")
    parser.add_argument("--moments", type=int, default=45)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--setup", default="default", choices=["default", "model_only", "rules_only", "all"])
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    parser.add_argument("extra", nargs="*", help="more options for `companion eval moments` (after --)")
    args = parser.parse_args()
    args.repos_dir = args.repos_dir or default_repos_dir()
    if not args.repos_dir.is_dir():
        print(f"bench_moments: no repositories folder at {args.repos_dir}; pass --repos-dir or set "
              "COMPANION_MOMENTS_REPOS", file=sys.stderr)
        return 2
    repos = repositories(args.repos_dir)
    if not repos:
        print(f"bench_moments: no *.bundle or git folder in {args.repos_dir}", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "companion", "eval", "moments", "--json", "--moments", str(args.moments),
               "--seed", str(args.seed), "--setup", args.setup, *[f"--repo={r}" for r in repos], *args.extra]
    load = os.getloadavg()[0]
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, env=env)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        print(f"bench_moments: `companion eval moments` failed (exit {result.returncode})", file=sys.stderr)
        return result.returncode or 2
    report = json.loads(result.stdout)
    wall = time.monotonic() - started
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from companion.moments.report import table

    print(f"moments benchmark: {report['moments']} moments on {len(repos)} repositories, seed {args.seed}, "
          f"backend {report['backend']}, gate {report['gate']}, rules {'on' if report['rules'] else 'off'}; "
          f"{wall:.0f} s wall, load average {load:.1f} at start")
    for name, setup in (report.get("setups") or {"default": report}).items():
        if "moments" not in setup:
            print(f"\n{name}: unavailable ({setup.get('unavailable')})")
            continue
        print(f"\n{name} (helpful recall {setup['helpful_recall']}, false alarm {setup['false_alarm']}, "
              f"{setup['seconds']:.0f} s):\n")
        print(table(setup))
    print("\ntargets:")
    missed = 0
    for key, (comparison, target) in TARGETS.items():
        ok = met(report.get(key), comparison, target)
        missed += not ok
        print(f"  {key:15} {report.get(key)!s:>8} {comparison} {target:<6} {'met' if ok else 'MISSED'}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
