"""companion.tui.jobs: progress read from real subprocess output, and command discovery."""

from __future__ import annotations

import sys

from companion.tui.jobs import command_options, find_command, parse_progress, run_streaming

TQDM_SCRIPT = """
import sys, time
from tqdm import tqdm
print("loading data", flush=True)
for _ in tqdm(range(20), desc="epoch 1", file=sys.stderr, mininterval=0, miniters=1):
    time.sleep(0.005)
print("val f1 0.81", flush=True)
sys.exit(3)
"""


def test_parse_progress() -> None:
    assert parse_progress("epoch 1:  45%|####5     | 9/20 [00:01<00:02]") == 9 / 20
    assert parse_progress("step 30/120 loss 0.4") == 0.25
    assert parse_progress("done 80%") == 0.8
    assert parse_progress("val f1 0.81") is None
    assert parse_progress("saved to runs/2026/11") is None


def test_run_streaming_reports_lines_progress_and_exit_code() -> None:
    lines: list[str] = []
    progress: list[float] = []
    code = run_streaming([], lines.append, progress.append, program=[sys.executable, "-c", TQDM_SCRIPT])
    assert code == 3
    assert "loading data" in lines and "val f1 0.81" in lines
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)


def test_command_discovery() -> None:
    assert find_command(["tui"]) is not None
    assert "--no-start" in command_options(["tui"])
    assert find_command(["no-such-command"]) is None
