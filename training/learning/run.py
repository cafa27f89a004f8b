"""Every persona's learning curve on its stream: the figures `companion eval learning` prints and
`benchmarks/bench_learning.py` plots.

The moments personas answer the moments benchmark's export (`--moments-export FILE`; by default
the stream shipped in benchmarks/data/ when this is a source checkout). The annotator personas answer ProactiveBench sessions held out from the gate: a few whole sessions are
removed from the base rows, the embedding heads are retrained without them (once), the judgement
memory forgets them, and half of those sessions are the annotator's past, the other half their
future.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from companion.gate.reward import SHIPPED_DIR, shared_encoder
from training.learning.personas import PERSONAS, Persona
from training.learning.replay import Clock, LearningConfig, learning_curve
from training.learning.retrain import base_heads
from training.learning.stream import Candidate, default_moments_export, from_reward_rows, read_moments_export
from training.reward.budget import BudgetExceeded

HELD_OUT_SESSIONS = 4  # ProactiveBench sessions (of 16) that become the annotators' own work


def annotator_stream(seed: int) -> tuple[list[Candidate], list[Any]]:
    """(candidates of the held-out sessions, the base rows without them)."""
    from companion.gate import base_set

    rows = base_set.load_rows()
    sessions = sorted({r.trace_key for r in rows})
    random.Random(seed).shuffle(sessions)
    held = set(sessions[:HELD_OUT_SESSIONS])
    candidates = [Candidate(r.trace_key, c.obs, c.task, "proactivebench", votes=c.votes)
                  for r in rows if r.trace_key in held for c in from_reward_rows([r])]
    return candidates, [r for r in rows if r.trace_key not in held]


def run_personas(names: Sequence[str], cfg: LearningConfig, moments_export: Path | None,
                 progress: bool = True) -> dict[str, Any]:
    """Every named persona's curve within `cfg.budget_s`; `moments_export` None means the shipped
    stream when there is one (`default_moments_export`), and personas that cannot run are listed
    under "skipped" with the reason, never silently left out."""
    from tqdm import tqdm

    personas: list[Persona] = [PERSONAS[n] for n in names]
    moments_export = default_moments_export(moments_export)
    encoder = shared_encoder()
    clock = Clock(cfg.budget_s)
    started = time.monotonic()
    out: dict[str, Any] = {"config": {k: v for k, v in cfg.__dict__.items()}, "personas": {}, "skipped": {},
                           "moments_export": str(moments_export) if moments_export else None}
    moments: list[Candidate] | None = None
    steps = len(personas) * (len(cfg.checkpoints) + 2)
    bar = tqdm(total=steps, desc="learning curves", unit="step", disable=not progress)

    def tick(what: str) -> None:
        bar.set_postfix_str(what[:60])
        bar.update(1)

    with tempfile.TemporaryDirectory(prefix="learning-base-") as tmp:
        annotators: tuple[list[Candidate], list[Any], Path] | None = None
        for persona in personas:
            if persona.stream == "moments":
                if moments_export is None:
                    out["skipped"][persona.name] = "no moments stream: pass --moments-export FILE (`companion eval moments --export FILE`)"
                    bar.update(len(cfg.checkpoints) + 2)
                    continue
                moments = moments if moments is not None else read_moments_export(moments_export)
                out["personas"][persona.name] = learning_curve(persona, moments, cfg, encoder, clock=clock, tick=tick)
            else:
                if annotators is None:
                    bar.set_postfix_str("base heads without the held-out sessions")
                    candidates, base_rows = annotator_stream(cfg.seed)
                    try:
                        weights = base_heads(base_rows, Path(tmp) / "base", encoder, SHIPPED_DIR, cfg.epochs, clock)
                    except BudgetExceeded as exc:
                        out["skipped"][persona.name] = f"no base heads without the held-out sessions: {exc}"
                        bar.update(len(cfg.checkpoints) + 2)
                        continue
                    annotators = (candidates, base_rows, weights)
                candidates, base_rows, weights = annotators
                result = learning_curve(persona, candidates, _by_session(cfg), encoder, weights, base_rows, clock, tick)
                out["personas"][persona.name] = result
    bar.close()
    out["elapsed_s"] = round(time.monotonic() - started, 1)
    return out


def _by_session(cfg: LearningConfig) -> LearningConfig:
    """Annotators: half the held-out sessions are the past, half the future."""
    from dataclasses import replace

    return replace(cfg, future_share=0.5)


def goals(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals per persona: F1 at 50 answers >= base + 0.10, quiet within 5 rejections,
    a change of mind followed within 10 answers. True/False where measured, None where not.

    A kind the base gate already holds back "goes quiet" after 0 rejections without the gate
    having learnt anything, so that is None (not measured), never a pass: in results from before
    `quiet_status` existed (bench_learning.py --from old files) a 0 means exactly that."""
    verdicts = {}
    for name, persona in result.get("personas", {}).items():
        at_50 = next((p for p in persona.get("curve", []) if p["answers"] == 50), None)
        quiet, follows = persona.get("quiet_after_rejections"), persona.get("follows_change_within")
        quiet_measured = (persona.get("quiet_kind") is not None and persona.get("quiet_status") is None
                          and quiet != 0)
        follows_measured = persona.get("changed_kind") is not None and persona.get("follows_status") is None
        verdicts[name] = {"f1_plus_10_at_50": None if at_50 is None or at_50.get("f1") is None
                          else at_50["f1"] >= at_50["base_f1"] + 0.10,
                          "quiet_within_5": quiet is not None and quiet <= 5 if quiet_measured else None,
                          "follows_within_10": follows is not None and follows <= 10 if follows_measured else None}
    return verdicts
