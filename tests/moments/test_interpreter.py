"""The Python that runs a repository's tests is the project's own: `--python`, else a `.venv` or
`venv` of the repository folder (the moments work in copies, which never hold it), else
$VIRTUAL_ENV, else companion's own; an installed copy of the project never stands in for the
copy under test."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from companion.moments import interpreter
from companion.moments.interpreter import InterpreterError
from companion.moments.repo import Repo, git_env, write_identity
from companion.moments.selection import run_baseline
from tests.moments.conftest import CALC, TESTS, make_repo

COMMAND = "python -m pytest -q"
IN_ITS_VENV = '''import os
import sys


def test_runs_in_the_projects_own_environment():
    assert sys.prefix.endswith(".venv") and os.path.realpath(os.environ["VIRTUAL_ENV"]) == os.path.realpath(sys.prefix)
'''


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = git_env(write_identity(tmp_path / "harness"))
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}"
    return environ


def make_venv(folder: Path, *paths: Path) -> Path:
    """A virtual environment (no pip: quick) whose site-packages also adds `paths` to sys.path."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "added.pth").write_text("".join(f"{p}\n" for p in paths))
    return python


def test_the_repositorys_venv_runs_the_tests_and_the_copy_shadows_its_editable_install(tmp_path, env):
    source = make_repo(tmp_path / "project", {"src/calc/__init__.py": CALC, "tests/test_calc.py": TESTS,
                                              "tests/test_env.py": IN_ITS_VENV, ".gitignore": ".venv/\n"})
    # pytest and pytest-cov from this environment, and the project itself "installed in editable mode":
    # its src/ on the path, as a .pth of an editable install puts it
    python = make_venv(source / ".venv", Path(sysconfig.get_paths()["purelib"]), source / "src")

    chosen = interpreter.choose(source, environ={"VIRTUAL_ENV": "/elsewhere"})
    assert chosen.python == python and chosen.venv == source / ".venv" and chosen.origin == "the repository's .venv"
    repo = Repo.clone(source, tmp_path / "work", env)
    assert not (repo.base / ".venv").exists()  # the copy has none: the original folder's is used
    chosen = interpreter.probe(interpreter.ensure_shim(chosen, tmp_path / "shims"), repo.base, env)
    assert chosen.shim is None and chosen.has_pytest and chosen.has_pytest_cov and chosen.version
    assert chosen.pythonpath == ["src"]  # `calc` resolved to the original folder's src/
    assert any("`calc` resolves to" in note for note in chosen.notes)

    baseline = run_baseline(repo, COMMAND, chosen.apply(env), tmp_path / "work", 120, python=str(chosen.python))
    assert baseline.failing == [] and baseline.tests == 7, baseline.note
    assert "src/calc/__init__.py" in baseline.covered  # the copy's code ran, not the original's
    chosen.pythonpath = []  # without the shadow the tests would run the user's working tree
    again = run_baseline(repo, COMMAND, chosen.apply(env), tmp_path / "work", 120)
    assert not again.covered and not again.coverage and "installed copy" in again.note


def test_the_order_of_choice_and_a_bad_python(tmp_path):
    plain = make_repo(tmp_path / "plain", {"tool.py": "print('hi')\n"})
    active = tmp_path / "active"
    make_venv(active)
    assert interpreter.choose(plain, environ={"VIRTUAL_ENV": str(active)}).origin == "$VIRTUAL_ENV"
    own = interpreter.choose(plain, environ={})
    assert own.origin == "companion's own" and own.python == Path(os.path.abspath(sys.executable))
    bundle = tmp_path / "plain.bundle"  # a bundle has no folder, so no .venv of its own
    subprocess.run(["git", "bundle", "create", str(bundle), "--all"], cwd=plain, capture_output=True, check=True)
    assert interpreter.choose(bundle, environ={}).origin == "companion's own"

    given = interpreter.explicit(active)  # a virtual environment's folder names its python
    assert given.python == active / "bin" / "python" and given.venv == active
    assert interpreter.choose(plain, given, environ={"VIRTUAL_ENV": "/x"}).python == given.python
    with pytest.raises(InterpreterError, match="no Python interpreter there"):
        interpreter.explicit(tmp_path / "missing")
    with pytest.raises(InterpreterError, match="not a working Python 3"):
        interpreter.explicit(Path("/bin/true"))


def test_an_interpreter_beside_another_python_gets_a_shim_and_no_stale_virtual_env(tmp_path):
    odd = tmp_path / "bin"
    odd.mkdir()
    (odd / "py-under-test").symlink_to(os.path.realpath(sys.executable))
    (odd / "python").write_text("#!/bin/sh\necho 'the wrong python'\n")
    (odd / "python").chmod(0o755)
    chosen = interpreter.ensure_shim(interpreter.explicit(odd / "py-under-test"), tmp_path / "shims")
    assert chosen.shim is not None and chosen.venv is None
    env = chosen.apply({"PATH": os.environ["PATH"], "VIRTUAL_ENV": "/stale"})
    assert "VIRTUAL_ENV" not in env
    for word in ("python", "python3"):
        done = subprocess.run(["bash", "-c", f"{word} -c 'import sys; print(sys.version_info[0])'"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "3", done.stdout + done.stderr


def test_a_python_without_pytest_is_named_and_the_repository_keeps_its_other_moments(calc_repo, tmp_path, env):
    make_venv(tmp_path / "bare")  # no pip, no pytest
    chosen = interpreter.explicit(tmp_path / "bare")
    repo = Repo.clone(calc_repo, tmp_path / "work", env)
    chosen = interpreter.probe(chosen, repo.base, env)
    assert chosen.has_pytest is False and chosen.has_pytest_cov is False
    baseline = run_baseline(repo, COMMAND, chosen.apply(env), tmp_path / "work", 120, python=str(chosen.python))
    assert not baseline.usable
    assert baseline.note.startswith(f"pytest is not installed in {chosen.python}: install it there")
    assert "the other moments still run" in baseline.note
