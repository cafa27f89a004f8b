"""The judgement memory: what it recalls about a question, what it forgets on request, its heads'
training on a real slice of ProactiveBench, the held-out split drawn like ProactiveBench's, and
the user's own answers (from a real store) counting in the gate from the first one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from companion.gate.reward_data import parse_row, read_rows
from companion.gate.memory import HISTORY_DIM, TASK_DIM, JudgementMemory, help_signal
from companion.gate.reward import RewardGate
from companion.proposals import Outcome, Proposal
from companion.store import Store
from tests.gate.test_personal import fill_store
from companion.gate import base_set
from training.reward import heldout, memory_head

ROWS = base_set.load_rows()


@pytest.fixture(scope="module")
def vectors() -> dict[str, np.ndarray]:
    return base_set.load_embeddings()


def rows_of_one_history(predicate) -> list[int]:
    """Indices of the rows of the first history that has a null row and tasks, and fits `predicate`."""
    by_history: dict[str, list[int]] = {}
    for i, row in enumerate(ROWS):
        by_history.setdefault(row.history_key, []).append(i)
    for members in by_history.values():
        kinds = {ROWS[i].task is None for i in members}
        if kinds == {True, False} and predicate([ROWS[i] for i in members]):
            return members
    raise AssertionError("no such history in the base set")


def ask(memory, vectors, row, exclude=frozenset()):
    return memory_head.ask(memory, vectors, row, exclude)


def test_rows_carry_the_annotators_votes_and_bad_ones_are_reported(tmp_path) -> None:
    row = parse_row({"obs": [{"time": "1", "event": "e"}], "pred_task": "t", "valid": True,
                     "help_needed": True, "annotation": [True, True, False]})
    assert row.help_needed is True and row.votes == (True, True, False)
    assert row.agreement == pytest.approx(2 / 3) and row.agreeing == 2 and row.accept_share == pytest.approx(2 / 3)
    assert parse_row({"obs": [{"time": "1", "event": "e"}], "pred_task": None, "valid": False}).accept_share == 0.0
    data = tmp_path / "rows.jsonl"
    good = {"obs": [{"time": "1", "event": "e"}], "pred_task": "t", "valid": True}
    data.write_text("\n".join([json.dumps(good), json.dumps({**good, "annotation": "yes"}),
                               json.dumps({**good, "help_needed": "no"})]) + "\n")
    rows, problems = read_rows(data)
    assert len(rows) == 1
    assert [line for line, _ in problems] == [2, 3]
    assert "annotation" in problems[0][1] and "help_needed" in problems[1][1]


def test_the_shipped_base_set_keeps_the_annotations() -> None:
    assert all(r.help_needed is not None and r.votes for r in ROWS)
    missed = [r for r in ROWS if r.category.startswith("Missed")]
    assert all(r.help_needed and help_signal(r) for r in missed)


def test_a_known_history_is_recalled_and_forgetting_it_leaves_only_its_neighbours(vectors) -> None:
    memory = JudgementMemory(ROWS, vectors)
    members = rows_of_one_history(lambda rows: rows[0].help_needed)
    null_row = next(ROWS[i] for i in members if ROWS[i].task is None)
    facts = ask(memory, vectors, null_row, frozenset({members[0]}))
    assert facts.shape == (HISTORY_DIM,)
    assert facts[0] == 1.0 and facts[1] == 1.0  # the same history is remembered, and it needed help
    task_row = next(ROWS[i] for i in members if ROWS[i].task is not None)
    task_facts = ask(memory, vectors, task_row)
    assert task_facts.shape == (HISTORY_DIM + TASK_DIM,)
    assert task_facts[HISTORY_DIM + 5] == pytest.approx(1.0, abs=1e-3) or task_facts[HISTORY_DIM + 6] == pytest.approx(1.0, abs=1e-3)
    whole_history = frozenset(members)
    forgotten = ask(memory, vectors, null_row, whole_history)
    if forgotten is not None:  # a neighbouring moment of the session is still remembered
        assert forgotten[0] == 0.0 and (forgotten[2] == 1.0 or forgotten[4] == 1.0)
    alone = JudgementMemory([ROWS[i] for i in members], vectors)
    assert ask(alone, vectors, null_row, frozenset(range(len(members)))) is None


def test_the_fast_recall_gives_what_the_row_by_row_recall_gives(vectors) -> None:
    """With nothing excluded the memory reads votes from a table and ranks neighbours with one
    partial sort; excluding an index no row has takes the row-by-row path with the same meaning."""
    memory = JudgementMemory(ROWS, vectors)
    for row in ROWS[::37]:
        fast = ask(memory, vectors, row)
        slow = ask(memory, vectors, row, frozenset({-1}))
        assert (fast is None) == (slow is None)
        if fast is not None:
            np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)


def test_memory_heads_learn_from_a_slice_and_lower_their_loss(vectors) -> None:
    import torch

    rows = ROWS[::4]
    memory = JudgementMemory(rows, vectors)
    content = np.full(len(rows), 0.5)
    weights = np.ones(len(rows), np.float32)
    data = memory_head.examples(memory, vectors, content, np.ones(len(rows), bool), weights)
    assert set(data) == {"memory_silence", "memory_task"}
    x, y, w = data["memory_task"]
    assert x.shape[1] == HISTORY_DIM + TASK_DIM + 1 and len(x) == len(y) == len(w)
    params = memory_head.fit_logistic(x, y, w)
    logits = torch.from_numpy(x @ params["w"] + params["b"][0])
    fitted = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(y)).item()
    assert fitted < np.log(2) - 0.02  # better than the all-zero start, which scores log 2


def test_the_agreement_experiment_trains_the_memory_head_on_the_labels_it_is_given(vectors) -> None:
    from experiments import reward_agreement_weighting as agreement_weighting
    from training.reward import train

    rows = ROWS[::6]
    prep = train.prepare(rows, vectors)
    memory = JudgementMemory(rows, vectors)
    content = np.full(len(rows), 0.5)
    everything = np.ones(len(rows), bool)
    shipped_labels, shipped_weights = agreement_weighting.VARIANTS[next(iter(agreement_weighting.VARIANTS))](prep)
    default = memory_head.examples(memory, vectors, content, everything, shipped_weights)
    explicit = memory_head.examples(memory, vectors, content, everything, shipped_weights, shipped_labels)
    for head in default:
        np.testing.assert_array_equal(default[head][1], explicit[head][1])
    soft_labels, _ = agreement_weighting.VARIANTS["E17 the annotators' share as a soft label (tasks)"](prep)
    soft = memory_head.examples(memory, vectors, content, everything, shipped_weights, soft_labels)
    assert set(np.unique(soft["memory_task"][1])) > {0.0, 1.0}  # the annotators' shares, not only 0/1
    _, double = agreement_weighting.VARIANTS["E20 unanimous rows weigh double"](prep)
    assert np.all(double >= shipped_weights) and np.any(double > shipped_weights)


def test_simulated_held_out_split_is_drawn_like_proactivebench() -> None:
    test = heldout.simulated_split(ROWS, seed=3)
    chosen = [r for r, t in zip(ROWS, test) if t]
    for category in {r.category for r in ROWS}:
        members = [r for r in chosen if r.category == category]
        assert 0 < len(members) <= heldout.PER_CATEGORY
        assert all(r.agreeing >= 2 for r in members)
    unanimous_cd = [r for r in chosen if r.category.startswith("Correct-Det") and r.agreeing == 3]
    assert len(unanimous_cd) == heldout.PER_CATEGORY  # enough unanimous rows: they go first
    assert not np.array_equal(test, heldout.simulated_split(ROWS, seed=4))


@pytest.mark.slow
def test_the_users_own_answers_count_from_the_first_one(tmp_path) -> None:
    """A real store with answered proposals: the gate recalls the moment right after an answer."""
    store = Store(tmp_path / "store.db")
    fill_store(store, 4, workspace="/tmp/ws")
    gate = RewardGate(store=store, workspace="/tmp/ws")
    if not gate.memory_enabled:
        pytest.skip("the active weights predate the memory heads")
    from companion.gate.user_rows import reward_rows

    answered = reward_rows(store, "/tmp/ws", outcomes=("accepted", "rejected"))
    assert answered, "the store's answers become memory rows"
    memory = gate.judgement_memory()
    assert len(memory) == len(ROWS) + len(answered)
    accepted = next(r for r in answered if r["valid"])
    later = accepted["obs"] + [{"time": "9999", "event": "The user saves the file again."}]
    with_memory = gate.score(later, accepted["pred_task"])
    without = RewardGate(memory=False).score(later, accepted["pred_task"])
    assert with_memory != pytest.approx(without)
    events = [o["event"] for o in later]
    assert memory.context(events, gate.encoder.embed(events), accepted["pred_task"],
                          gate.encoder.embed([accepted["pred_task"]])[0]) is not None
    store.close()


def test_one_rejection_of_a_rules_help_quiets_alike_help_however_sure_the_rule(tmp_path) -> None:
    """A real store where the user rejected the rules' `git status` fix once: the engine's surfacing
    score for the same help at the next typo falls under level 3's threshold, though the rule's
    confidence alone (noisy-OR with the gate) would clear it; unrelated help is untouched, and an
    accept brings it back."""
    from companion.engine.proposer import surfacing_score
    from companion.events import Event
    from companion.proposals import Outcome, Proposal

    store = Store(tmp_path / "store.db")
    workspace = "/tmp/ws-rules"
    gate = RewardGate(store=store, workspace=workspace)
    typo = [{"time": "Mon 10:00", "event": "The user ran `gti status` in `.`; it failed (exit 127) after 0.0 s."},
            {"time": "Mon 10:00", "event": "Evidence: output: bash: gti: command not found; rule: commands.not_found"}]
    task, other = "Run `git status` instead of `gti status`", "Install the missing package requests"

    def answer(outcome: str, ts: float) -> None:
        events = [Event("companion", "companion.replayed", {"sentence": o["event"]}, workspace, ts=ts + i)
                  for i, o in enumerate(typo)]
        store.add_events(events)
        proposal = Proposal(task=task, operation="run_command", rule="commands.not_found", surfaced=True, status="open",
                            event_ids=[e.id for e in events], workspace=workspace, ts=ts + 5)
        store.save_proposal(proposal)
        store.record_outcome(Outcome(proposal.id, outcome, answer_s=2.0, via="test", ts=ts + 7))
        gate.forget_cache()

    threshold = gate.thresholds()[3]
    before = surfacing_score(0.85, gate.score(typo, task), gate.user_view([(typo, task)])[0])
    assert before >= threshold and gate.user_view([(typo, task)]) == [(0.5, 0.0)]
    answer("rejected", 1_800_000_000.0)
    [(accepted, trust)] = gate.user_view([(typo, task)])
    assert accepted == 0.0 and trust > 0.5
    assert surfacing_score(0.85, gate.score(typo, task), (accepted, trust)) < threshold  # quiet after one rejection
    [(_, unrelated_trust)] = gate.user_view([(typo, other)])
    assert unrelated_trust < trust  # help unlike it keeps the rule's say
    answer("accepted", 1_800_000_100.0)
    answer("accepted", 1_800_000_200.0)
    [(accepted, trust)] = gate.user_view([(typo, task)])
    assert surfacing_score(0.85, gate.score(typo, task), (accepted, trust)) >= threshold  # the user changed their mind
    store.close()


def test_help_from_the_same_rule_is_alike_whatever_its_words() -> None:
    """The user rejected a revert of one file; the revert of another file (other words, another
    moment) is the same kind of help: the recall trusts that rejection for it, and not for help of
    another rule or of the model with the same unrelated words."""
    from companion.gate.base import evidence_rule
    from companion.gate.preference import Answer, PreferenceRecall

    basis = np.eye(4, dtype=np.float32)
    rejected = Answer(basis[0], basis[1], accepted=False, rule="regression.revert")
    recall = PreferenceRecall([rejected])
    accepted, trust = recall.recall(basis[2], basis[3], "regression.revert")
    assert accepted == 0.0 and trust > 0.4
    assert recall.recall(basis[2], basis[3], "imports.python_missing") == (0.5, 0.0)
    assert recall.recall(basis[2], basis[3], None) == (0.5, 0.0)
    line = [{"time": "t", "event": "Evidence: tests/a.py::test_x failed: assert 1 == 2; rule: regression.revert"}]
    assert evidence_rule(line) == "regression.revert" and evidence_rule([{"time": "t", "event": "saved a.py"}]) is None
