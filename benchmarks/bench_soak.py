"""Soak: a real daemon with the engine on takes 10 events/s for a chosen time; does it leak?

    python benchmarks/bench_soak.py [--minutes 30] [--rate 10] [--json]

A throw-away git repository and COMPANION_HOME; `companion run` as a process with the engine on,
the scripted agent backend (fixed JSON replies, so the figure measures companion, not a model) and
the configured gate (the shipped reward gate by default). Each second brings `--rate` events by
their real routes: a file really written in the workspace (the file watcher), and editor events
and shell commands over the socket. Every 20th command is `python calc.py` failing, which
triggers the engine; just before it, the soak writes the broken `calc.py` again (as a user
breaking it again would), so that each trigger finds the same file.

The scripted replies take turns: an `explain` and an `edit` (a patch to calc.py), both naming
`calc.py` and the failing command, so they are grounded in the trigger's evidence
(companion/agent/grounding.py) and reach the gate. A client subscribed to proposals answers every
surfaced one; each operation takes its own turns of accept, reject, snooze, so an `edit` is
accepted every third time and the daemon applies its patch (the apply path is soaked too). An
accept the daemon refuses (the patch no longer applies) is answered with a reject, so nothing is
left unanswered. The budget is opened (short cool-down, no repeat window, a one-minute snooze) so
the engine works all along.

The daemon's RSS (VmRSS) and CPU time are sampled from /proc every `--sample-s`. RSS growth is
the last sample minus the first one after `--warmup-s` (model and gate loading excluded).
Target: RSS grows <= 10 MB over 30 minutes.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _foundation_common import REPO, arguments, isolated_env, report, stop_daemon, temp_home, wait_for_socket

TARGET_MB = 10.0
CALC = "def add(a, b):\n    return a - b\n\n\nif add(2, 3) != 5:\n    raise SystemExit('add(2, 3) is not 5')\n"
FAILING = "python calc.py"
# the scripted replies name calc.py and the command, which the failing command's event holds
EXPLAIN = {"purpose": "help with the failing command", "thoughts": "add() subtracts",
           "proactive_task": f"Explain why `{FAILING}` fails", "operation": "explain", "path": "calc.py", "line": 2,
           "response": "add() in calc.py returns a - b, so add(2, 3) is -1 and the check at the end of calc.py "
                       "raises SystemExit."}
EDIT = {"purpose": "help with the failing command", "thoughts": "add() subtracts",
        "proactive_task": f"Fix add() in calc.py so that `{FAILING}` passes", "operation": "edit", "path": "calc.py",
        "line": 2, "response": "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
                               "+    return a + b\n"}


def proc_figures(pid: int) -> tuple[float, float]:
    """(RSS in MB, user+system CPU seconds) of a process."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def make_repo(root: Path) -> None:
    (root / "api").mkdir(parents=True)
    (root / "api" / "client.py").write_text("class Client:\n    pass\n")
    (root / "api" / "__init__.py").write_text("")
    (root / "calc.py").write_text(CALC)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=soak", "-c", "user.email=soak@example.com",
                                                    "commit", "-qm", "start"]):
        subprocess.run(["git", *command], cwd=root, check=True, capture_output=True)


def script(minutes: float) -> list[dict[str, Any]]:
    """The backend's replies, explain and edit in turn; one pair a second is more than the engine
    asks for (the backend repeats the last reply once the list is used up)."""
    return [EXPLAIN, EDIT] * max(60, int(minutes * 60))


