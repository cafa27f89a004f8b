"""Small parts of the dashboard: word wrap, backend health, the link's buffer, and how a burst of
events is coalesced into one redraw (a headless app, no daemon)."""

from __future__ import annotations

import socket
from pathlib import Path

from companion.config import Config
from companion.events import Event
import companion.tui.app as app_module
from companion.tui.app import CompanionApp
from companion.tui.link import DaemonLink, backend_health
from companion.tui.messages import EventsArrived
from companion.tui.widgets.timeline import wrap
from tests.tui.helpers import until


def test_wrap_keeps_every_word_within_the_width() -> None:
    text = "The user ran `pytest -x tests/test_client.py` in `api/`; it failed (exit 1) after 4.2 s."
    for width in (10, 17, 30, 200):
        lines = wrap(text, width)
        assert all(len(line) <= width for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert wrap("saved `a.py` (+14 −3), ünïcode", 12) == ["saved `a.py`", "(+14 −3),", "ünïcode"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_backend_health_from_status_and_from_an_ollama_probe() -> None:
    assert backend_health({"agent": {"backend": "ollama", "model": "qwen", "ok": False, "error": "timeout"}}, None) == \
        (False, "ollama qwen: timeout")
    assert backend_health({"agent": {"backend": "transformers", "ok": True}}, None) == (True, "transformers")
    ok, detail = backend_health({}, Config())
    assert ok is None and "inside the daemon" in detail
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config()
    config.agent.backend = "ollama"
    config.agent.ollama_host = f"http://127.0.0.1:{port}"
    ok, detail = backend_health({}, config)
    assert ok is False and "does not answer" in detail


def test_the_link_buffers_events_and_drops_the_oldest_when_full(tmp_path: Path) -> None:
    posted: list[object] = []
    link = DaemonLink(tmp_path, posted.append, max_buffer=5)
    for i in range(8):
        link.on_message({"topic": "event", "event": {"id": str(i), "source": "shell", "text": f"e{i}"}})
    # one bare message per event: the UI's queue merges them (can_replace), not a flag in the link
    assert len(posted) == 8 and all(isinstance(m, EventsArrived) for m in posted)
    assert EventsArrived().can_replace(posted[0])
    assert [e["id"] for e in link.drain()] == ["3", "4", "5", "6", "7"]
    assert link.drain() == []
    assert (link.received, link.dropped) == (8, 3)
    link.on_message({"topic": "event", "event": {"id": "8"}})
    assert len(posted) == 9 and [e["id"] for e in link.drain()] == ["8"]
    link.on_message({"topic": "proposal", "proposal": {"id": "p"}, "change": "new"})
    assert type(posted[-1]).__name__ == "ProposalChanged"


class _CountingApp(CompanionApp):
    """Counts the EventsArrived the app handles (Textual also runs CompanionApp's own handler)."""

    CSS_PATH = Path(app_module.__file__).with_name("app.tcss")  # a relative one would be read beside this test
    arrivals = 0

    def on_events_arrived(self, _message: EventsArrived) -> None:
        type(self).arrivals += 1


async def test_a_burst_of_events_is_one_message_and_one_redraw(tmp_path: Path) -> None:
    app = _CountingApp(tmp_path, connect=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.main_ready, what="the main screen")
        for i in range(300):  # queued before the UI runs again, as a fast socket thread would
            app.link.push_event({**Event(source="shell", kind="shell.command", workspace=str(tmp_path),
                                         id=f"e{i}").to_dict(), "text": f"The user ran `echo {i}`."})
        await until(pilot, lambda: app.batches >= 1, what="the batch drawn")
        await pilot.pause(0.3)  # past the draw interval: any stray message or timer would draw again
        assert _CountingApp.arrivals == 1 and app.batches == 1
        assert [p["id"] for p in app.main.timeline.entries][-300:] == [f"e{i}" for i in range(300)]
