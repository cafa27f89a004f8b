"""Coding moments for the reward gate: labelled rows from the moments benchmark, folds by repository,
and the held-out ranking figure.

    companion eval moments --repo A.bundle --repo B.bundle --setup rules_only --export moments.jsonl
    python -m training.reward.moments --moments moments.jsonl [--moments-weight 3] [--budget-s 900]

The export (companion/moments/report.py) has one row per proposal: `obs`, `pred_task`, `valid`
(grounded, localized and not a failed fix on a failure moment), the proposal and the moment (its
repository). Each becomes a reward row with the proposal's evidence line appended, as the engine
showed it to the gate. With `augment`, every failure moment's observations also give a silence row
judged wrong (help was needed there) and a few generic tasks judged wrong (help that names
nothing of the moment: the issue's "generic ones count as rejected"), and every routine moment's a
silence row judged right. The generic tasks here are other words than the benchmark's fixed probe
(companion/moments/ranking.py GENERIC_TASKS), so the figure does not reward learning its phrases.

`evaluate` trains the heads once per repository with that repository's moments held out
(ProactiveBench and the other repositories' moments in), scores the held-out repository's failure
moments with the ranking of companion/moments/ranking.py (the shipped gate's judgement memory and
thresholds around the new heads), and compares with the shipped gate; then ProactiveBench's CV
accuracy with and without the moments on the same trace folds. Nothing is written: to ship
weights trained with moments, run `python -m training.reward.train --moments FILE` once the
figures say so.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from companion.gate.reward_data import RewardRow
from training.reward.budget import NO_LIMIT, Deadline

# Help that fits any moment, in other words than the benchmark's probe (ranking.GENERIC_TASKS).
TRAIN_GENERIC = ("Help with this?", "Can I help you with anything?", "Look over the recent work together",
                 "Give an overview of the repository", "Offer general assistance with the current session")


@dataclass(frozen=True)
class MomentRow:
    row: RewardRow
    repo: str
    moment: str


def read_export(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The rows of one or more `--export` files (blank and broken lines skipped, with a note)."""
    rows = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{path}:{number}: skipped: not JSON ({exc.msg})")
                continue
            if isinstance(raw, dict) and isinstance(raw.get("moment"), dict) and raw.get("obs"):
                rows.append(raw)
    return rows


def export_paths(value: str) -> list[Path]:
    """`--moments a.jsonl,b.jsonl`: the files, comma-separated."""
    return [Path(p.strip()) for p in value.split(",") if p.strip()]


def training_rows(export: Sequence[dict[str, Any]], augment: bool = True, silence: bool = True) -> list[MomentRow]:
    """Reward rows from export rows (distinct history and task; the first label of a pair wins).
    `augment`: the generic tasks judged wrong at failure moments; with `silence` too, a silence row
    per moment (wrong at a failure, right at a routine moment)."""
    from companion.gate.reward_data import parse_row
    from companion.moments.ranking import export_observations

    out: list[MomentRow] = []
    seen: set[tuple[str, str | None]] = set()

    def add(obs: list[dict[str, str]], task: str | None, valid: bool, repo: str, moment: str) -> None:
        try:
            row = parse_row({"obs": obs, "pred_task": task, "valid": valid})
        except ValueError:
            return
        key = (row.history_key, row.task)
        if key not in seen:
            seen.add(key)
            out.append(MomentRow(row, repo, moment))

    for raw in export:
        moment = raw["moment"]
        repo, name = str(moment.get("repo") or "?"), str(moment.get("id") or "?")
        obs = export_observations(raw)
        if raw.get("pred_task"):
            add(obs, str(raw["pred_task"]), bool(raw.get("valid")), repo, name)
        if augment:
            failure = bool(moment.get("failure"))
            if silence:
                add(obs, None, not failure, repo, name)  # silence: wrong at a failure, right at a routine moment
            if failure:
                for task in TRAIN_GENERIC:
                    add(obs, task, False, repo, name)
    return out


def repo_of(rows: Sequence[RewardRow], moment_rows: Sequence[MomentRow]) -> list[str]:
    """Per row of `rows + [m.row for m in moment_rows]`: its repository ("" for ProactiveBench's)."""
    return [""] * len(rows) + [m.repo for m in moment_rows]


def row_weights(base: Sequence[RewardRow], moment_rows: Sequence[MomentRow], weight: float) -> np.ndarray:
    """Loss weights: ProactiveBench's rows keep the category-balanced weights they have alone, and
    the moments' rows are balanced among themselves, times `weight` (balancing the two together
    would let a hundred moment rows of one category halve ProactiveBench's weight of it)."""
    from training.reward.train import category_weights

    parts = [category_weights(base)]
    if moment_rows:
        parts.append(category_weights([m.row for m in moment_rows]) * weight)
    return np.concatenate(parts).astype(np.float32)


def with_heads(gate: Any, heads: dict[str, dict[str, np.ndarray]]) -> Any:
    """A copy of the shipped reward gate (its encoder, judgement memory, memory heads and thresholds)
    with new embedding heads: how a gate trained with these heads would score at run time."""
    from companion.gate.head import MlpEnsemble

    other = copy.copy(gate)
    other.heads = {**gate.heads, **{name: MlpEnsemble(p["w1"], p["b1"], p["w2"], p["b2"]) for name, p in heads.items()}}
    return other


