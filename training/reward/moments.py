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

Two ways to learn from them:

- **coding heads** (`--coding`, what ships): heads of their own for pairs that end with a
  candidate's evidence line (companion/gate/head.py CODING_HEADS), trained on the moments' rows
  alone. The gate routes only those pairs to them (companion/gate/reward.py `head_for`), so
  ProactiveBench's figures, thresholds and judgement memory stay exactly as they are.
  `evaluate_coding` holds each repository out in turn and ranks its failure moments; `--write
  DIR` (`shipped`: companion/gate/weights) adds the heads trained on every repository to a
  weights folder and records the held-out figures in its card.
- **mixed** (the default without `--coding`): the moments' rows added to ProactiveBench's in the
  same two heads. `evaluate` trains the heads once per repository with that repository's moments held out
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


def without_coding(gate: Any) -> Any:
    """A copy of a reward gate that judges every pair with ProactiveBench's heads."""
    from companion.gate.head import CODING_HEADS

    other = copy.copy(gate)
    other.heads = {k: v for k, v in gate.heads.items() if k not in CODING_HEADS.values()}
    return other


def coding_prepared(cfg: Any, moment_rows: Sequence[MomentRow]) -> Any:
    """Features of the moments' rows alone, category-balanced among themselves."""
    from training.reward import train

    rows = [m.row for m in moment_rows]
    prep = train.prepare(rows, train.embeddings_for(rows, cfg))
    prep.extra["repos"] = [m.repo for m in moment_rows]
    return prep


def fit_coding(prep: Any, cfg: Any, subset: np.ndarray | None = None, deadline: Deadline = NO_LIMIT,
               progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """The two coding heads, trained on the rows in `subset` (None: all)."""
    from companion.gate.head import CODING_HEADS
    from training.reward import train

    return {CODING_HEADS[head]: params for head, params in train.fit(prep, cfg, subset, deadline, progress).items()}


def evaluate_coding(cfg: Any, export: Sequence[dict[str, Any]], augment: bool = True, silence: bool = True,
                    progress: bool = True) -> dict[str, Any]:
    """Per held-out repository: the ranking figure of ProactiveBench's heads alone and of the gate
    with coding heads trained on the other repositories' moments (judgement memory, memory heads
    and thresholds as shipped around both)."""
    import torch
    from tqdm import tqdm

    from companion.gate.reward import SHIPPED_DIR, RewardGate
    from companion.moments import ranking
    from training.reward import train

    deadline = Deadline(cfg.budget_s)
    torch.set_num_threads(max(1, cfg.threads))
    train.seed_everything(cfg.seed)
    started = time.time()
    moment_rows = training_rows(export, augment, silence)
    prep = coding_prepared(cfg, moment_rows)
    repos = np.array(prep.extra["repos"])
    cases = ranking.cases_from_export(export)
    baseline = without_coding(RewardGate(SHIPPED_DIR, memory=True))
    report: dict[str, Any] = {"rows": len(moment_rows), "accepted": sum(m.row.valid and m.row.task is not None
                                                                           for m in moment_rows),
                              "repos": sorted(set(repos.tolist())), "augment": augment,
                              "silence_rows": augment and silence, "by_repo": {}}
    pooled: dict[str, list[Any]] = {"proactivebench_heads": [], "coding_heads": []}
    for repo in tqdm(sorted({c.repo for c in cases}), desc="repositories held out", unit="repo", disable=not progress):
        deadline.check(f"holding out {repo}")
        held = repos == repo
        if held.all():
            continue  # nothing left to train on
        gates = {"proactivebench_heads": baseline, "coding_heads": with_heads(baseline, fit_coding(prep, cfg, ~held, deadline))}
        part = {}
        for name, gate in gates.items():
            ranked = ranking.rank(gate, [c for c in cases if c.repo == repo])
            pooled[name].extend(ranked)
            figures = ranking.figures(ranked)
            part[name] = {k: figures[k] for k in (ranking.KEY, "ranked", "failure_moments", "without_right_candidate")}
        report["by_repo"][repo] = part
    for name, ranked in pooled.items():
        figures = ranking.figures(ranked)
        report[name] = {k: figures[k] for k in (ranking.KEY, "ranked", "failure_moments", "without_right_candidate",
                                                 "by_category", "beaten_by")}
    report["seconds"] = round(time.time() - started, 1)
    return report


def write_coding(cfg: Any, export: Sequence[dict[str, Any]], folder: str | Path, sources: Sequence[str],
                 held_out: dict[str, Any] | None, augment: bool = True, silence: bool = True) -> Path:
    """Add coding heads trained on every repository's moments to the weights in `folder` (its other
    heads untouched) and record the data and the held-out figures in its card."""
    from companion.gate.head import CARD_FILE, read_tensors, save_heads
    from training.reward import train

    train.seed_everything(cfg.seed)
    moment_rows = training_rows(export, augment, silence)
    prep = coding_prepared(cfg, moment_rows)
    heads = read_tensors(folder)
    heads.update(fit_coding(prep, cfg, progress=True))
    card = json.loads((Path(folder) / CARD_FILE).read_text())
    card["coding_heads"] = {"data": [Path(s).name for s in sources], "rows": len(moment_rows),
                            "repos": sorted({m.repo for m in moment_rows}), "augment": augment,
                            "silence_rows": augment and silence,
                            "config": {k: getattr(cfg, k) for k in ("hidden", "dropout", "weight_decay", "lr",
                                                                     "epochs", "members", "seed")},
                            "held_out_ranking": held_out,
                            "rebuild": "python -m training.reward.moments --coding --write shipped --moments "
                                       + ",".join(f"benchmarks/data/{Path(s).name}" for s in sources)}
    return save_heads(folder, heads, card)


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
    parser.add_argument("--coding", action="store_true",
                        help="coding heads of their own (what ships) instead of mixing the moments into ProactiveBench's")
    parser.add_argument("--write", metavar="DIR",
                        help="with --coding: add the heads trained on every repository to this weights folder "
                             "('shipped': companion/gate/weights)")
    args = parser.parse_args(argv)
    cfg = train.RewardTrainConfig(write=False, memory=False, budget_s=args.budget_s, epochs=args.epochs,
                                  threads=args.threads)
    sources = export_paths(args.moments)
    if args.coding:
        from companion.gate.reward import SHIPPED_DIR

        export = read_export(sources)
        report = evaluate_coding(cfg, export, augment=not args.no_augment, silence=not args.no_silence)
        print(json.dumps(report, indent=2))
        if args.write:
            folder = SHIPPED_DIR if args.write == "shipped" else Path(args.write)
            held_out = {k: report[k] for k in ("coding_heads", "proactivebench_heads", "by_repo")}
            print(f"coding heads written to {write_coding(cfg, export, folder, [str(s) for s in sources], held_out, not args.no_augment, not args.no_silence)}")
        return report
    if args.write:
        parser.error("--write needs --coding")
    report = evaluate(cfg, read_export(sources), augment=not args.no_augment,
                      moments_weight=args.moments_weight, cv=not args.no_cv, silence=not args.no_silence)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
