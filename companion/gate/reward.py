"""The default gate: frozen MiniLM sentence embeddings read by two small trained heads.

One head answers "is staying silent right here?" (null task, from the observations alone), the
other "would the user accept this task here?" (task + observations). Both are small MLP
ensembles (a couple of MB) shipped in `companion/gate/weights/` with a card that records how they
were trained, their cross-validation figures and the calibrated interruption-level thresholds.
A personal model retrained by `companion train reward` lives in `models_dir()/gate/current` and
wins over the shipped one.

Before the heads generalise, the judgement memory (companion/gate/memory.py) is asked whether the
same situation, or the one an event before or after it, was judged already — in ProactiveBench's
shipped judgements or in the user's own answers (read from the store at most once a minute, so an
answer counts from the first one). When it was, two small logistic "memory heads" weigh what was
decided there together with the heads' score; otherwise the heads' score stands.

Scoring needs numpy, tokenizers and safetensors only (no torch): loading is quick and a call
costs one MiniLM pass over the task plus any observation not seen in the last few thousand.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from companion import paths
from companion.gate import features
from companion.gate.base import DEFAULT_THRESHOLDS, Observation, evidence_rule, has_evidence
from companion.gate.encoder import SentenceEncoder
from companion.gate.head import CODING_HEADS, MEMORY_HEADS, WEIGHTS_FILE, load_heads
from companion.gate.memory import RECENT as MEMORY_RECENT
from companion.gate.memory import JudgementMemory, head_input, logit
from companion.gate.preference import Answer, PreferenceRecall

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
MAX_OBSERVATIONS = 20  # the heads read the last events and a mean; older ones change little
MEMORY_REFRESH_S = 60.0  # the user's answers are re-read from the store at most this often


def personal_dir() -> Path:
    """Where `companion train reward` keeps the user's models (current/ and previous/)."""
    return paths.models_dir() / "gate"


def active_weights_dir() -> Path:
    current = personal_dir() / "current"
    return current if (current / WEIGHTS_FILE).is_file() else SHIPPED_DIR


_shared_encoders: dict[str, SentenceEncoder] = {}
_encoder_lock = threading.Lock()


def shared_encoder(runtime: str = "auto") -> SentenceEncoder:
    """One encoder per process and runtime (its sentence cache is shared by every gate instance)."""
    with _encoder_lock:
        if runtime not in _shared_encoders:
            _shared_encoders[runtime] = SentenceEncoder(runtime=runtime)
        return _shared_encoders[runtime]


