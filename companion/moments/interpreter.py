"""The Python that runs a repository's tests: the project's own, not companion's.

In order: `--python PATH` (an interpreter, or a virtual environment's folder); a virtual
environment inside the repository folder (`.venv`, then `venv`: the moments copy the committed
tree into fresh folders, so the original folder's environment is used, never copied); the active
one ($VIRTUAL_ENV); else companion's own. Its folder goes first on PATH for the harness's test
runs and for the moments' shells and daemons (VIRTUAL_ENV set to its environment, or unset when
it is none), so `python -m pytest` there runs with the project's dependencies. A folder whose
`python`/`python3` is another interpreter (`/usr/bin/python3.12` beside a `python3` that is 3.11)
gets a folder of small `exec` scripts in front of it.

`probe` then asks that interpreter (loading nothing: `importlib.util.find_spec`) whether it has
pytest and pytest-cov, and where the project's own top-level packages resolve. A package that
resolves outside the copy (an editable install of the user's working tree, or a regular install
of a `src/` layout) would make the tests run the user's code instead of the mutant: the copy's
folder that holds it (`src`) then goes first on PYTHONPATH, relative, so each copy imports its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

VENV_NAMES = (".venv", "venv")
PROBE = """
import importlib.util, json, sys
def spec(name):
    try:
        return importlib.util.find_spec(name)
    except Exception:
        return None
origins = {}
for name in sys.argv[1:]:
    found = spec(name)
    if found is not None:
        origins[name] = found.origin if found.origin not in (None, "namespace") else \
            next(iter(found.submodule_search_locations or []), None)
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable,
                  "pytest": spec("pytest") is not None, "pytest_cov": spec("pytest_cov") is not None,
                  "origins": origins}))
"""
SKIP_TOP = {"tests", "test", "testing", "docs", "doc", "examples", "example", "scripts", "benchmarks", "build",
            "dist", "site-packages"}


class InterpreterError(ValueError):
    """A `--python` that is not a working Python interpreter."""


@dataclass
class Interpreter:
    python: Path  # as found, not resolved: a virtual environment's python is a symlink to its base
    origin: str  # how it was chosen, for the notes
    venv: Path | None = None
    shim: Path | None = None  # a folder of `python`/`python3` scripts that exec `python`, when needed
    pythonpath: list[str] = field(default_factory=list)  # copy-relative folders that must shadow an install
    version: str = ""
    has_pytest: bool | None = None  # None: not asked (the probe failed)
    has_pytest_cov: bool | None = None
    notes: list[str] = field(default_factory=list)

    def path_dirs(self) -> list[Path]:
        return ([self.shim] if self.shim else []) + [self.python.parent]

    def apply(self, env: dict[str, str], tests: bool = True) -> dict[str, str]:
        """`env` with this interpreter first on PATH and VIRTUAL_ENV set to its environment (or
        unset); `tests`: also the copy-relative PYTHONPATH that makes tests import the copy."""
        result = dict(env)
        result["PATH"] = os.pathsep.join([*map(str, self.path_dirs()), env.get("PATH", "")])
        if self.venv is not None:
            result["VIRTUAL_ENV"] = str(self.venv)
        else:
            result.pop("VIRTUAL_ENV", None)
        if tests and self.pythonpath:
            result["PYTHONPATH"] = os.pathsep.join([*self.pythonpath, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        return result

    def describe(self) -> str:
        version = f", Python {self.version}" if self.version else ""
        return f"{self.python} ({self.origin}{version})"

    def key(self) -> str:
        """What the cache key needs of it: which interpreter, and whether coverage contexts are possible."""
        return f"{self.python}|{self.version}|{self.has_pytest}|{self.has_pytest_cov}|{','.join(self.pythonpath)}"


def venv_of(python: Path) -> Path | None:
    """The virtual environment `python` (unresolved) belongs to: a `pyvenv.cfg` one folder up."""
    root = python.parent.parent
    return root if (root / "pyvenv.cfg").is_file() else None


def _venv_python(folder: Path) -> Path | None:
    for name in ("python", "python3"):
        candidate = folder / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _absolute(path: Path) -> Path:
    """Absolute without resolving symlinks (a venv's python must stay the venv's path)."""
    return Path(os.path.abspath(path.expanduser()))


def explicit(path: Path) -> Interpreter:
    """`--python PATH`: an interpreter, or a virtual environment's folder; checked to run."""
    path = _absolute(path)
    python = _venv_python(path) if path.is_dir() else path
    if python is None or not python.is_file():
        raise InterpreterError(f"--python {path}: no Python interpreter there"
                               + (" (a folder without bin/python)" if path.is_dir() else ""))
    if not os.access(python, os.X_OK):
        raise InterpreterError(f"--python {python}: not executable")
    try:
        done = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[0])"], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InterpreterError(f"--python {python}: does not run ({exc})") from None
    if done.returncode != 0 or done.stdout.strip() != "3":
        raise InterpreterError(f"--python {python}: not a working Python 3 ({(done.stderr or done.stdout).strip()[-300:]})")
    return Interpreter(python=python, origin="--python", venv=venv_of(python))


