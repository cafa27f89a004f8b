"""Redaction speed: a realistic batch of shell.command events through the pipeline's redaction.

The batch is 10,000 distinct shell commands (git, pytest, pip, npm, docker, kubectl, curl, make...,
about 3% carrying a credential) and 1,000 of them with a captured output tail (pytest failures,
pip and npm logs, docker builds: 40-200 lines each, as `data["evidence"]["output"]["tail"]`), each
event's data redacted with `companion.pipeline.redact_event` by a fresh Redactor (its cache starts
empty; every command is distinct, so the cache never helps). The figures are seconds of CPU, so a
busy machine changes them little. To compare with another version of companion, point `--repo`
at its checkout (`--repo /path/to/old/checkout`).

    python benchmarks/bench_redaction.py [--json] [--commands N] [--tails N] [--repo PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_PROGRAMS = [
    "git status", "git diff --stat", "git log --oneline -20", "git checkout -b feature/{w}", "git commit -m 'Fix {w} in {p}'",
    "git push origin {w}", "git rebase -i HEAD~{n}", "python -m pytest -x tests/test_{w}.py::test_{w}_{n}",
    "pytest -q -k '{w} and not slow'", "pip install {w}=={n}.{n}.0", "npm install --save-dev {w}@^{n}.0.0",
    "npm run build -- --mode {w}", "docker build -t {w}:{n} .", "docker run --rm -p 80{n}:80 {w}:latest",
    "kubectl get pods -n {w} -o wide", "kubectl logs deploy/{w} --tail={n}", "make -j4 {w}", "cd src/{w}",
    "ls -la {p}", "grep -rn '{w}' src/ | head -{n}", "vim {p}", "cat {p} | jq '.{w}'", "rg {w} --type py",
    "curl -s https://api.example.com/v{n}/{w} | jq .", "ssh -p 22{n} deploy@{w}.internal", "tar -czf {w}.tgz {p}",
    "cargo test {w} -- --nocapture", "go test ./{w}/... -run Test{w}", "terraform plan -var env={w}",
]
_SECRET_FORMS = [
    "mysql -u root -p'S3cret{n}{w}' {w}", "PGPASSWORD={w}{n} psql -h db -U app {w}", "export DB_PASSWORD='{w} {n} x'",
    "curl -u bob:{w}{n} https://x/{w}", "sshpass -p {w}{n} ssh host", "redis-cli -a {w}{n} ping",
    "psql postgresql://app:{w}{n}@db/{w}", "curl -H 'Authorization: Bearer {w}{n}abc' https://api/{w}",
    "GITHUB_TOKEN=ghp_{n}{w}aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567 gh pr list",
]
_WORDS = ["client", "server", "retry", "auth", "cache", "parser", "models", "billing", "search", "ingest", "worker",
          "config", "session", "upload", "report", "metrics", "queue", "router", "schema", "export"]


def _command(rng: random.Random, i: int) -> str:
    form = rng.choice(_SECRET_FORMS) if rng.random() < 0.03 else rng.choice(_PROGRAMS)
    word = rng.choice(_WORDS)
    path = f"src/{rng.choice(_WORDS)}/{word}_{i}.py"
    return form.format(w=f"{word}{i}", n=rng.randint(1, 99), p=path)


def _tail(rng: random.Random, i: int) -> str:
    """Output as commands print it: a pytest failure report, a pip log, a docker build."""
    word = rng.choice(_WORDS)
    kind = i % 3
    lines: list[str] = []
    if kind == 0:
        lines += [f"tests/test_{word}.py::test_{word}_{n} PASSED [{n}%]" for n in range(rng.randint(20, 80))]
        lines += ["=" * 30 + " FAILURES " + "=" * 30, f"____ test_{word}_{i} ____", "",
                  f"    def test_{word}_{i}():", f">       assert parse('{word}') == {{'{word}': {i}}}",
                  f"E       AssertionError: assert {{'{word}': {i + 1}}} == {{'{word}': {i}}}", "",
                  f"tests/test_{word}.py:{i % 300}: AssertionError",
                  f"FAILED tests/test_{word}.py::test_{word}_{i} - AssertionError: assert {i + 1} == {i}",
                  f"1 failed, {rng.randint(20, 80)} passed in {rng.random() * 9:.2f}s"]
    elif kind == 1:
        for n in range(rng.randint(40, 150)):
            package = f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}"
            lines.append(f"Collecting {package}=={n % 9}.{n % 7}.{i % 5} (from -r requirements.txt (line {n}))")
            lines.append(f"  Downloading {package}-{n % 9}.{n % 7}.{i % 5}-py3-none-any.whl ({rng.randint(10, 900)} kB)")
        lines.append(f"Successfully installed {' '.join(_WORDS[:8])}")
    else:
        for n in range(rng.randint(40, 200)):
            digest = f"{rng.getrandbits(256):064x}"
            lines.append(f"#{n} [{n}/{i % 20 + 1}] RUN pip install --no-cache-dir -r /app/{word}/requirements.txt")
            lines.append(f"#{n} sha256:{digest} {rng.randint(1, 99)}.{n}MB / {rng.randint(100, 999)}MB {rng.random():.1f}s")
    return "\n".join(lines)


def batch(commands: int, tails: int) -> list:
    from companion.events import Event

    rng = random.Random(13)
    events = []
    for i in range(commands):
        data = {"command": _command(rng, i), "cwd": f"/home/dev/work/{rng.choice(_WORDS)}", "dir": ".",
                "exit_code": rng.choice([0, 0, 0, 1, 2]), "duration_s": round(rng.random() * 20, 3),
                "shell": "bash", "session": f"{rng.getrandbits(32):08x}", "origin": "hook"}
        if i < tails:
            tail = _tail(rng, i)
            data["evidence"] = {"output": {"tail": tail, "lines": tail.count("\n") + 1, "bytes": len(tail),
                                           "truncated": False, "route": "pty"}}
        events.append(Event("shell", "shell.command", data, "/home/dev/work"))
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--commands", type=int, default=10_000)
    parser.add_argument("--tails", type=int, default=1_000)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose companion is measured")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from companion.pipeline import redact_event
    from companion.redact import Redactor

    events = batch(args.commands, args.tails)
    tail_bytes = sum(len(e.data["evidence"]["output"]["tail"]) for e in events if "evidence" in e.data)
    redactor = Redactor()
    began = time.process_time()
    for event in events[args.tails:]:
        redact_event(event, redactor)
    commands_s = time.process_time() - began
    began = time.process_time()
    for event in events[:args.tails]:
        redact_event(event, redactor)
    tails_s = time.process_time() - began
    plain = args.commands - args.tails
    figures = {
        "repo": str(args.repo.resolve()),
        "commands_without_output": plain, "cpu_s_commands": round(commands_s, 3),
        "commands_per_cpu_s": round(plain / commands_s) if commands_s else None,
        "commands_with_output_tail": args.tails, "tail_kib": round(tail_bytes / 1024),
        "cpu_s_tails": round(tails_s, 3), "tail_mib_per_cpu_s": round(tail_bytes / 2**20 / tails_s, 2) if tails_s else None,
        "cpu_s_total": round(commands_s + tails_s, 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:>28}: {value}")


if __name__ == "__main__":
    main()
