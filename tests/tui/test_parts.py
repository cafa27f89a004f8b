"""Small parts of the dashboard with no screen: word wrap, backend health, the link's batching."""

from __future__ import annotations

import socket
from pathlib import Path

from companion.config import Config
from companion.tui.link import DaemonLink, backend_health
from companion.tui.messages import EventsArrived
from companion.tui.widgets.timeline import wrap


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


def test_the_link_posts_one_message_per_batch_and_drops_the_oldest_when_full(tmp_path: Path) -> None:
    posted: list[object] = []
    link = DaemonLink(tmp_path, posted.append, max_buffer=5)
    for i in range(8):
        link.on_message({"topic": "event", "event": {"id": str(i), "source": "shell", "text": f"e{i}"}})
    assert len(posted) == 1 and isinstance(posted[0], EventsArrived)
    assert [e["id"] for e in link.drain()] == ["3", "4", "5", "6", "7"]
    assert (link.received, link.dropped) == (8, 3)
    link.on_message({"topic": "event", "event": {"id": "8"}})
    assert len(posted) == 2  # the next event after a drain signals again
    link.on_message({"topic": "proposal", "proposal": {"id": "p"}, "change": "new"})
    assert type(posted[-1]).__name__ == "ProposalChanged"