def choose(source: Path, given: Interpreter | None = None, environ: dict[str, str] | None = None) -> Interpreter:
    """The interpreter for the repository at `source` (a folder or a bundle)."""
    if given is not None:
        return Interpreter(python=given.python, origin=given.origin, venv=given.venv)
    environ = dict(os.environ) if environ is None else environ
    source = _absolute(source)
    if source.is_dir():
        for name in VENV_NAMES:
            folder = source / name
            python = _venv_python(folder) if (folder / "pyvenv.cfg").is_file() else None
            if python is not None:
                return Interpreter(python=python, origin=f"the repository's {name}", venv=folder)
    active = environ.get("VIRTUAL_ENV")
    if active:
        python = _venv_python(_absolute(Path(active)))
        if python is not None:
            return Interpreter(python=python, origin="$VIRTUAL_ENV", venv=_absolute(Path(active)))
    python = _absolute(Path(sys.executable))
    return Interpreter(python=python, origin="companion's own", venv=venv_of(python))


def _same_program(a: Path, b: Path) -> bool:
    try:
        return a.exists() and os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return False


def ensure_shim(interp: Interpreter, folder: Path) -> Interpreter:
    """A folder of `python` and `python3` scripts in front of the interpreter's own when that
    folder's `python` or `python3` is another program (or missing)."""
    names = ("python", "python3")
    if interp.venv is not None or all(_same_program(interp.python.parent / n, interp.python) for n in names):
        return interp  # a virtual environment's bin/ always has its own python and python3
    shim = folder / hashlib.sha1(str(interp.python).encode()).hexdigest()[:12]
    shim.mkdir(parents=True, exist_ok=True)
    quoted = "'" + str(interp.python).replace("'", "'\\''") + "'"
    for name in names:
        script = shim / name
        script.write_text(f'#!/bin/sh\nexec {quoted} "$@"\n')
        script.chmod(0o755)
    interp.shim = shim
    return interp


def top_level_packages(base: Path) -> dict[str, str]:
    """{import name: the copy-relative folder that holds it} for the project's own packages: folders
    with an `__init__.py` at the root or in `src/`, and modules in `src/`."""
    found: dict[str, str] = {}
    for folder, relative in ((base / "src", "src"), (base, ".")):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            name = entry.name
            if name.startswith(".") or name in SKIP_TOP or name in found:
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file() and name.isidentifier():
                found[name] = relative
            elif relative == "src" and entry.suffix == ".py" and entry.stem.isidentifier():
                found[entry.stem] = relative
    return found


def probe(interp: Interpreter, base: Path, env: dict[str, str]) -> Interpreter:
    """Fill in the version, pytest and pytest-cov, and the PYTHONPATH the copies of `base` need.
    The probe runs in an empty folder beside `base`: whatever it finds of the project's packages is
    installed somewhere else (`pytest`, unlike `python -m pytest`, does not put the folder first)."""
    packages = top_level_packages(base)
    run_env = {k: v for k, v in interp.apply(env, tests=False).items() if k != "PYTHONPATH"}
    neutral = base.parent / "probe"
    neutral.mkdir(exist_ok=True)
    try:
        done = subprocess.run([str(interp.python), "-c", PROBE, *packages], cwd=neutral, env=run_env,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        interp.notes.append(f"could not ask {interp.python} about its packages")
        return interp
    interp.version = str(answer.get("version", ""))
    interp.has_pytest, interp.has_pytest_cov = bool(answer.get("pytest")), bool(answer.get("pytest_cov"))
    root = base.resolve()
    shadow: list[str] = []
    for name, origin in (answer.get("origins") or {}).items():
        folder = packages.get(name)
        if folder is None or not origin:
            continue
        where = Path(origin).resolve()
        if where != root and root not in where.parents and folder not in shadow:
            shadow.append(folder)
            interp.notes.append(f"`{name}` resolves to {Path(origin).parent} in {interp.python} (an installed copy of "
                                f"the project): the moments put the copy's {folder}/ first on PYTHONPATH")
    for name, folder in packages.items():  # a src/ layout that this python cannot import at all
        if folder != "." and name not in (answer.get("origins") or {}) and folder not in shadow:
            shadow.append(folder)
    interp.pythonpath = shadow
    return interp
