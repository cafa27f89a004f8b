"""The Event contract and its English rendering."""

from __future__ import annotations

import json

import pytest

from companion.durations import format_duration, parse_duration
from companion.events import Event
from companion.render import listing, observation, render


def test_event_is_immutable_and_serialises() -> None:
    event = Event(source="shell", kind="shell.command", data={"command": "ls", "args": ["-l"]}, workspace="/ws")
    with pytest.raises(Exception):
        event.kind = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.data["command"] = "rm"  # type: ignore[index]
    raw = json.loads(event.to_json())
    assert raw["data"] == {"command": "ls", "args": ["-l"]}
    assert Event.from_dict(raw) == event


@pytest.mark.parametrize("source,kind", [("nowhere", "x.y"), ("shell", "noseparator"), ("shell", "")])
def test_invalid_events_are_refused(source: str, kind: str) -> None:
    with pytest.raises(ValueError):
        Event(source=source, kind=kind)


def test_unknown_kind_still_renders_a_sentence() -> None:
    text = render(Event(source="editor", kind="editor.zoomed", data={"level": 3}))
    assert text == "The editor watcher reported editor zoomed (level=3)."


def test_companion_error_sentence() -> None:
    text = render(Event(source="companion", kind="companion.error",
                        data={"watcher": "file", "message": "permission denied", "path": "secret/dir"}))
    assert text == "The file watcher reported a problem for `secret/dir`: permission denied."


def test_malformed_data_falls_back_instead_of_failing() -> None:
    text = render(Event(source="companion", kind="companion.started", data={"watchers": 5}))
    assert text.startswith("The companion watcher reported companion started")


def test_observation_has_time_and_event() -> None:
    obs = observation(Event(source="companion", kind="companion.stopped", data={"workspace": "/ws"}, ts=0))
    assert set(obs) == {"time", "event"} and obs["event"] == "Companion stopped watching `/ws`."


def test_listing() -> None:
    assert listing(["a"]) == "`a`"
    assert listing(["a", "b"]) == "`a` and `b`"
    assert listing(["a", "b", "c", "d", "e", "f"], limit=3) == "`a`, `b`, `c` and 3 more"


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800), ("1h30m", 5400), ("45", 45)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "10m later"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(4.2) == "4.2 s"
    assert format_duration(600) == "10 min"
