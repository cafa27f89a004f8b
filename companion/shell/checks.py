"""`companion doctor` check for shell capture: has any shell loaded the hook, and how big is the spool."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from companion.checks import CheckResult, check


@check
def shell_hook(workspace: Path) -> CheckResult:
    from companion.shell import spool
    from companion.store import Store, StoreError

    try:
        with Store() as db:
            seen = db.get_state("", spool.HOOK_SEEN_KEY, {}) or {}
            reader = db.get_state(str(workspace), spool.STATE_KEY)
    except StoreError as exc:
        return CheckResult("shell hook", False, str(exc), required=False)
    directory = spool.spool_dir()
    files = [p for p in spool.files(directory) if p.exists()]
    size = sum(p.stat().st_size for p in files)
    backlog = f"spool {directory} ({size // 1024} KiB in {len(files)} file{'s' if len(files) != 1 else ''})"
    if not seen:
        return CheckResult("shell hook", False, "no shell has loaded the hook yet; add "
                           '`eval "$(companion shell-init bash)"` (or zsh; `companion shell-init fish | source`) '
                           f"to your shell's rc file; until then history files are read; {backlog}", required=False)
    shells = ", ".join(f"{name} (since {datetime.fromtimestamp(float(ts)):%Y-%m-%d})" for name, ts in sorted(seen.items()))
    read = "read by this workspace's daemon" if reader else "not read yet by this workspace's daemon"
    return CheckResult("shell hook", True, f"loaded by {shells}; {backlog}, {read}", required=False)
