"""The workspace's content at each last green run, kept without git: content-addressed blobs.

"What changed since it last worked" needs the content of every file as it was at the last
successful run of a command (or the last pass of a test), also in folders that are no git
repository, and without touching the user's index, refs or stash. So companion keeps its own
copies, in the data folder, private (folders 0700, files 0600):

- a **blob store** (companion.evidence.blobs): each distinct file content once, named by its hash, and
  redacted before it is written (nothing raw at rest);
- a **stat cache**: path -> (size, mtime_ns, blob): the content a file had while its stat was
  that. A green run costs a stat walk; only files whose stat changed are read again;
- a **manifest** per green moment: path -> blob (or "!reason": secret, binary, too large,
  unreadable, symlink, unread), itself stored as a blob, so many greens of one tree share one.

A file modified after the run (its event came late: the spool is polled) is not read for the
manifest: its content of the run is the stat cache's copy older than the run, else the previous
manifest's entry, else its committed version (companion.evidence.committed, entry "git:<blob>",
its hunks marked `since: "commit"`), else "!unknown" (reported as changed, "no earlier copy").

A green (`Green`) names the manifest of the last successful run of a key (see
companion.evidence.enrich for the keys). `changes_since(green)` compares that manifest with the
workspace now and yields the changed files with their old and new text, for the suspects.

Bounds: at most `max_files` files per walk, files over `max_file_bytes` are not read, one walk
reads for at most `read_budget_s` (the rest is read at the next one), at most `max_greens`
greens (oldest dropped) over at most MAX_MANIFESTS distinct tree states, and the blob store
stays under `max_store_bytes`: once 1/PRUNE_EVERY of it was written since the last prune, blobs
no green and no cache entry refers to are deleted, and the oldest greens go first when the store
is too big (between prunes it can exceed the bound by less than that 1/16 and one walk's reads).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from companion import paths
from companion.evidence.blobs import BlobStore, private_dir, write_private
from companion.evidence.committed import committed
from companion.evidence.text import decode
from companion.evidence.walk import Ignored, TreeWalk
from companion.redact import Redactor

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1
PRUNE_EVERY = 16  # prune once 1/16 of the bound was written since the last prune
MAX_MANIFESTS = 64  # distinct tree states kept (greens of older ones are dropped)
PARTIAL = ""  # the manifest key that says max_files cut the walk short (no path is empty)
# A file modified more than this after the end of a green run was saved after the run. The hooks'
# times are precise (bash and zsh: EPOCHREALTIME, microseconds; fish: /proc/uptime plus an offset
# taken once, 10 ms; VS Code: Date.now, 1 ms) and file times lag the clock by a tick at most, so
# 0.2 s only absorbs rounding; a larger slack takes a fast save after the run for its content.
# Times in whole seconds (bash without EPOCHREALTIME: `%(%s)T`; zsh without zsh/datetime's
# EPOCHREALTIME) are cut down by up to 1 s: for them the slack is 1 s.
MTIME_SLACK_S = 0.2
WHOLE_SECOND_SLACK_S = 1.0
COMMITTED = "git:"  # a manifest entry "git:<blob>": the committed version, no copy of the run was kept
UNKNOWN = "!unknown"  # modified after the run, no earlier copy anywhere


def mtime_slack(ts: float) -> float:
    """The slack for a time from a hook (see MTIME_SLACK_S)."""
    return WHOLE_SECOND_SLACK_S if float(ts).is_integer() else MTIME_SLACK_S


def folder_for(workspace: str | os.PathLike[str] | None = None) -> Path:
    """Where a workspace's snapshots live (the folder of all workspaces' for None)."""
    root = paths.data_dir() / "evidence"
    return root if workspace is None else root / paths.workspace_key(workspace)


def forget(workspace: str | os.PathLike[str] | None = None) -> bool:
    """Delete a workspace's snapshots (every workspace's for None); a running daemon starts afresh."""
    folder = folder_for(workspace)
    if not folder.exists():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


@dataclass
class Green:
    """The last green moment of a key: when, and the manifest of the workspace then."""

    key: str
    kind: str  # "command" | "tests"
    ts: float
    manifest: str

    def public(self) -> dict[str, object]:
        return {"ts": self.ts, "key": self.key, "kind": self.kind}


@dataclass
class Changed:
    """A file that differs from a green manifest: old and new (redacted) text, or why not."""

    path: str
    old: str | None
    new: str | None
    saved_ts: float
    note: str = ""  # "created" | "deleted" | "binary" | "too large" | "secret" | "no earlier copy" |
    # "since the commit" (old is the committed version: no copy of the run was kept) | ...


@dataclass
class _Entry:
    size: int
    mtime_ns: int
    ref: str  # a blob digest, or "!reason"


def _entry_of(ref: str, size: int, mtime_ns: int) -> str:
    """A manifest entry: the blob, or for a file not read "!reason@size:mtime_ns" (so an unchanged
    stat still proves it unchanged)."""
    return f"{ref}@{size}:{mtime_ns}" if ref.startswith("!") else ref


def _reason(entry: str) -> str:
    return entry[1:].split("@", 1)[0]


def _blob(entry: str) -> str:
    """The blob digest (or "!reason…") of a manifest entry, without its "git:" mark."""
    return entry[len(COMMITTED):] if entry.startswith(COMMITTED) else entry


class Snapshots:
    """The version history of one workspace (see the module docstring)."""

    def __init__(self, workspace: Path, folder: Path, redactor: Redactor, ignored: Ignored | None = None,
                 max_file_bytes: int = 1_000_000, max_files: int = 5000, max_store_bytes: int = 64 * 2**20,
                 max_greens: int = 2000, read_budget_s: float = 2.0) -> None:
        self.workspace = Path(workspace)
        self.folder = private_dir(Path(folder))
        self.blobs = BlobStore(self.folder / "blobs")
        self.redactor = redactor
        self.tree = TreeWalk(self.workspace, ignored, max_files)
        self.max_file_bytes = max_file_bytes
        self.max_store_bytes = max_store_bytes
        self.max_greens = max_greens
        self.read_budget_s = read_budget_s
        self.state_path = self.folder / "state.json"
        self.greens: dict[str, Green] = {}
        self._files: dict[str, _Entry] = {}
        self._manifests: dict[str, dict[str, str]] = {}
        self._lock = threading.RLock()
        self.walk_truncated = False
        self._load()

    # -- persistence ------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            raw = json.loads(self.state_path.read_bytes())
            for name, item in raw.get("greens", {}).items():
                self.greens[name] = Green(str(item["key"]), str(item["kind"]), float(item["ts"]), str(item["manifest"]))
            for path, (size, mtime_ns, ref) in raw.get("files", {}).items():
                self._files[path] = _Entry(int(size), int(mtime_ns), str(ref))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("evidence state %s unreadable (%s); starting afresh", self.state_path, exc)
            self.greens.clear()
            self._files.clear()

    def _check_forgotten(self) -> None:
        """`companion forget` deleted the folder under a running daemon: start afresh, keep nothing."""
        if not self.blobs.root.is_dir():
            self.greens.clear()
            self._files.clear()
            self._manifests.clear()
            private_dir(self.folder)
            private_dir(self.blobs.root)

    def save(self) -> None:
        with self._lock:
            self._check_forgotten()
            raw = {"version": MANIFEST_VERSION,
                   "greens": {name: {"key": g.key, "kind": g.kind, "ts": g.ts, "manifest": g.manifest}
                              for name, g in self.greens.items()},
                   "files": {path: [e.size, e.mtime_ns, e.ref] for path, e in self._files.items()}}
            write_private(self.state_path, json.dumps(raw, separators=(",", ":")).encode())

    # -- reading the workspace --------------------------------------------------------------
    def forget_ignores(self) -> None:
        """The ignore rules changed (a .gitignore was saved): ask them again."""
        self.tree.forget_ignores()

    def touch(self, path: str) -> None:
        """A file the user saved: kept in every walk, even one that max_files cuts short."""
        self.tree.touch(path)

    def walk(self) -> dict[str, os.stat_result]:
        """Stat of every file the ignore rules keep (links included, not followed), at most max_files."""
        found, self.walk_truncated = self.tree.walk()
        return found

    def _read(self, path: str, info: os.stat_result) -> str:
        """Read, redact and store a file's content; a blob digest or "!reason"."""
        if stat.S_ISLNK(info.st_mode):
            return "!symlink"
        if not stat.S_ISREG(info.st_mode):
            return "!not a regular file"
        if self.redactor.is_secret_file(path):
            return "!secret"
        if info.st_size > self.max_file_bytes:
            return "!too large"
        try:
            with open(self.workspace / path, "rb") as handle:
                raw = handle.read(self.max_file_bytes + 1)
        except OSError:
            return "!unreadable"
        if len(raw) > self.max_file_bytes:
            return "!too large"
        text, _bad = decode(raw)
        if text is None:
            return "!binary"
        return self.blobs.put(self.redactor.redact(text).encode("utf-8", errors="replace"))

    def ref(self, path: str, info: os.stat_result, deadline: float | None = None) -> str:
        """The blob of a file's current content, from the stat cache or read now ("!unread" past deadline)."""
        with self._lock:
            entry = self._files.get(path)
            if entry is not None and entry.size == info.st_size and entry.mtime_ns == info.st_mtime_ns:
                return entry.ref
            if deadline is not None and time.monotonic() > deadline:
                return "!unread"
            ref = self._read(path, info)
            self._files[path] = _Entry(info.st_size, info.st_mtime_ns, ref)
            return ref

    def text(self, ref: str) -> str | None:
        if ref.startswith("!"):
            return None
        raw = self.blobs.get(ref)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    # -- greens -----------------------------------------------------------------------------
    def manifest(self, digest: str) -> dict[str, str] | None:
        cached = self._manifests.get(digest)
        if cached is not None:
            return cached
        raw = self.blobs.get(digest)
        try:
            files = json.loads(raw)["files"] if raw is not None else None
        except (ValueError, KeyError, TypeError):
            files = None
        if isinstance(files, dict):
            if len(self._manifests) > 16:
                self._manifests.clear()
            self._manifests[digest] = files
        return files

    def snapshot(self, ts: float, until: float | None = None) -> str:
        """Store the manifest of the workspace as of a run that started at `ts` (an event's time)
        and ended at `until` (default `ts`); return its digest.

        A file modified after the run's end (plus mtime_slack) was saved after the run (its event
        came late): its content now is never taken for the run's. Its content of the run is the
        stat cache's copy when that is older, else the newest earlier manifest's entry, else its
        committed version, else unknown ("!unknown": reported as changed, "no earlier copy")."""
        with self._lock:
            self._check_forgotten()
            deadline = time.monotonic() + self.read_budget_s
            newest = max(self.greens.values(), key=lambda g: g.ts, default=None)
            earlier = (self.manifest(newest.manifest) if newest is not None else None) or {}
            found, truncated = self.tree.walk()
            end = until if until is not None and until >= ts else ts
            limit_ns = int((end + max(mtime_slack(ts), mtime_slack(end))) * 1e9)
            files: dict[str, str] = {}
            late: dict[str, os.stat_result] = {}
            for path, info in found.items():
                cached = self._files.get(path)
                if info.st_mtime_ns <= limit_ns:
                    files[path] = _entry_of(self.ref(path, info, deadline), info.st_size, info.st_mtime_ns)
                elif cached is not None and cached.mtime_ns <= limit_ns:
                    files[path] = _entry_of(cached.ref, cached.size, cached.mtime_ns)
                elif path in earlier:
                    files[path] = earlier[path]
                else:
                    late[path] = info
            files.update(self._before(late, deadline))
            if not truncated:
                for gone in set(self._files) - set(files):
                    del self._files[gone]
            else:
                files[PARTIAL] = "!partial"
            data = json.dumps({"version": MANIFEST_VERSION, "ts": ts, "files": files}, sort_keys=True).encode()
            digest = self.blobs.put(data)
            self._manifests[digest] = files
            return digest

    def _before(self, late: dict[str, os.stat_result], deadline: float) -> dict[str, str]:
        """Entries of files modified after the run, with no copy older than it: the committed
        version (redacted, like every blob), else "!unknown". Never the content now."""
        entries = {path: _entry_of(UNKNOWN, info.st_size, info.st_mtime_ns) for path, info in late.items()}
        asked = [path for path, info in late.items()
                 if stat.S_ISREG(info.st_mode) and not self.redactor.is_secret_file(path)]
        if not asked or time.monotonic() > deadline:
            return entries
        found = committed(self.workspace, asked, self.max_file_bytes,
                          timeout=max(0.1, min(2.0, deadline - time.monotonic())))
        for path, raw in found.items():
            text, _bad = decode(raw)
            if text is not None:
                entries[path] = COMMITTED + self.blobs.put(self.redactor.redact(text).encode("utf-8", errors="replace"))
        return entries

    def mark_green(self, name: str, key: str, kind: str, ts: float, manifest: str) -> None:
        with self._lock:
            self.greens[name] = Green(key, kind, ts, manifest)
            if len(self.greens) > self.max_greens:
                for old in sorted(self.greens, key=lambda n: self.greens[n].ts)[: len(self.greens) - self.max_greens]:
                    del self.greens[old]
            newest: dict[str, float] = {}
            for green in self.greens.values():
                newest[green.manifest] = max(green.ts, newest.get(green.manifest, 0.0))
            if len(newest) > MAX_MANIFESTS:
                dropped = set(sorted(newest, key=newest.__getitem__)[: len(newest) - MAX_MANIFESTS])
                self.greens = {n: g for n, g in self.greens.items() if g.manifest not in dropped}

    def changes_since(self, green: Green, limit: int = 50) -> list[Changed]:
        """Files that differ between the green's manifest and the workspace now, newest first."""
        with self._lock:
            self._check_forgotten()
            before = self.manifest(green.manifest)
            if before is None:
                return []
            now, truncated = self.tree.walk()
            partial = PARTIAL in before  # a file not in a partial manifest may have existed then
            candidates: list[tuple[float, str]] = []
            for path, info in now.items():
                old_ref = before.get(path)
                if old_ref is not None and not old_ref.startswith("!"):
                    entry = self._files.get(path)
                    if entry is not None and entry.ref == _blob(old_ref) and entry.size == info.st_size \
                            and entry.mtime_ns == info.st_mtime_ns:
                        continue  # the stat cache proves it unchanged
                candidates.append((info.st_mtime_ns / 1e9, path))
            changed: list[Changed] = []
            unread: list[Changed] = []  # changed since the green, which had no copy of them (its walk ran out of time)
            deadline = time.monotonic() + self.read_budget_s
            for mtime, path in sorted(candidates, reverse=True):
                if len(changed) >= limit:
                    break
                new_ref = _entry_of(self.ref(path, now[path], deadline), now[path].st_size, now[path].st_mtime_ns)
                old_ref = before.get(path)
                since_commit = old_ref is not None and old_ref.startswith(COMMITTED)
                if since_commit:
                    old_ref = _blob(old_ref)
                if old_ref == new_ref:
                    continue  # same content, or (for files not read) the same size and time
                if old_ref is None and partial:
                    if mtime <= green.ts + mtime_slack(green.ts):
                        continue  # beyond the cut of the walk then, and not modified since
                    changed.append(Changed(path, None, self.text(new_ref), mtime, "no earlier copy"))
                elif old_ref is None:
                    changed.append(Changed(path, "", self.text(new_ref), mtime, "created"))
                elif old_ref.startswith(("!unread", UNKNOWN)) and not new_ref.startswith("!"):
                    if mtime <= green.ts + mtime_slack(green.ts):
                        continue  # not read then, but not modified since: the same content
                    unread.append(Changed(path, None, self.text(new_ref), mtime, "no earlier copy"))
                elif new_ref.startswith("!") or old_ref.startswith("!"):
                    note = _reason(new_ref) if new_ref.startswith("!") else "no earlier copy"
                    changed.append(Changed(path, self.text(old_ref), self.text(new_ref), mtime, note))
                else:
                    changed.append(Changed(path, self.text(old_ref), self.text(new_ref), mtime,
                                           "since the commit" if since_commit else ""))
            changed += self._from_commit(unread)
            changed.sort(key=lambda c: -c.saved_ts)
            if not truncated:
                for path in sorted(set(before) - set(now) - {PARTIAL})[: max(0, limit - len(changed))]:
                    changed.append(Changed(path, self.text(_blob(before[path])), None, time.time(), "deleted"))
            return changed

    def _from_commit(self, unread: list[Changed]) -> list[Changed]:
        """Files the green's walk did not read (its read budget ran out) and changed since: their
        committed version (redacted) stands in for the content of the run, as for a green that
        came too late (`_before`); without one they stay "no earlier copy"."""
        if not unread:
            return []
        found = committed(self.workspace, [c.path for c in unread], self.max_file_bytes)
        out = []
        for change in unread:
            text, _bad = decode(found[change.path]) if change.path in found else (None, False)
            if text is None:
                out.append(change)
            else:
                out.append(Changed(change.path, self.redactor.redact(text), change.new, change.saved_ts, "since the commit"))
        return out

    # -- bounds -----------------------------------------------------------------------------
    def prune(self, force: bool = False) -> dict[str, int]:
        """Delete blobs nothing refers to; drop the oldest greens while the store is too big."""
        with self._lock:
            if not force and self.blobs.written <= self.max_store_bytes // PRUNE_EVERY:
                return {}
            self.blobs.written = 0
            deleted = 0
            while True:
                in_greens: set[str] = set()
                for green in self.greens.values():
                    in_greens.add(green.manifest)
                    in_greens.update(_blob(e) for e in (self.manifest(green.manifest) or {}).values())
                live = in_greens | {e.ref for e in self._files.values()}
                total = 0
                for digest, size in list(self.blobs.digests()):
                    if digest in live:
                        total += size
                    else:
                        self.blobs.delete(digest)
                        deleted += 1
                if total <= self.max_store_bytes:
                    return {"deleted": deleted, "bytes": total, "greens": len(self.greens)}
                cached_only = [p for p, e in self._files.items() if not e.ref.startswith("!") and e.ref not in in_greens]
                if cached_only:  # copies of the current tree no green needs: read again when needed
                    for path in cached_only:
                        del self._files[path]
                elif self.greens:  # the oldest green moment goes first
                    oldest = min(self.greens.values(), key=lambda g: g.ts).manifest
                    self.greens = {n: g for n, g in self.greens.items() if g.manifest != oldest}
                    self._manifests.pop(oldest, None)
                elif self._files:
                    self._files.clear()
                else:  # blobs that cannot be deleted: nothing more to drop
                    return {"deleted": deleted, "bytes": total, "greens": 0}

    def prime(self, stop: threading.Event | None = None, duty: float = 1.0) -> int:
        """Fill the stat cache in the background (one file per lock hold), so the first green is cheap.
        `duty` < 1 rests between files (as long as reading took, for 0.5), leaving the interpreter
        to the pipeline and the watchers most of the time."""
        stop = stop or threading.Event()
        count = 0
        for path, info in self.tree.walk()[0].items():
            if stop.is_set():
                break
            began = time.perf_counter()
            self.ref(path, info)
            count += 1
            if duty < 1.0:
                stop.wait((time.perf_counter() - began) * (1.0 - duty) / duty)
        return count
