"""A small moments stream in the moments benchmark's export shape (companion/moments/report.py),
written to a file as `companion eval moments --export` writes it: four kinds of moment, each with a
rule's grounded proposal and the model's vague one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

KINDS = {
    "regression_hook": (True, [
        "The user saved `src/pkg/{m}.py` (+1 −1 lines), changing `{m}`.",
        "The user ran `python -m pytest -q` in the workspace root; it failed (exit 1) after 2.1 s.",
        "Tests newly failing (pytest): `tests/test_{m}.py::test_{m}_roundtrip`: AssertionError: assert 3 == 4."],
        ("Revert the change to src/pkg/{m}.py:61 that broke test_{m}_roundtrip", "edit", "revert_suspect", True)),
    "missing_module": (True, [
        "The user ran `python tools/{m}.py` in `tools/`; it failed (exit 1) after 0.3 s: "
        "ModuleNotFoundError: No module named '{m}lib'."],
        ("Install the missing module: pip install {m}lib", "run_command", "missing_module", True)),
    "routine_edits": (False, [
        "The user saved `src/pkg/{m}.py` (+4 −0 lines), changing `{m}`.",
        "The user saved `src/pkg/{m}.py` (+2 −1 lines), changing `{m}`."],
        ("Add a TODO note to finish {m}", "explain", None, False)),
    "typo_command": (True, [
        "The user ran `gti status` in the workspace root; it failed (exit 127) after 0.0 s: gti: command not found."],
        ("Run `git status` instead of `gti status`", "run_command", "command_not_found", True)),
}
NAMES = ["parser", "lexer", "cache", "loader", "report", "config"]


def export_rows() -> list[dict]:
    rows = []
    for kind, (failure, events, (task, operation, rule, grounded)) in KINDS.items():
        for n, name in enumerate(NAMES):
            obs = [{"time": f"2026-12-04 03:{n:02d}:{i:02d}", "event": e.format(m=name)} for i, e in enumerate(events)]
            for text, op, r, g in ((task.format(m=name), operation, rule, grounded),
                                   (f"Help with the current work on {name}?", "explain", None, False)):
                rows.append({"moment": {"id": f"{kind}-{n}", "repo": "demo", "category": kind, "failure": failure},
                             "proposal": {"task": text, "operation": op, "rule": r}, "grounded": g,
                             "obs": obs, "pred_task": text, "valid": False})
    return rows


@pytest.fixture()
def moments_export(tmp_path: Path) -> Path:
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(r) for r in export_rows()]
    lines.insert(3, "{not json")
    path.write_text("\n".join(lines) + "\n")
    return path

