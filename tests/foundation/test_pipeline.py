"""The pipeline between watchers and the store: redaction, batching, merging repeats, fan-out."""

from __future__ import annotations

import threading
from pathlib import Path

from companion.events import Event
from companion.pipeline import Pipeline
from companion.redact import Redactor
from companion.store import Store


def test_many_threads_submit_and_everything_is_stored(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    pipeline = Pipeline(store, Redactor())
    seen: list[Event] = []
    pipeline.subscribe(seen.append)
    pipeline.start()

    def produce(worker: int) -> None:
        for i in range(500):
            pipeline.submit(Event(source="file", kind="file.saved", data={"path": f"w{worker}/f{i}.py"}, workspace="/ws"))

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pipeline.flush(20)
    pipeline.stop()
    assert store.count_events() == 2000
    assert sorted(e.id for e in seen) == sorted(e.id for e in store.events())
    for worker in range(4):  # each producer's events arrive in the order it submitted them
        paths = [e.data["path"] for e in seen if e.data["path"].startswith(f"w{worker}/")]
        assert paths == [f"w{worker}/f{i}.py" for i in range(500)]
    store.close()


def test_secrets_never_reach_store_or_subscribers(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    pipeline = Pipeline(store, Redactor())
    seen: list[Event] = []
    pipeline.subscribe(seen.append)
    pipeline.start()
    pipeline.submit(Event(source="shell", kind="shell.command", workspace="/ws",
                          data={"command": "export GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"}))
    pipeline.flush()
    pipeline.stop()
    assert "ghp_" not in str(store.events()[0].data) and "ghp_" not in str(seen[0].data)
    store.close()


def test_repeated_errors_are_merged(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    pipeline = Pipeline(store, Redactor(), merge_window=60)
    pipeline.start()
    for _ in range(20):
        pipeline.submit(Event(source="companion", kind="companion.error", workspace="/ws",
                              data={"watcher": "file", "message": "permission denied", "path": "x"}))
    pipeline.submit(Event(source="companion", kind="companion.error", workspace="/ws",
                          data={"watcher": "file", "message": "another problem"}))
    pipeline.flush()
    pipeline.stop()
    assert [e.data["message"] for e in store.events()] == ["permission denied", "another problem"]
    assert pipeline.dropped_repeats == 19
    store.close()


def test_a_failing_subscriber_does_not_stop_the_pipeline(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    pipeline = Pipeline(store, Redactor())
    pipeline.subscribe(lambda event: 1 / 0)
    pipeline.start()
    for i in range(3):
        pipeline.submit(Event(source="editor", kind="editor.opened", data={"path": f"{i}.py"}, workspace="/ws"))
    pipeline.flush()
    pipeline.stop()
    assert store.count_events() == 3
    store.close()
