"""Per-prompt overhead of the companion shell hook in real interactive bash, zsh and fish.

Two figures per shell:
- hook work: the hook's own functions (preexec + precmd, recording one command to the spool)
  called in a loop inside the interactive shell and timed by the shell's clock. This is the time
  the hook adds to every prompt, without terminal noise.
- end to end: N commands (`:`) typed through a pseudo-terminal into a shell with the hook and one
  without; the difference of the mean time per prompt.

Target: hook work <= 5 ms per prompt in bash, zsh and fish (none of them starts a process per
prompt). Run:
    PYTHONPATH=. python benchmarks/bench_shell_hook_overhead.py [--prompts 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from companion.cli.shell_init import hook_script  # noqa: E402
from tests.shell.pty_shell import PtyShell  # noqa: E402

TARGET_MS = 5.0
PRELUDE = {"bash": "HISTCONTROL=ignoreboth\nHISTFILE=~/.bash_history\n",
           "zsh": "HISTFILE=~/.zsh_history\nSAVEHIST=1000\nHISTSIZE=1000\n", "fish": ""}
# one loop that does what a prompt does: preexec for a new command, then precmd records it
HOOK_LOOP = {
    # the trap is called by hand (once armed, once more as for a PROMPT_COMMAND item), not by bash
    # for every command of the loop itself
    "bash": ('trap - DEBUG; __s=$EPOCHREALTIME; for ((__i=0;__i<{n};__i++)); do builtin history -s "make test $__i"; '
             '__companion_armed=1; __companion_debug_trap; false; __companion_precmd; __companion_debug_trap; '
             '__companion_arm; done; __e=$EPOCHREALTIME; trap "[[ -z \\$__companion_armed ]] || __companion_debug_trap" DEBUG; '
             'echo "us=$(( (${{__e/./}} - ${{__s/./}}) / {n} ))"'),
    "zsh": ('__s=$EPOCHREALTIME; for ((__i=0;__i<{n};__i++)); do __companion_preexec "make test $__i"; false; '
            '__companion_precmd; done; __e=$EPOCHREALTIME; echo "us=$(( (__e - __s) * 1000000 / {n} ))"'),
    "fish": ('set -l __s (date +%s%N); for __i in (seq {n}); emit fish_preexec "make test $__i"; false; '
             'emit fish_postexec "make test $__i"; end; set -l __e (date +%s%N); '
             'echo "us="(math --scale=0 "($__e - $__s) / 1000 / {n}")'),
}


def hook_work_ms(shell: str, home: Path, cwd: Path, n: int) -> float:
    with PtyShell(shell, PRELUDE[shell] + hook_script(shell), home, cwd, timeout=120) as sh:
        sh.run(HOOK_LOOP[shell].format(n=max(1, n // 10)))  # warm-up
        output = sh.run(HOOK_LOOP[shell].format(n=n))
    value = next(line for line in output.replace("\r", "").splitlines() if line.startswith("us="))
    return int(value[3:].split(".")[0]) / 1000.0


def prompt_ms(shell: str, rc: str, home: Path, cwd: Path, n: int, rounds: int = 3) -> float:
    """Median over rounds of the mean time per typed command."""
    means = []
    with PtyShell(shell, rc, home, cwd, timeout=60) as sh:
        for _ in range(10):
            sh.run(":")
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(n):
                sh.run(":")
            means.append((time.perf_counter() - start) / n * 1000)
    return statistics.median(means)


LOOP = ('__s=$EPOCHREALTIME; for ((__i=0;__i<20000;__i++)); do :; done; __e=$EPOCHREALTIME; '
        'echo "us=$(( ${__e/./} - ${__s/./} ))"')


def bash_typed_loop_ms(rc: str, home: Path, cwd: Path) -> float:
    """A 20,000-iteration loop typed at the prompt: bash runs a DEBUG trap before every command in it."""
    with PtyShell("bash", rc, home, cwd, timeout=300) as sh:
        output = sh.run(LOOP)
    value = next(line for line in output.replace("\r", "").splitlines() if line.startswith("us="))
    return int(value[3:]) / 1000.0


def measure(shell: str, n: int) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["COMPANION_HOME"] = str(root / "companion")
        work = hook_work_ms(shell, root / "h1", root, n)
        plain = prompt_ms(shell, PRELUDE[shell], root / "h2", root, n)
        hooked = prompt_ms(shell, PRELUDE[shell] + hook_script(shell), root / "h3", root, n)
        spooled = (root / "companion" / "data" / "spool" / "shell.tsv").read_text().count("\n")
        result: dict[str, float | str] = {
            "shell": shell, "hook_work_ms": round(work, 3), "prompt_plain_ms": round(plain, 3),
            "prompt_with_hook_ms": round(hooked, 3), "end_to_end_overhead_ms": round(hooked - plain, 3),
            "records_written": spooled}
        if shell == "bash":
            result["typed_loop_20k_plain_ms"] = round(bash_typed_loop_ms(PRELUDE[shell], root / "h4", root), 1)
            result["typed_loop_20k_with_hook_ms"] = round(
                bash_typed_loop_ms(PRELUDE[shell] + hook_script(shell), root / "h5", root), 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--shells", default="bash,zsh,fish")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(shell, args.prompts) for shell in args.shells.split(",") if shutil.which(shell)]
    load = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps({"target_ms": TARGET_MS, "prompts": args.prompts, "load_average": load, "results": results}))
    else:
        print(f"companion shell hook overhead, {args.prompts} prompts per measurement (target <= {TARGET_MS} ms); "
              f"load average {load[0]} on {os.cpu_count()} CPUs")
        for r in results:
            verdict = "ok" if r["hook_work_ms"] <= TARGET_MS else "over target"
            print(f"  {r['shell']:<5} hook work {r['hook_work_ms']:.3f} ms/prompt ({verdict}); "
                  f"typed prompt {r['prompt_plain_ms']:.2f} ms without, {r['prompt_with_hook_ms']:.2f} ms with "
                  f"(difference {r['end_to_end_overhead_ms']:+.2f} ms); {r['records_written']} records spooled")
            if "typed_loop_20k_plain_ms" in r:
                print(f"        a 20,000-iteration loop typed at the bash prompt: {r['typed_loop_20k_plain_ms']:.0f} ms "
                      f"without, {r['typed_loop_20k_with_hook_ms']:.0f} ms with the hook (its DEBUG trap)")
    return 0 if all(r["hook_work_ms"] <= TARGET_MS for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
