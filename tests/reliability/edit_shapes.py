"""The three patch shapes of issue #13, and a real engine that proposes them.

`calc.py` is a small module; the engine (a real daemon's Engine with the scripted backend and the
keyword gate of tests/engine) answers a failing command with an `edit` proposal whose patch is one
of three shapes: A replaces `a - b` with `a + b`; B inserts `import sys` after `import os`, with one
line of context; C appends a function after the last line. Every client's accept is checked against
`after`: applied exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from companion.proposals import Proposal
from tests.conftest import git, wait_for
from tests.engine.conftest import FAILING, emit_command, reply

CALC = "import os\n\n\ndef add(a, b):\n    return a - b\n\n\ndef scale(x):\n    return x * 2\n"


@dataclass(frozen=True)
class Shape:
    name: str
    task: str
    line: int  # where the proposal points (1-based)
    diff: str
    after: str


SHAPES = {
    "A": Shape("A", "Fix add() to add", 5,
               "--- a/calc.py\n+++ b/calc.py\n@@ -4,2 +4,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n",
               CALC.replace("a - b", "a + b")),
    "B": Shape("B", "Fix the missing import of sys", 1,
               "--- a/calc.py\n+++ b/calc.py\n@@ -1,1 +1,2 @@\n import os\n+import sys\n",
               CALC.replace("import os\n", "import os\nimport sys\n")),
    "C": Shape("C", "Fix: add the missing sub()", 9,
               "--- a/calc.py\n+++ b/calc.py\n@@ -9,1 +9,5 @@\n     return x * 2\n+\n+\n+def sub(a, b):\n"
               "+    return a - b\n",
               CALC + "\n\ndef sub(a, b):\n    return a - b\n"),
}


def write_calc(repo: Path) -> Path:
    """calc.py, committed, as every test starts from it."""
    target = repo / "calc.py"
    target.write_text(CALC)
    git(repo, "add", "calc.py")
    git(repo, "commit", "-qm", "calc")
    return target


def engine_daemon(repo: Path, engine_factory: Callable[..., Any], shape: Shape) -> Any:
    """A real daemon with the engine on, whose model answers a failing command with `shape`'s edit."""
    write_calc(repo)
    daemon, _engine, _backend, _gate = engine_factory(repo, [reply(shape.task, shape.diff, "edit", path="calc.py",
                                                                   line=shape.line)])
    return daemon


def propose(daemon: Any, repo: Path, shape: Shape) -> Proposal:
    """A failing command; the engine's proposal for it (open, surfaced, the file unchanged)."""
    emit_command(daemon, repo, f"{FAILING} # calc.py:{shape.line}")
    proposals = wait_for(lambda: [p for p in daemon.store.proposals(workspace=str(daemon.workspace))
                                  if p.operation == "edit" and p.surfaced], timeout=30)
    proposal = proposals[0]
    assert proposal.status == "open" and proposal.path == "calc.py" and proposal.response.strip() == shape.diff.strip()
    assert (repo / "calc.py").read_text() == CALC  # offering changes nothing
    return proposal


def engine_proposal(repo: Path, engine_factory: Callable[..., Any], shape: Shape) -> tuple[Any, Proposal]:
    daemon = engine_daemon(repo, engine_factory, shape)
    return daemon, propose(daemon, repo, shape)


def answers_of(daemon: Any, proposal_id: str) -> list[Any]:
    """Every outcome stored for a proposal (an accept must be there exactly once)."""
    return [o for p, o in daemon.store.outcomes() if p.id == proposal_id]
