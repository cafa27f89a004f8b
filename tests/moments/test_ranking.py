"""The gate's ranking of right help against generic help (companion/moments/ranking.py), on a real
moment: a `git push` without an upstream, its events in a real store, the real quick-fix rules and
the real proposer scoring the candidate with the shipped reward gate. The ranking sees exactly the
observations the proposer showed the gate, and scores the generic tasks and silence on them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from companion.config import Config
from companion.daemon import event_payload
from companion.engine.proposer import Proposer
from companion.engine.triggers import Trigger
from companion.events import Event
from companion.moments import ranking
from companion.moments.driver import MomentRun
from companion.moments.runner import Result
from companion.moments.scenarios import Expect, Moment
from companion.moments.scoring import score
from companion.quickfix import RuleBook
from companion.redact import Redactor
from companion.store import Store

pytestmark = pytest.mark.slow  # loads MiniLM

BRANCH = "feature/report"
PUSH_OUTPUT = (f"fatal: The current branch {BRANCH} has no upstream branch.\n"
               "To push the current branch and set the remote as upstream, use\n\n"
               f"    git push --set-upstream origin {BRANCH}\n")


class Recording:
    """The shipped gate, remembering what the proposer asked it."""

    def __init__(self, gate):
        self.gate, self.pairs = gate, []

    def score_batch(self, pairs):
        self.pairs.extend(pairs)
        return self.gate.score_batch(pairs)

    def thresholds(self):
        return self.gate.thresholds()


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    import os

    from companion.gate import load_gate

    previous = os.environ.get("COMPANION_MODELS_DIR")
    os.environ["COMPANION_MODELS_DIR"] = str(tmp_path_factory.mktemp("models"))  # never a personal model
    try:
        yield load_gate(Config())
    finally:
        if previous is None:
            os.environ.pop("COMPANION_MODELS_DIR", None)
        else:
            os.environ["COMPANION_MODELS_DIR"] = previous


def push_moment(tmp_path: Path, gate) -> tuple[Result, list[tuple[list[dict], str | None]]]:
    """The moment as the daemon would record it: events in the store, the rules' proposal from the proposer."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    store = Store(tmp_path / "companion.db")
    now = time.time()
    events = [Event(source="companion", kind="companion.started", data={"pid": 1}, workspace=str(workspace), ts=now - 30),
              Event(source="file", kind="file.saved", workspace=str(workspace), ts=now - 20,
                    data={"path": "NOTES.md", "lines_added": 1, "lines_removed": 0}),
              Event(source="shell", kind="shell.command", workspace=str(workspace), ts=now - 10,
                    data={"command": "git commit -qm 'Add notes'", "cwd": str(workspace), "exit_code": 0, "duration_s": 0.1}),
              Event(source="shell", kind="shell.command", workspace=str(workspace), ts=now - 2,
                    data={"command": "git push", "cwd": str(workspace), "exit_code": 128, "duration_s": 0.2,
                          "evidence": {"output": {"tail": PUSH_OUTPUT, "route": "pty"}}})]
    store.add_events(events)
    recording = Recording(gate)
    proposer = Proposer(None, recording, store, workspace, Redactor(), interruption_level=5, rules=RuleBook())
    outcome = proposer.propose(Trigger("failed_command", events[-1]))
    assert outcome.proposal is not None and outcome.proposal.rule == "git.push_upstream"
    outcome.proposal.surfaced = True  # whatever the level: the figure is about the ranking, not the threshold
    moment = Moment(id="repo-12", repo="repo", category="push_no_upstream",
                    expect=Expect(failure=True, commands=[rf"git push (-u|--set-upstream) origin {BRANCH}\b"],
                                  evidence=["git push", BRANCH]))
    run = MomentRun(moment=moment, workspace=workspace, trigger=event_payload(events[-1]),
                    events=[json.loads(json.dumps(event_payload(e))) for e in events],  # as they come over the socket
                    proposals=[json.loads(json.dumps(outcome.proposal.to_dict()))], started_ts=now - 40)
    return Result(moment, run, score(run)), recording.pairs


