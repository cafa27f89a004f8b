"""The main screen driven with real keys against a real daemon; outcomes are checked in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.events import Event
from companion.proposals import Proposal
from companion.tui.app import CompanionApp
from companion.tui.screens.confirm_patch import ConfirmPatchScreen
from companion.tui.screens.details import DetailsScreen
from companion.tui.screens.help import HelpScreen
from tests.conftest import git
from tests.tui.helpers import screen_text, until

pytestmark = pytest.mark.timeout(120)


async def attached(pilot, app: CompanionApp) -> None:
    await until(pilot, lambda: app.main.connection.connected, what="the dashboard to attach to the daemon")


async def offered(pilot, app: CompanionApp, daemon, **fields) -> Proposal:
    proposal = daemon.offer(Proposal(surfaced=True, score=fields.pop("score", 0.7), **fields))
    await until(pilot, lambda: proposal.id in app.main.inbox.proposals, what="the proposal in the inbox")
    return proposal


def outcome_of(daemon, proposal_id: str):
    answers = [o for p, o in daemon.store.outcomes() if p.id == proposal_id]
    return answers[-1] if answers else None


@pytest.mark.parametrize("key,outcome", [("a", "accepted"), ("r", "rejected"), ("s", "snoozed")])
async def test_keys_answer_the_selected_proposal_in_the_store(live, repo: Path, key: str, outcome: str) -> None:
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await attached(pilot, app)
        older = await offered(pilot, app, live, task="Explain the stack trace", response="It is X.", operation="explain")
        newer = await offered(pilot, app, live, task="Explain the import error", response="It is Y.", operation="explain")
        assert list(app.main.inbox.proposals) == [newer.id, older.id]  # newest first
        assert app.main.selected()["id"] == older.id  # a new arrival does not move the selection
        await pilot.press("up")
        assert app.main.selected()["id"] == newer.id
        await pilot.press(key)
        await until(pilot, lambda: outcome_of(live, newer.id) is not None, what="the outcome in the store")
        answer = outcome_of(live, newer.id)
        assert answer.outcome == outcome and answer.via == "tui" and answer.answer_s is not None
        assert live.store.proposal(newer.id).status == outcome
        assert live.store.proposal(older.id).status == "open"
        await until(pilot, lambda: newer.id not in app.main.inbox.proposals, what="the answered proposal to leave")
        assert list(app.main.inbox.proposals) == [older.id]


async def test_run_command_is_copied_never_run(live, repo: Path) -> None:
    marker = repo / "was-run.txt"
    command = f"touch {marker}"
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await attached(pilot, app)
        proposal = await offered(pilot, app, live, task="Create the marker", response=f"```bash\n{command}\n```",
                                 operation="run_command")
        assert app.main.detail.proposal["id"] == proposal.id
        await until(pilot, lambda: "touch" in screen_text(app), what="the command shown")
        await pilot.press("a")
        await until(pilot, lambda: live.store.proposal(proposal.id).status == "accepted", what="accepted")
        assert app.clipboard == command
        await pilot.pause(0.5)
        assert not marker.exists()


async def test_accepting_an_edit_asks_then_applies_the_patch(live, repo: Path) -> None:
    target = repo / "greet.py"
    target.write_text("def greet(name):\n    return 'hello ' + name\n")
    git(repo, "add", "greet.py")
    git(repo, "commit", "-qm", "greet")
    patch = ("--- a/greet.py\n+++ b/greet.py\n@@ -1,2 +1,2 @@\n def greet(name):\n"
             "-    return 'hello ' + name\n+    return f'hello {name}'\n")
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await attached(pilot, app)
        first = await offered(pilot, app, live, task="Use an f-string", response=patch, operation="edit", path="greet.py")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmPatchScreen), what="the confirmation")
        await until(pilot, lambda: app.screen.applies, what="the patch check")
        assert "applies cleanly to greet.py" in screen_text(app)
        await pilot.press("n")  # cancel: nothing changes, the proposal stays open
        await until(pilot, lambda: app.screen is app.main, what="back on the main screen")
        assert "hello ' + name" in target.read_text()
        assert live.store.proposal(first.id).status == "open"
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmPatchScreen) and app.screen.applies,
                    what="the confirmation again")
        await pilot.press("y")
        await until(pilot, lambda: live.store.proposal(first.id).status == "accepted", what="accepted")
        assert target.read_text() == "def greet(name):\n    return f'hello {name}'\n"


async def test_a_patch_that_does_not_apply_cannot_be_accepted(live, repo: Path) -> None:
    (repo / "notes.txt").write_text("one\ntwo\n")
    patch = "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n one\n-three\n+four\n"
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await attached(pilot, app)
        proposal = await offered(pilot, app, live, task="Fix notes", response=patch, operation="edit", path="notes.txt")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmPatchScreen) and "does not apply" in screen_text(app),
                    what="the failed check")
        await pilot.press("y")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmPatchScreen)
        await pilot.press("escape")
        assert (repo / "notes.txt").read_text() == "one\ntwo\n"
        assert live.store.proposal(proposal.id).status == "open"


async def test_selected_proposal_shows_response_diff_and_why(live, repo: Path) -> None:
    cause = Event(source="shell", kind="shell.command", workspace=str(repo),
                  data={"command": "pytest -x", "cwd": ".", "exit_code": 1})
    live.submit(cause)
    live.pipeline.flush()
    stored = live.store.events(workspace=str(repo), sources=["shell"])
    app = CompanionApp(repo, start_daemon=False)
    app.link.initial_events = 0  # not in the timeline: the "why" must come from the store
    async with app.run_test(size=(140, 40)) as pilot:
        await attached(pilot, app)
        await offered(pilot, app, live, task="Look at the failing test", response="+new line\n-old line\n@@ -1 +1 @@",
                      operation="edit", path="x.py", event_ids=[stored[0].id])
        await until(pilot, lambda: app.main.detail.why, what="the events behind the proposal")
        assert [e["id"] for e in app.main.detail.why] == [stored[0].id]
        await until(pilot, lambda: all(part in screen_text(app) for part in ("Look at the failing test", "+new line", "why")),
                    what="the proposal drawn")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), what="the details screen")
        assert "pytest -x" in screen_text(app) and "x.py" in screen_text(app)
        await pilot.press("escape")
        assert app.screen is app.main
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), what="the details screen again")
        proposal_id = app.screen.proposal["id"]
        await pilot.press("r")  # answering from the details screen
        await until(pilot, lambda: live.store.proposal(proposal_id).status == "rejected", what="rejected")
        assert app.screen is app.main


async def test_source_keys_text_filter_and_pause(live, repo: Path) -> None:
    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await attached(pilot, app)
        timeline = app.main.timeline
        live.submit(Event(source="shell", kind="shell.command", workspace=str(repo), data={"command": "make lint"}))
        live.submit(Event(source="git", kind="git.commit", workspace=str(repo), data={"short": "3f2a1bc", "summary": "Tidy the parser", "branch": "main", "files_changed": [{"path": "parser.py", "added": 3, "removed": 1}]}))
        await until(pilot, lambda: "make lint" in screen_text(app) and "Tidy the parser" in screen_text(app),
                    what="both events on screen")
        await pilot.press("2")  # shell only
        assert timeline.sources == {"shell"}
        text = screen_text(app)
        assert "make lint" in text and "Tidy the parser" not in text
        await pilot.press("3")  # and git
        assert "Tidy the parser" in screen_text(app)
        await pilot.press("0")
        await pilot.press("slash")
        await pilot.press(*"parser", "enter")
        text = screen_text(app)
        assert timeline.text_filter == "parser" and "Tidy the parser" in text and "make lint" not in text
        await pilot.press("escape")
        assert timeline.text_filter == ""
        await pilot.press("p")
        assert timeline.paused
        live.submit(Event(source="shell", kind="shell.command", workspace=str(repo), data={"command": "echo while-paused"}))
        await until(pilot, lambda: timeline.held >= 1, what="an event held while paused")
        assert "while-paused" not in screen_text(app) and "PAUSED (1 new)" in screen_text(app)
        await pilot.press("p")
        assert not timeline.paused and "while-paused" in screen_text(app)


async def test_help_lists_every_key(live, repo: Path) -> None:
    from companion.tui.screens.help import key_label
    from companion.tui.screens.main import MainScreen

    app = CompanionApp(repo, start_daemon=False)
    async with app.run_test(size=(100, 60)) as pilot:
        await attached(pilot, app)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        for binding in [*CompanionApp.BINDINGS, *MainScreen.BINDINGS]:
            assert f" {key_label(binding)} " in text, key_label(binding)
            assert binding.description in text
        await pilot.press("escape")
        assert app.screen is app.main
        await pilot.press("q")
    assert app.return_code == 0


async def test_daemon_down_is_shown_and_the_dashboard_recovers(repo: Path, daemon_factory) -> None:
    first = daemon_factory(repo, services=False, watcher_names=set())
    app = CompanionApp(repo, start_daemon=False, retry_s=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        await attached(pilot, app)
        first.stop("test")
        await until(pilot, lambda: not app.main.connection.connected, what="the daemon shown as down")
        assert "daemon DOWN" in screen_text(app)
        await pilot.press("r")  # answering while down says why instead of failing silently
        second = daemon_factory(repo, services=False, watcher_names=set())
        await attached(pilot, app)
        proposal = await offered(pilot, app, second, task="After the restart", response="ok", operation="explain")
        await pilot.press("a")
        await until(pilot, lambda: second.store.proposal(proposal.id).status == "accepted", what="accepted again")


async def test_no_daemon_is_shown_as_down(repo: Path) -> None:
    app = CompanionApp(repo, start_daemon=False, retry_s=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "daemon DOWN" in screen_text(app), what="the daemon shown as down")
        assert "no companion daemon runs" in screen_text(app)
        await pilot.press("a")  # nothing selected: a warning, no crash
        await pilot.press("q")


async def test_a_backend_that_is_down_is_shown(workspace: Path) -> None:
    from companion.tui.messages import DaemonConnected, StatusUpdated

    app = CompanionApp(workspace, connect=False)
    async with app.run_test(size=(120, 30)) as pilot:
        app.post_message(DaemonConnected({"pid": 7, "watchers": []}, [], []))
        app.post_message(StatusUpdated({"pid": 7, "watchers": []}, False, "ollama at http://127.0.0.1:9 does not answer"))
        await until(pilot, lambda: "DOWN: ollama at http://127.0.0.1:9 does not answer" in screen_text(app),
                    what="the backend shown as down")
        assert "daemon pid 7" in screen_text(app)


async def test_a_rule_proposal_shows_its_evidence_and_rule_as_the_why(live, repo: Path) -> None:
    app = CompanionApp(repo, start_daemon=False)
    evidence = {"failure": {"test": "tests/test_p.py::test_valid", "message": "AssertionError: assert '\\t' == '\\n'"},
                "suspect": {"path": "src/p.py", "line": 61, "removed": ['"\\\\n": "\\u000a",'], "added": ['"\\\\n": "\\u0009",']}}
    async with app.run_test(size=(160, 44)) as pilot:
        await attached(pilot, app)
        await offered(pilot, app, live, task="Open src/p.py:61, changed since test_valid last passed", operation="open",
                      path="src/p.py", line=61, response="src/p.py:61 changed", rule="regression.revert",
                      evidence=evidence, confidence=0.8)
        await until(pilot, lambda: "why — the evidence" in screen_text(app), what="the evidence in the detail")
        text = screen_text(app)
        assert "tests/test_p.py::test_valid failed: AssertionError" in text
        assert "changed since the last passing run: src/p.py line 61" in text and "rule: regression.revert" in text
