"""Live settings: the config file, an editor's `configure` and the dashboard reach the running daemon.

Three ways in, one way through (`SettingsService.change`):
- the config files (the user's and the workspace's `.companion.toml`) are watched by their
  modification time, once a second; an edit is loaded and checked like at start (a broken file
  is reported in the status and changes nothing);
- `configure` (editors): the interruption level and the agent's backend and model, kept in
  memory on top of the files (an editor sends its settings again whenever it connects);
- `reload_config` (the dashboard's Settings screen, after it saved the file): reload now.

A change is copied into the running config in place (companion.live_config), the services hear
of it through their `settings_changed(keys)` (the engine reloads the model or gate when their
settings changed), and clients on topic "config" get the new values and what still needs a
restart. `status` carries the same under "settings".
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from pathlib import Path
from typing import Any

from companion import paths
from companion.config import WORKSPACE_CONFIG, ConfigError, _apply, load_config, validate
from companion.ipc import Connection
from companion.live_config import merge_into, restart_needed, values_of

log = logging.getLogger(__name__)
EDITOR_SETTINGS = {"general": {"interruption_level"}, "agent": {"backend", "model"}}


class SettingsService:
    name = "settings"

    def __init__(self, daemon: Any, poll_s: float = 1.0) -> None:
        self.daemon = daemon
        self.poll_s = poll_s
        self.overrides: dict[str, dict[str, Any]] = {}  # from editors, on top of the files
        self.pending_restart: set[str] = set()
        self.error: str | None = None
        self.reloaded: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stamps = self._file_stamps()
        self._thread = threading.Thread(target=self._watch, name="settings", daemon=True)

    def start(self) -> None:
        self.daemon.add_handler("configure", self._op_configure)
        self.daemon.add_handler("reload_config", self._op_reload)
        self.daemon.status_providers.append(self.status)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    # -- the ways in -------------------------------------------------------------------------
    def files(self) -> list[Path]:
        return [paths.config_file(), self.daemon.workspace / WORKSPACE_CONFIG]

    def _file_stamps(self) -> list[tuple[int, int] | None]:
        stamps: list[tuple[int, int] | None] = []
        for path in self.files():
            try:
                info = path.stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append(None)
        return stamps

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            stamps = self._file_stamps()
            if stamps != self._stamps:
                self._stamps = stamps
                try:
                    self.reload("the config file")
                except ConfigError:
                    pass  # already in the status and the log

    def reload(self, origin: str) -> dict[str, Any]:
        """Load the files again (plus the editors' settings) and apply what changed."""
        try:
            fresh = load_config(self.daemon.workspace)
            _apply(fresh, self.overrides, "editor settings")
            validate(fresh)
        except ConfigError as exc:
            self.error = str(exc)
            log.warning("config not reloaded: %s", exc)
            raise
        self.error = None
        return self.change(fresh, origin)

    def _op_reload(self, _request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        self._stamps = self._file_stamps()
        return self.reload("reload_config")

    def _op_configure(self, request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        settings = request.get("settings")
        if not isinstance(settings, dict):
            raise ValueError("configure takes settings: {section: {key: value}}")
        for section, values in settings.items():
            allowed = EDITOR_SETTINGS.get(section, set())
            if not isinstance(values, dict) or not set(values) <= allowed:
                raise ValueError(f"configure may change only {sorted((s, sorted(k)) for s, k in EDITOR_SETTINGS.items())}")
        fresh = copy.deepcopy(self.daemon.config)
        _apply(fresh, settings, "editor settings")
        validate(fresh)
        for section, values in settings.items():
            self.overrides.setdefault(section, {}).update(values)
        reply = self.change(fresh, "an editor")
        keys = [f"{section}.{key}" for section, values in settings.items() for key in values]
        return {**reply, "config": values_of(self.daemon.config, keys)}

    # -- the way through ---------------------------------------------------------------------
    def change(self, fresh: Any, origin: str) -> dict[str, Any]:
        with self._lock:
            changed = merge_into(self.daemon.config, fresh)
            later = restart_needed(changed)
            self.pending_restart.update(later)
            self.reloaded = time.time()
        live = [key for key in changed if key not in later]
        if changed:
            log.info("settings changed by %s: %s%s", origin, ", ".join(changed),
                     f" (after a restart: {', '.join(later)})" if later else "")
        for service in list(getattr(self.daemon, "services", [])):
            hook = getattr(service, "settings_changed", None)
            if hook is not None and live:
                try:
                    hook(live)
                except Exception:
                    log.exception("%s could not take on the new settings", getattr(service, "name", service))
        message = {"config": values_of(self.daemon.config, changed), "changed": changed,
                   "restart_needed": sorted(self.pending_restart), "origin": origin}
        if changed:
            self.daemon.publish("config", message)
        return message

    def status(self) -> dict[str, Any]:
        return {"settings": {"restart_needed": sorted(self.pending_restart), "error": self.error,
                             "reloaded": self.reloaded, "files": [str(p) for p in self.files()],
                             "editor": copy.deepcopy(self.overrides)}}


def create(daemon: Any) -> SettingsService:
    return SettingsService(daemon)
