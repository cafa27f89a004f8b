"""The figures of a run, per category and overall; the table people read; the labelled export.

Shares are over the moments where the figure means something: surfaced, grounded and localized
over failure moments (a proposal that surfaced and names the evidence / the right place), fixed
over failure moments whose scored proposal was an `edit` (None when there was none), fixed_all
over every regression moment (an accepted edit that made its failing tests pass; issue 20's "injected
regressions whose proposed revert or patch makes the failing tests pass"), false alarm over routine
moments. helpful_recall: failure moments with a surfaced, grounded and localized
proposal. Moments that could not be driven (an error) are counted apart, not as silence.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Iterable

from companion.moments import CATEGORIES, FAILURE_CATEGORIES
from companion.moments.driver import scored_proposal
from companion.moments.ranking import KEY as RANKING
from companion.moments.runner import Outcome, Result

THRESHOLDS = {"min_helpful": "helpful_recall", "min_grounded": "grounded", "min_localized": "localized",
              "min_fixed": "fixed", "max_false_alarm": "false_alarm", "max_latency_p95": "latency_p95_s",
              "max_latency_p50": "latency_p50_s",
              "min_gate_ranking": RANKING}


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


def figures(results: list[Result]) -> dict[str, Any]:
    """The shares and latencies of a set of moment results (one category, or all)."""
    scored = [r for r in results if not r.run.error]
    failures = [r for r in scored if r.moment.expect.failure]
    routine = [r for r in scored if not r.moment.expect.failure]
    latencies = [r.score.latency_s for r in scored if r.score.surfaced and r.score.latency_s is not None]
    fixes = [bool(r.score.fixed) for r in failures if r.score.fixed is not None]
    regressions = [r for r in failures if r.moment.category.startswith("regression_")]
    return {
        "n": len(results), "errors": len(results) - len(scored),
        "surfaced": _share([r.score.surfaced for r in failures]) if failures else _share([r.score.surfaced for r in routine]),
        "grounded": _share([r.score.surfaced and r.score.grounded for r in failures]),
        "localized": _share([r.score.surfaced and r.score.localized for r in failures]),
        "helpful": _share([r.score.surfaced and r.score.grounded and r.score.localized for r in failures]),
        "fixed": _share(fixes), "fix_tried": len(fixes), "fixed_all": _share([r.score.fixed is True for r in regressions]),
        "false_alarm": _share([r.score.false_alarm for r in routine]),
        "proposed": sum(r.score.proposed for r in scored),
        "latency_p50_s": _percentile(latencies, 50), "latency_p95_s": _percentile(latencies, 95),
    }


def summary(outcome: Outcome) -> dict[str, Any]:
    """The `--json` object."""
    overall = figures(outcome.results)
    agent = outcome.moment_config.get("agent", {})
    by_category = {}
    for category in CATEGORIES:
        chosen = [r for r in outcome.results if r.moment.category == category]
        if chosen:
            by_category[category] = {**figures(chosen), RANKING: outcome.ranking.get("by_category", {}).get(category)}
    return {
        "moments": len(outcome.results), "repos": outcome.repos, "setup": outcome.setup,
        "backend": agent.get("backend", outcome.config.agent.backend), "model": outcome.model,
        "gate": outcome.moment_config.get("gate", {}).get("kind", outcome.config.gate.kind),
        "rules": outcome.rules, "model_on": outcome.model != "none", "pty_route": outcome.pty,
        "helpful_recall": overall["helpful"], "surfaced": overall["surfaced"], "grounded": overall["grounded"],
        "localized": overall["localized"], "fixed": overall["fixed"],
        "fixed_all": overall["fixed_all"], "false_alarm": overall["false_alarm"],
        "latency_p50_s": overall["latency_p50_s"], "latency_p95_s": overall["latency_p95_s"],
        "errors": overall["errors"], "seconds": outcome.seconds, "by_category": by_category,
        RANKING: outcome.ranking.get(RANKING), "gate_ranking": outcome.ranking,
        "failures": {c: by_category[c]["n"] for c in FAILURE_CATEGORIES if c in by_category},
        "details": [detail(r) for r in outcome.results],
    }


def detail(result: Result) -> dict[str, Any]:
    """One moment in the report: what it was, what surfaced, how it scored (or why it could not run)."""
    proposal = scored_proposal(result.run) or {}
    evidence = ((result.run.trigger or {}).get("data") or {}).get("evidence") or {}
    output = evidence.get("output") if isinstance(evidence, dict) else None
    seen = {"output_route": output.get("route") if isinstance(output, dict) else None,
            "failures": len(evidence.get("failures") or []) if isinstance(evidence, dict) else 0,
            "suspects": len(evidence.get("suspects") or []) if isinstance(evidence, dict) else 0}
    return {"id": result.moment.id, "category": result.moment.category, "note": result.moment.note,
            "error": result.run.error, "seconds": result.run.seconds, "evidence": seen, "task": proposal.get("task"),
            "operation": proposal.get("operation"), "rule": proposal.get("rule"),
            **{k: v for k, v in result.score.to_dict().items() if k != "error"}}


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0%}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


def table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per category, then all moments."""
    columns = ["n", "surfaced", "grounded", "localized", "fixed", "fixed_all", "false_alarm", "latency_p50_s", "latency_p95_s",
               RANKING]
    header = "| category | " + " | ".join(c.replace("_s", " s").replace("_", " ") for c in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    for category, row in report["by_category"].items():
        values = [_cell(row.get(c)) if c not in ("latency_p50_s", "latency_p95_s") else
                  (f"{row[c]:.1f}" if row[c] is not None else "–") for c in columns]
        lines.append(f"| {category} | " + " | ".join(values) + " |")
    total = {"n": report["moments"], **{k: report.get(k) for k in columns[1:]}}
    values = [_cell(total[c]) if c not in ("latency_p50_s", "latency_p95_s") else
              (f"{total[c]:.1f}" if total[c] is not None else "–") for c in columns]
    lines.append("| **all** | " + " | ".join(values) + " |")
    return "\n".join(lines)


def text(report: dict[str, Any]) -> str:
    head = (f"{report['moments']} moments on {sum(1 for r in report['repos'] if r.get('ok'))} repositories "
            f"({report['setup']}: backend {report['backend']}, gate {report['gate']}, rules "
            f"{'on' if report['rules'] else 'off'}, model {'on' if report['model_on'] else 'off'}) in {report['seconds']:.0f} s")
    lines = [head, f"helpful recall {_cell(report['helpful_recall'])}, false alarms {_cell(report['false_alarm'])}, "
                   f"{report['errors']} moments could not be driven, the gate ranks the right help above generic "
                   f"help on {_cell(report.get(RANKING))} of failure moments", "", table(report)]
    for moment in report.get("details", []):
        if moment["error"]:
            lines.append(f"- {moment['id']} ({moment['category']}) could not be driven: {moment['error'][:300]}")
    for repo in report["repos"]:
        if not repo.get("ok"):
            lines.append(f"- {repo['source']}: {repo['error']}")
        for note in repo.get("notes", []):
            lines.append(f"- {repo.get('name')}: {note}")
    return "\n".join(lines)


def failed_thresholds(report: dict[str, Any], limits: dict[str, float | None]) -> list[str]:
    """Messages for every threshold the report misses (an unmeasured figure misses a minimum)."""
    problems = []
    for option, key in THRESHOLDS.items():
        limit = limits.get(option)
        if limit is None:
            continue
        value = report.get(key)
        if option.startswith("min") and (value is None or value < limit):
            problems.append(f"{key} {_cell(value)} is below --{option.replace('_', '-')} {limit}")
        if option.startswith("max") and value is not None and value > limit:
            problems.append(f"{key} {_cell(value)} is above --{option.replace('_', '-')} {limit}")
    return problems


def export_rows(results: Iterable[Result]) -> Iterable[dict[str, Any]]:
    """Every proposal of every moment, labelled for training the gate: accepted when it was right
    (grounded and localized on a failure, and its edit fixed it when one was tried), else rejected.
    `obs`/`pred_task`/`valid` are the reward data's shape (training/dataset.py)."""
    from companion.moments.scoring import evidence_names, is_localized, names_any, proposal_text
    from companion.render import observation_time

    for result in results:
        run = result.run
        if run.error:
            continue
        scored = scored_proposal(run)
        for proposal in run.proposals:
            grounded = names_any(proposal_text(proposal), evidence_names(run))
            localized = is_localized(proposal, run)
            fixed = result.score.fixed if scored is not None and proposal.get("id") == scored.get("id") else None
            right = run.moment.expect.failure and grounded and localized and fixed is not False
            observations = [{"time": observation_time(e["ts"]), "event": e.get("text", "")} for e in run.events
                            if e.get("source") != "companion" and e["ts"] <= proposal.get("ts", 0)]
            yield {"moment": {"id": run.moment.id, "repo": run.moment.repo, "category": run.moment.category,
                              "failure": run.moment.expect.failure, "note": run.moment.note},
                   "proposal": proposal, "grounded": grounded, "localized": localized, "fixed": fixed,
                   "label": "accepted" if right else "rejected",
                   "obs": observations, "pred_task": proposal.get("task"), "valid": bool(right)}


def write_export(results: list[Result], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in export_rows(results):
            handle.write(json.dumps(row, default=str) + "\n")
            count += 1
    return count
