"""Search which weight matrices of the in-context judge to prune by SVD (no gradients).

After "Enhancing In-Context Learning Performance with just SVD-Based Weight Pruning: A
Theoretical Perspective" (Yao et al., 2024): keeping only the largest singular directions of
some matrices, mostly in deep layers, can raise few-shot accuracy. The search is
derivative-free: for layers deepest first × modules (attention: q,k,v,o; MLP: gate,up,down) ×
keep-ratios of the rank, prune with torch.svd_lowrank, score the judge's few-shot accuracy on a
validation split, keep the best, report it on a separate test split. The plan (layer, module,
ratio) is saved where the `icl` gate applies it at load time. When no pruning beats the
unpruned judge on validation, the saved plan is empty and the report says so.

Cheap on a CPU because the hidden states entering each layer are cached once: a candidate for
layer L re-runs only layers L..N-1 (deep layers first = cheapest first). `budget_s` bounds the
wall time; what was tried is reported.

    python -m training.svd_icl --budget 600 --demos proactivebench
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm import tqdm

from companion.gate.icl_gate import (CONTENT_FREE, Demo, balanced_demos, plan_file, proactivebench_rows, prompt_prefix,
                                question, recent_user_demos)
from companion.gate.icl_forward import PlanStep, PrefixScorer, load_plan, low_rank, module_weights, save_plan

RATIOS = (1.0, 0.9, 0.5, 0.25, 0.1, 0.05, 0.01, 0.005)
USER_CATEGORIES = {True: "accepted", False: "rejected"}


@dataclass
class SvdConfig:
    demos: str = "auto"  # auto (the user's outcomes when enough, else proactivebench) | user | proactivebench | simulated-user
    shots: int = 8
    per_category: int = 8  # validation and test questions per category (category-balanced splits)
    ratios: tuple[float, ...] = RATIOS
    modules: tuple[str, ...] = ("attention", "mlp")
    layers: tuple[int, ...] = ()  # empty = every layer, deepest first
    budget_s: float = 600.0  # seconds of search after the one-off caching pass; at least one pruning is tried
    seed: int = 0
    batch_size: int = 16
    workspace: str | None = None
    model_dir: str | None = None
    out: str | None = None  # plan file (default: where the icl gate reads it)
    save: bool = True


class NotEnoughData(ValueError):
    """Too few answered proposals for a validation and a test split; says how many are needed."""


@dataclass
class Splits:
    source: str
    demos: list[Demo]
    validation: list[dict[str, Any]]
    test: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _category(row: dict[str, Any], by_answer: bool) -> str:
    return USER_CATEGORIES[bool(row["valid"])] if by_answer else str(row.get("category", "?"))


def balanced_split(rows: Sequence[dict[str, Any]], per_category: int, seed: int, by_answer: bool,
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(validation, test, rest): per_category rows of each category in each of the two splits."""
    rng = random.Random(seed)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_category(row, by_answer), []).append(row)
    validation: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for name in sorted(groups):
        members = groups[name][:]
        rng.shuffle(members)
        take = min(per_category, len(members) // 3)
        validation += members[:take]
        test += members[take:2 * take]
        rest += members[2 * take:]
    return validation, test, rest


def user_per_answer(cfg: SvdConfig) -> int:
    """Questions per answer (accepted, rejected) in each split for a real user's data: fewer
    than for ProactiveBench, so the search is usable after a few weeks of answers."""
    return max(2, cfg.per_category // 2)


def simulated_user_rows(seed: int) -> list[dict[str, Any]]:
    """A user simulated from ProactiveBench: only proposals the user saw (a task), accepted
    (Correct-Detection) or rejected (False-Alarm), in a seeded random "time" order."""
    rows = [r for r in proactivebench_rows() if r.get("pred_task")]
    random.Random(seed).shuffle(rows)
    return rows


def make_splits(cfg: SvdConfig, store: Any = None) -> Splits:
    source = cfg.demos
    user_rows: list[dict[str, Any]] = []
    if source in ("auto", "user"):
        from companion.gate.user_rows import reward_rows

        if store is None:
            from companion.store import Store

            with Store() as own:
                user_rows = reward_rows(own, cfg.workspace, outcomes=("accepted", "rejected"))
        else:
            user_rows = reward_rows(store, cfg.workspace, outcomes=("accepted", "rejected"))
        # per answer: a validation and a test share (equal sizes) plus half of the demonstrations
        each = 3 * user_per_answer(cfg) + (cfg.shots + 1) // 2
        accepted = sum(bool(r["valid"]) for r in user_rows)
        rejected = len(user_rows) - accepted
        enough = accepted >= each and rejected >= each
        if source == "user" and not enough:
            raise NotEnoughData(f"the SVD search on your own outcomes needs at least {each} accepted and {each} rejected "
                                f"proposals ({2 * each} answers); you have {accepted} accepted and {rejected} rejected: "
                                f"answer {max(0, each - accepted) + max(0, each - rejected)} more, "
                                "or run with --demos proactivebench")
        source = "user" if enough else "proactivebench"
    if source in ("user", "simulated-user"):
        rows = user_rows if source == "user" else simulated_user_rows(cfg.seed)
        per = user_per_answer(cfg) if source == "user" else cfg.per_category
        validation, test, rest = balanced_split(rows, per, cfg.seed, by_answer=True)
        demos = recent_user_demos(rest, cfg.shots)
        notes = ["simulated user: ProactiveBench rows with a task (accepted = Correct-Detection, rejected = "
                 "False-Alarm)"] if source == "simulated-user" else []
        return Splits(source, demos, validation, test, notes)
    if source != "proactivebench":
        raise ValueError(f"unknown demonstration source {cfg.demos!r}")
    rows = proactivebench_rows()
    if not rows:
        raise NotEnoughData("no ProactiveBench reward data found (set COMPANION_PROACTIVEBENCH to its folder)")
    validation, test, rest = balanced_split(rows, cfg.per_category, cfg.seed, by_answer=False)
    return Splits("proactivebench", balanced_demos(rest, cfg.shots, cfg.seed), validation, test)


class CachedJudge:
    """The judge's hidden states at every layer input for the fixed prefix and questions."""

    def __init__(self, scorer: PrefixScorer, prefix: str, questions: list[str], batch_size: int) -> None:
        self.scorer = scorer
        chunks = [questions[i:i + batch_size] for i in range(0, len(questions), batch_size)]
        layers = set(range(len(scorer.layers)))
        self.prefix_in: dict[int, torch.Tensor] = {}
        pasts = scorer.prefix_keys_from(scorer.embed(prefix, [])[0], 0, inputs=self.prefix_in)
        self.chunks: list[tuple[dict[int, torch.Tensor], torch.Tensor]] = []
        for chunk in tqdm(chunks, desc="caching hidden states", leave=False):
            _, query_h, lengths = scorer.embed("", chunk)
            _, saved = scorer.run(query_h[:1, :0], query_h, 0, keep=layers, pasts=pasts)
            self.chunks.append(({layer: q for layer, (_, q) in saved.items()}, lengths))

    @torch.no_grad()
    def margins(self, start_layer: int) -> torch.Tensor:
        """Margins of all questions with the model's current weights from start_layer on."""
        pasts = self.scorer.prefix_keys_from(self.prefix_in[start_layer], start_layer)
        out = []
        for hidden, lengths in self.chunks:
            final, _ = self.scorer.run(hidden[start_layer][:1, :0], hidden[start_layer], start_layer, pasts=pasts)
            out.append(self.scorer.margins(final, lengths))
        return torch.cat(out)


def accuracy(margins: torch.Tensor, labels: torch.Tensor) -> float:
    """Calibrated decisions (margin above the content-free question's margin, the last entry)."""
    decisions = (margins[:-1] - margins[-1]) > 0
    return float((decisions == labels).float().mean())


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Threshold-free ranking quality: P(an accepted question scores above a rejected one)."""
    positive, negative = scores[labels], scores[~labels]
    if not len(positive) or not len(negative):
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).float().mean()
    ties = (positive[:, None] == negative[None, :]).float().mean()
    return float(greater + 0.5 * ties)


def evaluate(judge: CachedJudge, start_layer: int, n_val: int, labels: torch.Tensor,
             details: dict[str, float] | None = None) -> tuple[float, float]:
    """(validation accuracy, test accuracy); `details` receives the test AUC and accept rate."""
    margins = judge.margins(start_layer)
    val = torch.cat([margins[:n_val], margins[-1:]])
    test = margins[n_val:]
    if details is not None:
        details["test_auc"] = auc(test[:-1], labels[n_val:])
        details["test_accept_rate"] = float(((test[:-1] - test[-1]) > 0).float().mean())
        details["val_auc"] = auc(val[:-1], labels[:n_val])
    return accuracy(val, labels[:n_val]), accuracy(test, labels[n_val:])


def search(cfg: SvdConfig, store: Any = None, model: Any = None, tokenizer: Any = None) -> dict[str, Any]:
    """Run the search; returns the report (table, best plan, baseline and best test accuracy)."""
    started = time.monotonic()
    torch.manual_seed(cfg.seed)
    splits = make_splits(cfg, store)
    if model is None:
        from companion.agent.smollm import load

        model, tokenizer = load(cfg.model_dir)
    scorer = PrefixScorer(model, tokenizer)
    questions = [question(r["obs"], r.get("pred_task")) for r in splits.validation + splits.test]
    questions.append(question(*CONTENT_FREE))
    labels = torch.tensor([bool(r["valid"]) for r in splits.validation + splits.test])
    judge = CachedJudge(scorer, prompt_prefix(splits.demos), questions, cfg.batch_size)
    n_val = len(splits.validation)
    base_details: dict[str, float] = {}
    base_val, base_test = evaluate(judge, len(scorer.layers) - 1, n_val, labels, base_details)
    table: list[dict[str, Any]] = [{"layer": None, "module": None, "ratio": 1.0, "val": base_val, "test": base_test,
                                    **base_details}]
    layers = list(cfg.layers) or list(range(len(scorer.layers) - 1, -1, -1))
    candidates = [(layer, module, ratio) for layer in layers for module in cfg.modules
                  for ratio in cfg.ratios if ratio < 1.0]
    stopped_early = False
    search_started = time.monotonic()  # the budget bounds the search; caching is done once before it
    for layer, module, ratio in tqdm(candidates, desc="svd search"):
        if time.monotonic() - search_started > cfg.budget_s and len(table) > 1:
            stopped_early = True
            break
        linears = module_weights(model, layer, module)
        originals = [linear.weight.detach().clone() for linear in linears]
        try:
            for linear in linears:
                linear.weight.data.copy_(low_rank(linear.weight.data, ratio, cfg.seed))
            details: dict[str, float] = {}
            val, test = evaluate(judge, layer, n_val, labels, details)
        finally:
            for linear, original in zip(linears, originals):
                linear.weight.data.copy_(original)
        table.append({"layer": layer, "module": module, "ratio": ratio, "val": val, "test": test, **details})
    # the best by validation; ties go to the unpruned model, then to the milder pruning
    best = max(table, key=lambda row: (row["val"], row["layer"] is None, row["ratio"]))
    steps = [] if best["layer"] is None else [PlanStep(best["layer"], best["module"], best["ratio"])]
    report = {
        "source": splits.source, "notes": splits.notes, "shots": len(splits.demos),
        "validation": len(splits.validation), "test": len(splits.test),
        "baseline": {"val": base_val, "test": base_test, **base_details}, "best": best, "steps": [asdict(s) for s in steps],
        "improved": bool(steps), "tried": len(table) - 1, "candidates": len(candidates),
        "stopped_by_budget": stopped_early, "seconds": round(time.monotonic() - started, 1),
        "search_seconds": round(time.monotonic() - search_started, 1),
        "config": {k: v for k, v in asdict(cfg).items()}, "table": table,
    }
    if cfg.save:
        target = Path(cfg.out) if cfg.out else plan_file()
        save_plan(target, steps, report={k: v for k, v in report.items() if k != "table"}, table=table)
        load_plan(target)  # what was written reloads
        report["plan_file"] = str(target)
    return report


def format_table(report: dict[str, Any]) -> str:
    lines = ["| layer | module | keep ratio | validation acc | test acc | test AUC | test accept rate |",
             "|---|---|---|---|---|---|---|"]
    for row in report["table"]:
        where = ("—", "— (unpruned)") if row["layer"] is None else (str(row["layer"]), row["module"])
        extra = " | ".join(f"{row[k]:.3f}" if k in row else "—" for k in ("test_auc", "test_accept_rate"))
        lines.append(f"| {where[0]} | {where[1]} | {row['ratio']} | {row['val']:.3f} | {row['test']:.3f} | {extra} |")
    return "\n".join(lines)


def main(cfg: SvdConfig) -> dict[str, Any]:
    report = search(cfg)
    base, best = report["baseline"], report["best"]
    print(f"demonstrations: {report['source']} ({report['shots']} shots); validation {report['validation']}, "
          f"test {report['test']} questions; tried {report['tried']}/{report['candidates']} prunings "
          f"in {report['seconds']} s" + (" (budget reached)" if report["stopped_by_budget"] else ""))
    print(f"unpruned: validation {base['val']:.3f}, test {base['test']:.3f}")
    if report["improved"]:
        print(f"best: layer {best['layer']} {best['module']} keep {best['ratio']}: validation {best['val']:.3f}, "
              f"test {best['test']:.3f}")
    else:
        print("no pruning beat the unpruned judge on validation; the saved plan is empty (no pruning)")
    return report


def _parse(argv: Sequence[str] | None = None) -> tuple[SvdConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=SvdConfig.budget_s)
    parser.add_argument("--demos", default="auto", choices=["auto", "user", "proactivebench", "simulated-user"])
    parser.add_argument("--shots", type=int, default=SvdConfig.shots)
    parser.add_argument("--per-category", type=int, default=SvdConfig.per_category)
    parser.add_argument("--layers", default="", help="comma-separated layers (default: all, deepest first)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--report", default=None, help="also write the full report (JSON) here")
    args = parser.parse_args(argv)
    layers = tuple(int(x) for x in args.layers.split(",") if x.strip())
    cfg = SvdConfig(demos=args.demos, shots=args.shots, per_category=args.per_category, budget_s=args.budget,
                    layers=layers, out=args.out)
    return cfg, args


if __name__ == "__main__":
    config, arguments = _parse()
    result = main(config)
    if arguments.report:
        Path(arguments.report).write_text(json.dumps(result, indent=2))
    print(format_table(result))