class RewardGate:
    name = "reward"

    def __init__(self, weights_dir: str | Path | None = None, encoder: SentenceEncoder | None = None,
                 store: Any = None, workspace: str | Path | None = None, memory: bool = True,
                 encoder_runtime: str = "auto", base_rows: Sequence[Any] | None = None) -> None:
        self.weights_dir = Path(weights_dir) if weights_dir else active_weights_dir()
        self.heads, self.card = load_heads(self.weights_dir)
        self.encoder = encoder or shared_encoder(encoder_runtime)
        table = self.card.get("thresholds") or {}
        self._thresholds = {level: float(table.get(str(level), DEFAULT_THRESHOLDS[level])) for level in range(1, 6)}
        self.silence_threshold = float(self.card.get("silence_threshold", 0.5))
        self.memory_enabled = memory and all(head in self.heads for head in MEMORY_HEADS)
        self.preference_enabled = memory  # the user's answers on alike proposals (preference.py)
        self._preference: PreferenceRecall | None = None
        self._store = store
        self.workspace = str(workspace) if workspace else None  # as the store keeps it
        self._memory: JudgementMemory | None = None
        self._base_rows: list[Any] | None = list(base_rows) if base_rows is not None else None  # None: the shipped set
        self._memory_read_at = float("-inf")
        self._memory_lock = threading.Lock()

    def judgement_memory(self) -> JudgementMemory | None:
        """ProactiveBench's judgements plus the user's answered proposals (None when switched off)."""
        if not self.memory_enabled:
            return None
        self._refresh()
        return self._memory

    def preference(self) -> PreferenceRecall | None:
        """The user's answers on alike proposals (None when switched off or without a store)."""
        if not self.preference_enabled or self._store is None:
            return None
        self._refresh()
        return self._preference

    def forget_cache(self) -> None:
        """Re-read the user's answers on the next call (after an answer the caller knows about)."""
        with self._memory_lock:
            self._memory_read_at = float("-inf")
            self._memory = None

    def _refresh(self) -> None:
        with self._memory_lock:
            stale = self._store is not None and time.monotonic() - self._memory_read_at > MEMORY_REFRESH_S
            if self._memory is None or stale:
                self._memory, self._preference = self._build_memory()
                self._memory_read_at = time.monotonic()

    def _build_memory(self) -> tuple[JudgementMemory, PreferenceRecall]:
        from companion.gate import base_set

        if self._base_rows is None:
            self._base_rows = base_set.load_rows()
        answered = self._user_rows()
        rows = self._base_rows + [row for row, outcome in answered if outcome != "ignored"]
        vectors = base_set.load_embeddings()
        missing = list(dict.fromkeys(t for r in rows for t in [*(o["event"] for o in r.obs), r.task]
                                     if t is not None and t not in vectors))
        if missing:
            vectors.update(zip(missing, self.encoder.embed(missing)))
        answers = [Answer(vectors[r.task], vectors[r.obs[-1]["event"]], r.valid, evidence_rule(r.obs))
                   for r, _ in answered if r.task is not None]
        return JudgementMemory(rows, vectors), PreferenceRecall(answers)

    def _user_rows(self) -> list[tuple[Any, str]]:
        """The user's answered proposals as (reward row, outcome), oldest first, if a store was given.
        An ignored proposal counts as not welcome for the preference recall only; the judgement
        memory reads accepts and rejects, as ProactiveBench's judgements are."""
        if self._store is None:
            return []
        from companion.gate.reward_data import parse_row
        from companion.gate.user_rows import reward_rows

        rows = []
        for raw in reward_rows(self._store, self.workspace, outcomes=("accepted", "rejected", "ignored")):
            try:
                rows.append((parse_row(raw), str(raw.get("outcome"))))
            except ValueError:
                continue  # an answer whose events could not be rendered into observations
        return rows

    def _vectors(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> dict[str, np.ndarray]:
        texts: list[str] = []
        for observations, task in pairs:
            texts.extend(_event_text(o) for o in list(observations)[-MAX_OBSERVATIONS:])
            if task is not None:
                texts.append(task)
        unique = list(dict.fromkeys(texts))
        return dict(zip(unique, self.encoder.embed(unique))) if unique else {}

    def score_batch(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[float]:
        pairs = [(obs, _clean_task(task)) for obs, task in pairs]
        vectors = self._vectors(pairs)
        by_head: dict[str, tuple[list[np.ndarray], list[int]]] = {}
        for i, (observations, task) in enumerate(pairs):
            recent = [_event_text(o) for o in list(observations)[-MAX_OBSERVATIONS:]] or [""]
            events = np.stack([vectors[t] if t in vectors else self.encoder.embed([t])[0] for t in recent])
            kind = "silence" if task is None else "task"
            row = features.silence_features(events) if task is None else \
                features.task_features(events, vectors[task], len(task.split()))
            rows, at = by_head.setdefault(self.head_for(observations, kind), ([], []))
            rows.append(row)
            at.append(i)
        scores = [0.0] * len(pairs)
        for head, (rows, at) in by_head.items():
            for i, p in zip(at, self.heads[head].probability(np.stack(rows))):
                scores[i] = float(p)
        memory = self.judgement_memory()
        if memory is not None:
            for i, (observations, task) in enumerate(pairs):
                scores[i] = self._recall(memory, observations, task, scores[i], vectors)
        preference = self.preference()
        if preference is not None and preference.count:
            for i, (observations, task) in enumerate(pairs):
                if task is not None:
                    scores[i] = preference.adjust(scores[i], vectors[task], self._last_event(observations, vectors),
                                                  evidence_rule(observations))
        return scores

    def _last_event(self, observations: Sequence[Observation], vectors: dict[str, np.ndarray]) -> np.ndarray:
        last = _event_text(list(observations)[-1]) if observations else " "
        return vectors[last] if last in vectors else self.encoder.embed([last])[0]

    def user_view(self, pairs: Sequence[tuple[Sequence[Observation], str | None]]) -> list[tuple[float, float]]:
        """Per pair: (the share of the user's answers on alike proposals that were accepts, how far
        to trust it, in [0, 1)); (0.5, 0.0) where the user answered nothing alike. The engine lets it
        overrule a rule's confidence (companion/engine/proposer.py `surfacing_score`), so help this
        user keeps rejecting goes quiet even when the evidence makes it plain."""
        preference = self.preference()
        if preference is None or not preference.count:
            return [(0.5, 0.0)] * len(pairs)
        pairs = [(obs, _clean_task(task)) for obs, task in pairs]
        vectors = self._vectors(pairs)
        return [preference.recall(vectors[task], self._last_event(observations, vectors), evidence_rule(observations))
                if task is not None else (0.5, 0.0) for observations, task in pairs]

    def head_for(self, observations: Sequence[Observation], kind: str) -> str:
        """The head that judges a pair: the coding head of its kind ("silence" or "task") when the
        observations end with a candidate's evidence and the weights have coding heads, else the
        ProactiveBench head. ProactiveBench's moments never carry that line, so its figures are the
        same with or without coding heads."""
        coding = CODING_HEADS[kind]
        return coding if coding in self.heads and has_evidence(observations) else kind

    def _recall(self, memory: JudgementMemory, observations: Sequence[Observation], task: str | None,
                content: float, vectors: dict[str, np.ndarray]) -> float:
        """The memory head's score when the memory remembers this moment or its neighbours."""
        events = [_event_text(o) for o in observations] or [" "]
        recent = [vectors[e] if e in vectors else self.encoder.embed([e])[0] for e in events[-MEMORY_RECENT:]]
        facts = memory.context(events, np.stack(recent), task, vectors.get(task) if task else None)
        if facts is None:
            return content
        head = self.heads["memory_silence" if task is None else "memory_task"]
        offset = logit(self.silence_threshold if task is None else self._thresholds[3])
        return float(head.probability(head_input(facts, content), offset)[0])

    def score(self, observations: Sequence[Observation], task: str | None) -> float:
        return self.score_batch([(observations, task)])[0]

    def prepare(self, observations: Sequence[Observation]) -> threading.Thread:
        """Embed the history in the background while the agent thinks, so that the score after its
        reply embeds only the task (the encoder's lock makes a score that comes early wait for it)."""
        texts = [_event_text(o) for o in list(observations)[-MAX_OBSERVATIONS:]]
        worker = threading.Thread(target=self.encoder.embed, args=(texts,), name="gate-prepare", daemon=True)
        worker.start()
        return worker

    def thresholds(self) -> dict[int, float]:
        return dict(self._thresholds)

    def describe(self) -> dict[str, Any]:
        cv = self.card.get("cv", {}).get("balanced", {})
        simulated = self.card.get("simulated_split", {}).get("mean", {})
        return {"gate": self.name, "weights": str(self.weights_dir),
                "cv_accuracy": cv.get("accuracy"), "cv_f1": cv.get("f1"),
                "heldout_accuracy": simulated.get("accuracy"), "heldout_f1": simulated.get("f1"),
                "memory": self.memory_enabled, "encoder": self.encoder.runtime, "thresholds": self.thresholds()}


def _event_text(observation: Observation | str) -> str:
    if isinstance(observation, str):
        return observation
    return str(observation.get("event", "")) or " "


def _clean_task(task: str | None) -> str | None:
    if task is None:
        return None
    task = str(task).strip()
    return task or None