class Answerer:
    """Answers every surfaced proposal: each operation takes its own turns of accepted, rejected,
    snoozed. An accepted edit is applied by the daemon; one it refuses is rejected instead."""

    OUTCOMES = ("accepted", "rejected", "snoozed")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.answered: dict[str, dict[str, int]] = {}  # operation -> outcome -> count
        self.surfaced = 0  # surfaced proposals seen (a snoozed one that comes back counts again)
        self.edits_applied = 0
        self.refused: list[str] = []  # accepts the daemon refused, with its reason
        self.errors: list[str] = []
        self._turns: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop once the proposals already pushed are answered (or after drain_s)."""
        deadline = time.monotonic() + drain_s
        while not self.inbox.empty() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._stop.set()
        self._thread.join(10)

    @property
    def unanswered(self) -> int:
        answered = sum(sum(counts.values()) for counts in self.answered.values())
        return self.surfaced - answered - len(self.errors)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            proposal = message.get("proposal") or {}
            if message.get("change") != "new" or not proposal.get("surfaced") or proposal.get("status") != "open":
                continue
            self.surfaced += 1
            operation = str(proposal.get("operation") or "none")
            turn = self._turns.get(operation, 0)
            self._turns[operation] = turn + 1
            self._answer(proposal, operation, self.OUTCOMES[turn % len(self.OUTCOMES)])

    def _answer(self, proposal: dict[str, Any], operation: str, outcome: str) -> None:
        from companion.ipc import IpcRefused

        try:
            reply = self.client.request("outcome", proposal_id=proposal["id"], outcome=outcome, answer_s=1.0,
                                        via="soak")
        except IpcRefused as exc:
            if outcome != "accepted":
                self.errors.append(str(exc))
                return
            self.refused.append(str(exc))
            return self._answer(proposal, operation, "rejected")
        except Exception as exc:
            self.errors.append(str(exc))
            return
        counts = self.answered.setdefault(operation, {})
        counts[outcome] = counts.get(outcome, 0) + 1
        if reply.get("applied"):
            self.edits_applied += 1


def drive(client: Any, workspace: Path, seconds: float, rate: int, pid: int, sample_s: float,
          samples: list[tuple[float, float, float]]) -> dict[str, int]:
    """Send `rate` events a second for `seconds`; sample the daemon's figures along the way."""
    sent = {"file": 0, "editor": 0, "shell": 0, "failed_commands": 0}
    began = time.monotonic()
    next_sample = began
    tick = 0
    while True:
        now = time.monotonic()
        if now >= next_sample:
            rss, cpu = proc_figures(pid)
            samples.append((now - began, rss, cpu))
            next_sample += sample_s
        if now - began >= seconds:
            return sent
        path = workspace / "api" / f"module_{tick % 25}.py"
        path.write_text(f"VALUE = {tick}\n\ndef handler_{tick % 7}(request):\n    return VALUE\n")
        sent["file"] += 1
        events = []
        for i in range(rate - 2):
            events.append({"id": uuid.uuid4().hex, "source": "editor", "kind": "editor.changed",
                           "data": {"path": f"api/module_{(tick + i) % 25}.py", "language": "python"}})
        failed = tick % 20 == 0
        if failed:
            (workspace / "calc.py").write_text(CALC)  # broken again (an accepted edit fixed it)
        command = FAILING if failed else "git status"
        events.append({"id": uuid.uuid4().hex, "source": "shell", "kind": "shell.command",
                       "data": {"command": command, "cwd": str(workspace), "dir": ".", "exit_code": 1 if failed else 0,
                                "duration_s": 0.2, "shell": "bash", "session": "soak", "origin": "hook"}})
        client.request("emit", events=events)
        sent["editor"] += rate - 2
        sent["shell"] += 1
        sent["failed_commands"] += int(failed)
        tick += 1
        time.sleep(max(0.0, began + tick - time.monotonic()))


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=10, help="events per second (at least 3)")
    parser.add_argument("--warmup-s", type=float, default=60.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--gate", default="", help="gate kind (default: the configured one, the reward gate)")
    parser.add_argument("--level", type=int, default=5,
                        help="interruption level 1-5 (default 5, which surfaces the most: the shipped gate scores "
                             "the scripted help 0.3-0.55, under level 3's threshold, and the soak is for the "
                             "outcome paths as much as for the watchers)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home (its database and logs)")
    args = parser.parse_args()
    home = temp_home()
    workspace = home / "repo"
    make_repo(workspace)
    replies = home / "script.json"
    replies.write_text(json.dumps(script(args.minutes)))
    env = isolated_env(home)
    env.update({"COMPANION_ENGINE_ENABLED": "true", "COMPANION_AGENT_BACKEND": "scripted",
                "COMPANION_AGENT_SCRIPT": str(replies), "COMPANION_ENGINE_COOLDOWN_S": "5",
                "COMPANION_ENGINE_BACKOFF_S": "0", "COMPANION_ENGINE_REPEAT_WINDOW_S": "0",
                "COMPANION_ENGINE_MAX_PER_HOUR": "100000", "COMPANION_ENGINE_EXPIRE_S": "120",
                "COMPANION_ENGINE_SNOOZE_S": "60"})
    env["COMPANION_GENERAL_INTERRUPTION_LEVEL"] = str(args.level)
    if args.gate:
        env["COMPANION_GATE_KIND"] = args.gate
    process = subprocess.Popen([sys.executable, "-m", "companion", "run", str(workspace), "--quiet"], env=env,
                               cwd=str(home), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    samples: list[tuple[float, float, float]] = []
    try:
        wait_for_socket(workspace, home, process)
        from companion import paths
        from companion.ipc import Client
        from companion.store import Store

        answerer_client = Client(paths.socket_file(workspace), timeout=60)
        answerer = Answerer(answerer_client)
        answerer_client.on_message = answerer.inbox.put
        answerer_client.request("subscribe", topics=["proposal"])
        answerer.start()
        client = Client(paths.socket_file(workspace), timeout=60)
        sent = drive(client, workspace, args.minutes * 60, max(3, args.rate), process.pid, args.sample_s, samples)
        status = client.request("status")["status"]
        answerer.stop()
        client.close()
        answerer_client.close()
        alive = process.poll() is None
    finally:
        stop_daemon(process)
    with Store(paths.database_file()) as store:
        stored = store.count_events(str(workspace))
        outcomes = store.outcomes(str(workspace))
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    after = [s for s in samples if s[0] >= args.warmup_s] or samples
    growth = after[-1][1] - after[0][1]
    cpu_share = (after[-1][2] - after[0][2]) / max(1e-9, after[-1][0] - after[0][0])
    engine = status.get("engine", {})
    outcome_counts: dict[str, int] = {}
    for _proposal, outcome in outcomes:
        outcome_counts[outcome.outcome] = outcome_counts.get(outcome.outcome, 0) + 1
    unanswered = answerer.unanswered
    rows = [(f"RSS growth over {args.minutes:g} min (MB)", round(growth, 1), f"<= {TARGET_MB:g}", growth <= TARGET_MB),
            ("daemon alive at the end", alive, "True", alive),
            ("surfaced proposals left unanswered", unanswered, "0", unanswered == 0),
            ("accepted edits the daemon applied", answerer.edits_applied, ">= 1", answerer.edits_applied >= 1)]
    return report("Soak", rows, args.json, {
        "minutes": args.minutes, "rate_per_s": args.rate, "warmup_s": args.warmup_s, "interruption_level": args.level,
        "rss_mb": {"after_warmup": round(after[0][1], 1), "end": round(after[-1][1], 1),
                   "max": round(max(s[1] for s in samples), 1)},
        "cpu_percent_of_one_core": round(100 * cpu_share, 1),
        "events_sent": sent, "events_stored": stored,
        "engine": {key: engine.get(key) for key in ("triggers", "steps", "proposals", "surfaced", "held", "last_hold")},
        "gate": engine.get("gate"), "outcomes": outcome_counts, "surfaced_seen": answerer.surfaced,
        "answered_by_operation": answerer.answered, "edits_applied": answerer.edits_applied,
        "accepts_refused": len(answerer.refused), "refused_reasons": sorted(set(answerer.refused))[:3],
        "answer_errors": len(answerer.errors), "error_reasons": sorted(set(answerer.errors))[:3],
        "rss_samples_mb": [round(s[1], 1) for s in samples[:: max(1, len(samples) // 20)]],
    })


if __name__ == "__main__":
    raise SystemExit(main())
