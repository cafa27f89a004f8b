"""`companion eval moments --repo PATH [--test-cmd CMD] [--python PATH] [--moments N] [--seed S] [--json]`: what the
companion does at real moments in any git repository (a folder or a bundle): injected regressions,
command errors, routine work, each replayed through a real daemon and a real hooked shell, then
scored (surfaced, grounded, localized, fixed, false alarm; see companion.moments)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from companion.cli import CommandError
from companion.cli._common import print_json

PER_REPO = 15


def register_eval(subparsers: argparse._SubParsersAction) -> None:
    from companion.moments import SETUP_NAMES  # the package's __init__ and the light selection module: cheap
    from companion.moments.selection import SELECTION_SAFETY_S

    parser = subparsers.add_parser("moments", help="replay real moments in a repository and score the help it gets",
                                   description=__doc__)
    parser.add_argument("--repo", action="append", required=True, type=Path, metavar="PATH",
                        help="a git repository folder or bundle (repeat for several)")
    parser.add_argument("--test-cmd", default="python -m pytest -q", metavar="CMD",
                        help="the repository's test command, as typed in a shell; pytest-compatible for the "
                             "regression moments (default: %(default)s)")
    parser.add_argument("--python", type=Path, metavar="PATH",
                        help="the Python (or virtual environment folder) that runs the tests (default: the "
                             "repository's .venv or venv, else $VIRTUAL_ENV, else companion's own)")
    parser.add_argument("--moments", type=int, metavar="N", help=f"moments in all (default: {PER_REPO} per repository)")
    parser.add_argument("--seed", type=int, default=0, help="chooses the mutants and moments (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=max(1, min(os.cpu_count() or 1, 4)),
                        help="moments at a time (default: the cores, at most 4)")
    parser.add_argument("--setup", choices=[*SETUP_NAMES, "all"], default="default",
                        help="default (the configured set-up), model_only (no rules), rules_only (no model), "
                             "or all three, reported side by side")
    from companion.agent.backends import NAMES as BACKENDS

    parser.add_argument("--backend", choices=BACKENDS,
                        help="agent backend (default: agent.backend of the config)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a config value for every moment's daemon (TOML value, e.g. agent.script='\"r.json\"')")
    parser.add_argument("--idle-s", type=float, default=5.0,
                        help="engine.idle_s of the moments' daemons: a routine edit burst ends after this (default: %(default)s)")
    parser.add_argument("--step-timeout", type=float, default=90.0, metavar="S", help="seconds a trigger's step may take")
    parser.add_argument("--command-timeout", type=float, default=120.0, metavar="S",
                        help="a typed command (or a test run of the harness) is interrupted after this")
    parser.add_argument("--baseline-timeout", type=float, default=600.0, metavar="S",
                        help="the baseline (the whole test command once, with coverage) is stopped after this "
                             "(default: %(default)s)")
    parser.add_argument("--selection-timeout", type=float, default=SELECTION_SAFETY_S, metavar="S",
                        help="a safety on one repository's mutant selection (a fixed number of candidates): "
                             "past it the repository gets no regression moments (default: %(default)s)")
    parser.add_argument("--export", type=Path, metavar="FILE", help="write every proposal, labelled, as JSON lines")
    parser.add_argument("--no-cache", action="store_true", help="rerun the baselines and the mutant selection")
    parser.add_argument("--keep", action="store_true", help="keep the moments' folders (printed) for a look")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    for option, help_text in (("--min-helpful", "helpful recall"), ("--min-grounded", "grounded share"),
                              ("--min-localized", "localized share"), ("--min-fixed", "fixed share"),
                              ("--max-false-alarm", "false-alarm share"), ("--max-latency-p50", "p50 latency (s)"),
                              ("--max-latency-p95", "p95 latency (s)"),
                              ("--min-gate-ranking", "share of failure moments where the gate ranks the right help "
                                                     "above every generic task and silence")):
        parser.add_argument(option, type=float, metavar="X", help=f"exit 1 when the {help_text} misses X")
    parser.set_defaults(func=run)


def parse_sets(items: list[str]) -> dict[str, dict[str, object]]:
    import tomllib

    overrides: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise CommandError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare word is a string
        overrides.setdefault(section, {})[name] = parsed
    return overrides


def run(args: argparse.Namespace) -> int:
    from companion.config import load_config
    from companion.moments import report as reporting
    from companion.moments import SETUP_NAMES
    from companion.moments.runner import Options
    from companion.moments.runner import run as run_moments

    if args.moments is not None and args.moments < 1:
        raise CommandError("--moments must be 1 or more")
    for name in ("baseline_timeout", "selection_timeout"):
        if getattr(args, name) <= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be more than 0 seconds")
    if args.python is not None:  # said once, before any set-up starts
        from companion.moments.interpreter import InterpreterError, explicit

        try:
            explicit(args.python)
        except InterpreterError as exc:
            raise CommandError(str(exc)) from None
    config = load_config(Path.cwd())
    if args.backend:
        config.agent.backend = args.backend
    say = (lambda line: print(line, file=sys.stderr, flush=True))  # stdout is the report (or the JSON object)
    setups = list(SETUP_NAMES) if args.setup == "all" else [args.setup]
    reports: dict[str, dict] = {}
    exports = []
    for setup in setups:
        options = Options(repos=args.repo, test_command=args.test_cmd, moments=args.moments or PER_REPO * len(args.repo),
                          seed=args.seed, jobs=max(1, args.jobs), setup=setup, overrides=parse_sets(args.set),
                          idle_s=args.idle_s, step_timeout_s=args.step_timeout, command_timeout_s=args.command_timeout,
                          baseline_timeout_s=args.baseline_timeout, selection_budget_s=args.selection_timeout,
                          python=args.python, cache=not args.no_cache, keep=args.keep, progress=sys.stderr.isatty())
        say(f"set-up {setup}:")
        try:
            outcome = run_moments(options, config, say)
        except ValueError as exc:
            if args.setup == "all":
                say(f"  {exc}; skipped")
                reports[setup] = {"unavailable": str(exc)}
                continue
            raise CommandError(str(exc)) from None
        reports[setup] = reporting.summary(outcome)
        exports.extend(outcome.results)
        if not args.json:
            print(reporting.text(reports[setup]))
            print()
    if not any("moments" in r for r in reports.values()):
        raise CommandError("no set-up could run: " + "; ".join(r.get("unavailable", "") for r in reports.values()))
    main = reports.get("default") if "moments" in reports.get("default", {}) else \
        next(r for r in reports.values() if "moments" in r)
    if args.export:
        count = reporting.write_export(exports, args.export)
        say(f"wrote {count} labelled proposals to {args.export}")
    if args.json:
        print_json({**main, "setups": reports} if len(setups) > 1 else main)
    limits = {key: getattr(args, key) for key in reporting.THRESHOLDS}
    problems = reporting.failed_thresholds(main, limits)
    for problem in problems:
        print(f"companion: {problem}", file=sys.stderr)
    if not main["moments"]:
        print("companion: no moment could be built; see the repositories' errors above", file=sys.stderr)
        return 2
    if main["errors"] == main["moments"]:
        print("companion: no moment could be driven; see the errors above", file=sys.stderr)
        return 2
    return 1 if problems else 0