def evaluate(cfg: Any, export: Sequence[dict[str, Any]], augment: bool = True, moments_weight: float = 1.0,
             cv: bool = True, progress: bool = True, silence: bool = True) -> dict[str, Any]:
    """Per held-out repository: the ranking figure of the shipped gate and of heads trained without
    that repository; then ProactiveBench's trace-fold CV with and without the moments."""
    import torch
    from tqdm import tqdm

    from companion.gate.reward import SHIPPED_DIR, RewardGate
    from companion.moments import ranking
    from training.reward import train

    deadline = Deadline(cfg.budget_s)
    torch.set_num_threads(max(1, cfg.threads))
    train.seed_everything(cfg.seed)
    started = time.time()
    base = train.load_rows(cfg)
    moment_rows = training_rows(export, augment, silence)
    rows = base + [m.row for m in moment_rows]
    repos = repo_of(base, moment_rows)
    vectors = train.embeddings_for(rows, cfg)
    prep = train.prepare(rows, vectors)
    prep.weights = row_weights(base, moment_rows, moments_weight)
    prep.extra["repos"] = repos
    cases = ranking.cases_from_export(export)
    held_out = sorted({m.repo for m in moment_rows} | {c.repo for c in cases})
    shipped = RewardGate(SHIPPED_DIR, memory=True)
    report: dict[str, Any] = {"rows": {"proactivebench": len(base), "moments": len(moment_rows),
                                       "accepted": sum(m.row.valid and m.row.task is not None for m in moment_rows)},
                              "augment": augment, "silence_rows": augment and silence, "moments_weight": moments_weight,
                              "by_repo": {}}
    pooled: dict[str, list[Any]] = {"shipped": [], "trained": []}
    for repo in tqdm(held_out, desc="repositories held out", unit="repo", disable=not progress):
        deadline.check(f"holding out {repo}")
        held = np.array([r == repo for r in repos])
        heads = train.fit(prep, cfg, ~held, deadline, progress=progress)
        repo_cases = [c for c in cases if c.repo == repo]
        part = {}
        for name, gate in (("shipped", shipped), ("trained", with_heads(shipped, heads))):
            ranked = ranking.rank(gate, repo_cases)
            pooled[name].extend(ranked)
            figures = ranking.figures(ranked)
            part[name] = {k: figures[k] for k in (ranking.KEY, "ranked", "failure_moments", "without_right_candidate",
                                                   "beaten_by")}
        report["by_repo"][repo] = part
    for name, ranked in pooled.items():
        figures = ranking.figures(ranked)
        report[name] = {k: figures[k] for k in (ranking.KEY, "ranked", "failure_moments", "without_right_candidate",
                                                 "by_category", "beaten_by")}
    if cv:
        report["proactivebench_cv"] = proactivebench_cv(cfg, base, prep, deadline)
    report["seconds"] = round(time.time() - started, 1)
    return report


def proactivebench_cv(cfg: Any, base: Sequence[RewardRow], prep: Any, deadline: Deadline = NO_LIMIT) -> dict[str, Any]:
    """ProactiveBench's category-balanced CV accuracy on the same trace folds, heads trained
    without and with the moments (the moments' repositories spread over the folds)."""
    from training.reward import train

    n = len(base)
    plain = train.Prepared(list(base), prep.x_silence[prep.null_index < n], prep.x_task[prep.task_index < n],
                           prep.null_index[prep.null_index < n], prep.task_index[prep.task_index < n],
                           train.category_weights(base), prep.labels[:n].copy())
    trace_cfg = dataclasses.replace(cfg, group_by="trace")
    alone = train.cross_validate(plain, trace_cfg, deadline)
    mixed = train.cross_validate(prep, dataclasses.replace(cfg, group_by="repo"), deadline)
    out = {}
    for name, oof in (("without_moments", alone), ("with_moments", mixed[:n])):
        balanced = train.figures(base, oof)["balanced"]
        out[name] = {k: balanced[k] for k in ("accuracy", "f1", "per_category")}
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from training.reward import train

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moments", required=True, help="moments export JSONL (comma-separated for several)")
    parser.add_argument("--moments-weight", type=float, default=1.0,
                        help="loss weight of the moments' rows, balanced among themselves (ProactiveBench's: 1)")
    parser.add_argument("--no-augment", action="store_true", help="the export's rows only (no silence or generic rows)")
    parser.add_argument("--no-silence", action="store_true", help="no silence rows (the silence head stays as it is)")
    parser.add_argument("--no-cv", action="store_true", help="skip ProactiveBench's CV with and without the moments")
    parser.add_argument("--budget-s", type=float, default=1800.0, help="stop after this many seconds (0: no limit)")
    parser.add_argument("--epochs", type=int, default=train.RewardTrainConfig.epochs)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    cfg = train.RewardTrainConfig(write=False, memory=False, budget_s=args.budget_s, epochs=args.epochs,
                                  threads=args.threads)
    report = evaluate(cfg, read_export(export_paths(args.moments)), augment=not args.no_augment,
                      moments_weight=args.moments_weight, cv=not args.no_cv, silence=not args.no_silence)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
