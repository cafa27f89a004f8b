"""The user's answered proposals as reward rows in ProactiveBench's shape.

The reward gate's judgement memory and the in-context judge read them at run time (so a user's
answers count from the first one), and `companion export dataset` writes them for retraining; one
reader serves both. Events were redacted when stored; every string is redacted again here (the
rules may have grown since).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from companion.proposals import Outcome, Proposal
from companion.redact import Redactor


@dataclass
class Answered:
    """One answered proposal with the observations the agent saw (redacted)."""

    proposal: Proposal
    outcome: Outcome
    observations: list[dict[str, str]]
    evidence: list[dict[str, Any]] = field(default_factory=list)  # the events' data["evidence"], redacted


def redactor_from_config(workspace: str | None = None) -> Redactor:
    from companion.config import load_config

    settings = load_config(workspace).redaction
    return Redactor(settings.patterns, entropy=settings.entropy, secret_files=settings.secret_files)


def answered(store: Any, workspace: str | None = None, redactor: Redactor | None = None,
             outcomes: Iterable[str] = ("accepted", "rejected", "ignored")) -> list[Answered]:
    """Answered proposals (oldest first) with the rendered, redacted observations they were made on.

    A proposal answered twice (snoozed, then accepted) counts with its last answer.
    """
    from companion.render import observation

    redactor = redactor or Redactor()
    wanted = set(outcomes)
    latest: dict[str, tuple[Proposal, Outcome]] = {}
    for proposal, outcome in store.outcomes(workspace):
        latest.pop(proposal.id, None)
        latest[proposal.id] = (proposal, outcome)
    result: list[Answered] = []
    for proposal, outcome in latest.values():
        if outcome.outcome not in wanted:
            continue
        events = store.events(ids=proposal.event_ids) if proposal.event_ids else []
        observations = [redactor.redact_data(observation(e)) for e in events]
        if not observations:
            continue  # nothing to learn from: the events were forgotten or pruned
        if proposal.rule:  # what the gate saw at run time: the candidate's evidence and its rule
            from companion.quickfix.why import evidence_observation

            observations.append(redactor.redact_data(evidence_observation(proposal.evidence, proposal.rule,
                                                                          proposal.ts, proposal.response)))
        result.append(Answered(proposal, outcome, observations, event_evidence(events, redactor)))
    return result


def event_evidence(events: Iterable[Any], redactor: Redactor) -> list[dict[str, Any]]:
    """The structured evidence of the events that carry it (docs/evidence.md), one dict per event."""
    from companion.events import thaw

    found = []
    for event in events:
        evidence = event.data.get("evidence")
        if evidence:
            found.append({"event_id": event.id, "kind": event.kind, **redactor.redact_data(thaw(evidence))})
    return found


def reward_row(item: Answered, redactor: Redactor) -> dict[str, Any]:
    """ProactiveBench's reward shape: the proposal was right (valid) when the user accepted it; the
    events' structured evidence rides along under "evidence" (the sentences in "obs" carry its gist)."""
    extra = {"evidence": item.evidence} if item.evidence else {}
    return {**extra, "obs": item.observations, "pred_task": redactor.redact(item.proposal.task) if item.proposal.task else None,
            "valid": item.outcome.outcome == "accepted", "outcome": item.outcome.outcome,
            "answer_s": item.outcome.answer_s, "proposal_id": item.proposal.id}


def reward_rows(store: Any, workspace: str | None = None, outcomes: Iterable[str] = ("accepted", "rejected", "ignored"),
                redactor: Redactor | None = None) -> list[dict[str, Any]]:
    redactor = redactor or Redactor()
    return [reward_row(item, redactor) for item in answered(store, workspace, redactor, outcomes)]
