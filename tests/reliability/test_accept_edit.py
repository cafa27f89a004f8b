"""Accepting an `edit` from the command line and the dashboard, with the engine on: the daemon
applies the patch and records the accept in one step, exactly once, for the three shapes of
issue #13; a patch that no longer applies is refused with the reason and the proposal stays open;
a daemon without the engine applies it the same way, and clients accepting at once apply it once.
(The editors: test_accept_edit_editors.py.)"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from companion import paths
from companion.ipc import Client, IpcError
from companion.proposals import Proposal
from companion.store import Store
from companion.tui.app import CompanionApp
from companion.tui.screens.confirm_patch import ConfirmPatchScreen
from tests.conftest import run_cli
from tests.engine.conftest import engine_factory  # noqa: F401  (the fixture)
from tests.reliability.edit_shapes import CALC, SHAPES, answers_of, engine_proposal, write_calc
from tests.tui.helpers import until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def engine_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "true")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_cli_accept_applies_the_edit_once(repo: Path, engine_factory, shape: str) -> None:
    daemon, proposal = engine_proposal(repo, engine_factory, SHAPES[shape])
    done = run_cli("accept", proposal.id[:8], cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"accepted: {SHAPES[shape].task}", "patched calc.py"]
    assert (repo / "calc.py").read_text() == SHAPES[shape].after
    assert daemon.store.proposal(proposal.id).status == "accepted"
    (answer,) = answers_of(daemon, proposal.id)
    assert answer.outcome == "accepted" and answer.via == "cli"

    again = run_cli("accept", proposal.id, cwd=repo)  # a second accept changes nothing
    assert again.returncode != 0 and f"proposal {proposal.id} was already accepted" in again.stderr
    assert (repo / "calc.py").read_text() == SHAPES[shape].after
    assert len(answers_of(daemon, proposal.id)) == 1


def test_cli_refuses_a_patch_that_no_longer_applies_and_the_proposal_stays_open(repo: Path, engine_factory) -> None:
    daemon, proposal = engine_proposal(repo, engine_factory, SHAPES["A"])
    typed = CALC.replace("    return a - b", "    return b - a")
    (repo / "calc.py").write_text(typed)
    done = run_cli("accept", proposal.id, cwd=repo)
    assert done.returncode != 0 and done.stdout == ""
    assert "not accepted: the patch no longer applies to calc.py: the hunk at line 4 expects `return a - b`" \
        in done.stderr and "The proposal stays open" in done.stderr
    assert (repo / "calc.py").read_text() == typed
    assert daemon.store.proposal(proposal.id).status == "open" and answers_of(daemon, proposal.id) == []
    rejected = run_cli("reject", proposal.id, cwd=repo)  # still answerable
    assert rejected.returncode == 0 and daemon.store.proposal(proposal.id).status == "rejected"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_daemon_without_the_engine_applies_an_accepted_edit(repo: Path, daemon_process, shape: str) -> None:
    write_calc(repo)
    daemon = daemon_process(repo, "--no-engine")  # a real `companion run --no-engine`
    with Client(paths.socket_file(repo)) as client:
        status = client.request("status")["status"]
    assert "engine" not in status and status["services"] == []
    proposal = Proposal(task=SHAPES[shape].task, response=SHAPES[shape].diff, operation="edit", path="calc.py",
                        line=SHAPES[shape].line, surfaced=True, score=0.9, workspace=str(repo))
    with Store() as store:  # as an earlier daemon with the engine on left it
        store.save_proposal(proposal)
    done = run_cli("accept", proposal.id, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"accepted: {SHAPES[shape].task}", "patched calc.py"]
    assert (repo / "calc.py").read_text() == SHAPES[shape].after
    with Store() as store:
        assert store.proposal(proposal.id).status == "accepted"
        assert [o.via for p, o in store.outcomes() if p.id == proposal.id] == ["cli"]
    assert daemon.poll() is None


def recording(app: CompanionApp) -> list[tuple[str, str, str]]:
    """What the dashboard tells the user: (title, message, severity) of every notification."""
    told: list[tuple[str, str, str]] = []
    notify = app.notify

    def record(message: str, *, title: str = "", severity: str = "information", **kwargs: Any) -> None:
        told.append((title, str(message), severity))
        notify(message, title=title, severity=severity, **kwargs)  # type: ignore[arg-type]

    app.notify = record  # type: ignore[method-assign]
    return told


async def confirm_screen(pilot: Any, app: CompanionApp, proposal: Proposal) -> ConfirmPatchScreen:
    await until(pilot, lambda: app.main.connection.connected, what="the dashboard attached")
    await until(pilot, lambda: proposal.id in app.main.inbox.proposals, what="the engine's proposal in the inbox")
    assert app.main.selected()["id"] == proposal.id
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, ConfirmPatchScreen) and app.screen.applies,
                what="the checked patch")
    return app.screen  # type: ignore[return-value]


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_tui_accept_applies_the_edit_once(repo: Path, engine_factory, shape: str) -> None:
    daemon, proposal = engine_proposal(repo, engine_factory, SHAPES[shape])
    app = CompanionApp(repo, start_daemon=False)
    told = recording(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await confirm_screen(pilot, app, proposal)
        await pilot.press("y")
        await until(pilot, lambda: daemon.store.proposal(proposal.id).status == "accepted", what="the accept stored")
        await until(pilot, lambda: ("Accepted", "Applied the patch to calc.py.", "information") in told,
                    what="the user told it is applied")
        await until(pilot, lambda: proposal.id not in app.main.inbox.proposals, what="the proposal leaving the inbox")
    assert (repo / "calc.py").read_text() == SHAPES[shape].after
    (answer,) = answers_of(daemon, proposal.id)
    assert answer.outcome == "accepted" and answer.via == "tui"
    assert not [t for t in told if t[2] == "error"]


async def test_tui_refuses_a_patch_that_stopped_applying_and_the_proposal_stays_open(repo: Path, engine_factory) -> None:
    daemon, proposal = engine_proposal(repo, engine_factory, SHAPES["B"])
    app = CompanionApp(repo, start_daemon=False)
    told = recording(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await confirm_screen(pilot, app, proposal)
        typed = CALC.replace("import os\n", "import pathlib\n")  # the user changes the file meanwhile
        (repo / "calc.py").write_text(typed)
        await pilot.press("y")
        await until(pilot, lambda: any(t[2] == "error" for t in told), what="the refusal")
        await pilot.pause(0.3)
        assert proposal.id in app.main.inbox.proposals
    ((title, message, _),) = [t for t in told if t[2] == "error"]
    assert title == "Not accepted"
    assert "the patch no longer applies to calc.py: the hunk at line 1 expects `import os`" in message
    assert "The proposal stays open" in message
    assert (repo / "calc.py").read_text() == typed
    assert daemon.store.proposal(proposal.id).status == "open" and answers_of(daemon, proposal.id) == []


def test_two_clients_accepting_at_once_apply_the_edit_once(repo: Path, engine_factory) -> None:
    daemon, proposal = engine_proposal(repo, engine_factory, SHAPES["C"])  # C would append twice
    replies: list[object] = []
    start = threading.Barrier(4)

    def accept(via: str) -> None:
        with Client(daemon.socket_path) as client:
            start.wait()
            try:
                replies.append(client.request("outcome", proposal_id=proposal.id, outcome="accepted", via=via))
            except IpcError as exc:
                replies.append(exc)

    threads = [threading.Thread(target=accept, args=(f"client{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    done = [r for r in replies if isinstance(r, dict)]
    refused = [str(r) for r in replies if not isinstance(r, dict)]
    assert len(done) == 1 and done[0]["applied"] == "calc.py" and done[0]["applied_by"] == "daemon"
    assert len(refused) == 3 and all(f"proposal {proposal.id} was already accepted" in r for r in refused)
    assert (repo / "calc.py").read_text() == SHAPES["C"].after
    assert len(answers_of(daemon, proposal.id)) == 1
