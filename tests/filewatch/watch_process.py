"""Run a FileWatcher in its own process, printing what it reports as JSON lines, until stdin closes.

The permission tests start it without the capabilities that let root read anything
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so `chmod 000` means what it means for a user.

    python -m tests.filewatch.watch_process ROOT DEBOUNCE_MS
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from companion.config import Config
from companion.events import Event, thaw
from companion.redact import Redactor
from companion.render import render
from watchers.base import WatchContext
from watchers.file_watcher import create

_print_lock = threading.Lock()


def _say(message: dict) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def main() -> int:
    root, debounce_ms = Path(sys.argv[1]), int(sys.argv[2])
    config = Config()
    config.watch.debounce_ms = debounce_ms

    def emit(event: Event) -> None:
        _say({"kind": event.kind, **thaw(event.data), "text": render(event)})

    def on_error(watcher: str, message: str, path: str | None) -> None:
        _say({"kind": "error", "watcher": watcher, "message": message, "path": path})

    watcher = create(WatchContext(workspace=root, config=config, emit=emit, redactor=Redactor(), on_error=on_error))
    assert watcher is not None
    watcher.start()
    watcher.ready.wait(10)
    _say({"kind": "ready"})
    sys.stdin.read()
    watcher.stop()
    _say({"kind": "stopped"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