def test_the_right_candidate_is_scored_on_what_the_engine_showed_the_gate(tmp_path, gate):
    result, asked = push_moment(tmp_path, gate)
    assert result.score.surfaced and result.score.grounded and result.score.localized
    (proposal,) = ranking.right_candidates(result)
    observations = ranking.gate_observations(result.run.events, proposal, result.run.trigger)
    engine_observations, engine_task = asked[0]
    assert engine_task == proposal["task"] == f"Push and set the upstream branch ({BRANCH})"
    assert observations == engine_observations  # the store's events, the daemon's start left out, the evidence line
    assert observations[-1]["event"].startswith("Evidence: ") and "rule: git.push_upstream" in observations[-1]["event"]
    assert not any("started" in o["event"] for o in observations)

    (case,) = ranking.cases_from_results([result])
    (ranked,) = ranking.rank(gate, [case])
    assert set(ranked.generic) == {*ranking.GENERIC_TASKS, ranking.SILENCE}
    assert ranked.score == pytest.approx(gate.score(observations, proposal["task"]), abs=1e-6)
    for task in ranking.GENERIC_TASKS:
        assert ranked.generic[task] == pytest.approx(gate.score(observations, task), abs=1e-6)
    assert ranked.generic[ranking.SILENCE] == pytest.approx(gate.score(observations, None), abs=1e-6)
    assert ranked.above == (ranked.score > max(ranked.generic.values()))


def test_figures_count_moments_without_right_help_as_misses_and_skip_routine_ones(tmp_path, gate):
    result, _ = push_moment(tmp_path, gate)
    generic = {**result.run.proposals[0], "id": "g1", "task": "Help with this task right now.", "response": "",
               "rule": None, "evidence": {}, "operation": "explain"}
    typo = Moment(id="repo-03", repo="repo", category="typo_command",
                  expect=Expect(failure=True, commands=[r"python -m pytest -q"], evidence=["ptyhon -m pytest -q"]))
    missed = MomentRun(moment=typo, trigger=result.run.trigger, events=result.run.events, proposals=[generic],
                       started_ts=result.run.started_ts)
    routine = Moment(id="repo-14", repo="repo", category="routine_commit", expect=Expect(failure=False))
    quiet = MomentRun(moment=routine, events=result.run.events, started_ts=result.run.started_ts)
    broken = MomentRun(moment=Moment(id="repo-05", repo="repo", category="merge_conflict", expect=Expect(failure=True)),
                       error="the daemon did not load its agent within 300 s")
    results = [result, *(Result(r.moment, r, score(r)) for r in (missed, quiet, broken))]
    report = ranking.for_results(results, Config(), gate=gate)
    assert report["failure_moments"] == 2 and report["without_right_candidate"] == 1
    pushed, typed = report["moments"]
    assert typed == {"id": "repo-03", "category": "typo_command", "repo": "repo", "above": False, "right_task": None,
                     "right_score": None, "best_generic": None, "best_generic_score": None}
    assert report[ranking.KEY] == (0.5 if pushed["above"] else 0.0)
    assert report["by_category"] == {"push_no_upstream": 1.0 if pushed["above"] else 0.0, "typo_command": 0.0}
    assert report["ranked"] == (1.0 if pushed["above"] else 0.0)

    from companion.moments import report as reporting
    from companion.moments.runner import Outcome

    outcome = Outcome(results=results, repos=[], config=Config(), setup="rules_only", seconds=1.0, pty=False,
                      ranking=report)
    summary = reporting.summary(outcome)
    assert summary[ranking.KEY] == report[ranking.KEY] and summary["gate_ranking"] is report
    assert summary["by_category"]["typo_command"][ranking.KEY] == 0.0
    assert summary["by_category"]["routine_commit"][ranking.KEY] is None
    assert "gate right above generic" in reporting.table(summary).splitlines()[0]
    assert "the gate ranks the right help above generic help on" in reporting.text(summary)
    problems = reporting.failed_thresholds(summary, {"min_gate_ranking": 0.9})
    assert problems == [f"{ranking.KEY} {reporting._cell(summary[ranking.KEY])} is below --min-gate-ranking 0.9"]


def test_export_rows_give_the_same_cases():
    """`companion eval moments --export` rows: failure moments grouped, the evidence line added once."""
    rows = [json.loads(line) for line in (Path(__file__).resolve().parents[2] / "benchmarks" / "data" /
                                          "learning-stream.jsonl").read_text().splitlines() if line.strip()]
    cases = ranking.cases_from_export(rows)
    assert cases and all(c.category not in ("routine_tests_pass", "routine_commit", "routine_edits") for c in cases)
    right = [c for c in cases if c.right]
    assert right and {c.repo for c in cases} == {"toolz", "python-tabulate"}
    for case in right:
        for observations, task in case.right:
            assert task and sum(o["event"].startswith("Evidence: ") for o in observations) == 1
    again = ranking.export_observations({**rows[0], "obs": ranking.export_observations(rows[0])})
    assert again == ranking.export_observations(rows[0])
