"""Is a process still there? One answer for `companion stop` and the language server's parent watch.

Both wait for a process to go: `companion stop` for the daemon it asked to shut down, the language
server for the editor that started it. Both used to ask `kill(pid, 0)` on their own, and only one
treated a zombie (exited, not yet reaped by its parent) as gone; a zombie has stopped for good, so
both now do.
"""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """True while `pid` runs (also when it belongs to another user); False once it has exited,
    including as a zombie. Where /proc cannot tell, a process that answers signals counts as alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
