"""Simulated users: stated, consistent preferences over the candidates of a recorded stream.

Each persona answers a candidate `accepted`, `rejected` or `ignored` from what it is (the kind of
moment, whether it names the evidence, whether a rule made it), never from the gate's score, so
what the gate learns is the user's preference and nothing else. The annotator personas answer
ProactiveBench's rows with one annotator's own recorded votes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from training.learning.stream import Candidate

TEST_KINDS = frozenset({"regression_hook", "regression_pty", "merge_conflict", "syntax_error"})
COMMAND_KINDS = frozenset({"missing_module", "typo_command", "push_no_upstream", "dirty_switch"})

Verdict = Callable[[Candidate], str]


@dataclass(frozen=True)
class Persona:
    name: str
    says: str  # the preference in words (docs, --json)
    verdict: Verdict
    stream: str = "moments"  # which stream it answers: moments | proactivebench

    def answer(self, candidate: Candidate) -> str:
        return self.verdict(candidate)

    def welcomes(self, candidate: Candidate) -> bool:
        return self.answer(candidate) == "accepted"


def _tests_and_conflicts(c: Candidate) -> str:
    return "accepted" if c.kind in TEST_KINDS and c.failure and (c.grounded or c.rule) else "rejected"


def _installs_and_commands(c: Candidate) -> str:
    wanted = c.kind in COMMAND_KINDS and (c.operation == "run_command" or c.rule is not None or c.grounded)
    return "accepted" if wanted else "rejected"


def _quiet_while_editing(c: Candidate) -> str:
    if c.edit_burst:
        return "ignored"
    return "accepted" if c.failure and c.grounded else "rejected"


def _annotator(index: int) -> Verdict:
    return lambda c: "accepted" if len(c.votes) > index and c.votes[index] else "rejected"


PERSONAS: dict[str, Persona] = {p.name: p for p in (
    Persona("tests-and-conflicts", "welcomes help with failing tests, syntax errors and merge conflicts when it names "
            "what failed; rejects everything else (TODO and idle proposals, command fixes)", _tests_and_conflicts),
    Persona("installs-and-commands", "wants only install and command fixes (missing module, mistyped command, push "
            "without upstream, switch with a dirty tree); rejects the rest", _installs_and_commands),
    Persona("quiet-while-editing", "ignores everything during an edit burst; otherwise accepts help that names what "
            "failed and rejects help that does not", _quiet_while_editing),
    *(Persona(f"annotator-{i + 1}", f"ProactiveBench annotator {i + 1}'s own votes, on sessions held out from the gate",
              _annotator(i), "proactivebench") for i in range(3)),
)}


def changed_mind(persona: Persona, kind: Callable[[Candidate], bool]) -> Persona:
    """The same user after changing their mind about one kind of help: the verdict on it flips
    (an accept becomes a reject, a reject or ignore an accept)."""

    def verdict(c: Candidate) -> str:
        before = persona.answer(c)
        if not kind(c):
            return before
        return "rejected" if before == "accepted" else "accepted"

    return Persona(persona.name + " (changed)", persona.says + "; then changes their mind", verdict, persona.stream)
