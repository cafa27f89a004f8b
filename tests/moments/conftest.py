"""Small real git repositories for the moments harness: a tiny package with a few pytest tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CALC = '''"""A tiny calculator package: enough code for mutants that a few tests catch."""


def add(a, b):
    return a + b


def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def mean(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)


def scale(values, factor):
    return [value * factor for value in values]
'''

TESTS = '''from calc import add, clamp, mean, scale


def test_add():
    assert add(2, 3) == 5


def test_clamp_low():
    assert clamp(-4, 0, 10) == 0


def test_clamp_high():
    assert clamp(14, 0, 10) == 10


def test_clamp_inside():
    assert clamp(4, 0, 10) == 4


def test_mean():
    assert mean([1, 2, 3, 6]) == 3


def test_scale():
    assert scale([1, 2], 3) == [3, 6]
'''


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Initial commit")
    return root.resolve()


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "calc-project", {"calc/__init__.py": CALC, "tests/test_calc.py": TESTS,
                                                 "pyproject.toml": "[project]\nname = 'calc'\nversion = '0.1'\n"})
