"""A missing module: Python's ModuleNotFoundError / ImportError, node's "Cannot find module".

In order: the module is the project's own (then say so: install the project in editable mode, or
run from the right folder); a requirements file near the script lists it (install that file);
else install its distribution (yaml → PyYAML) with the project's own tool.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from companion.quickfix.base import Candidate, Moment, rule
from companion.quickfix.projects import (distribution_for, find_up, node_installer, normalise, own_module,
                                         python_installer, python_word, requirement_lines)

PY_MISSING = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '?(?P<name>[\w.]+)'?")
PY_CANNOT_IMPORT = re.compile(r"ImportError: cannot import name '(?P<name>\w+)' from (?:partially initialized module )?"
                              r"'(?P<module>[\w.]+)'(?P<circular> \(most likely due to a circular import\))?"
                              r"(?: \((?P<path>[^)]+)\))?")
NODE_MISSING = re.compile(r"(?:Cannot find module|Cannot find package) '(?P<name>[^']+)'")


def _script(moment: Moment) -> Path | None:
    """The script or module folder the command ran (`python bench/run.py`, `python -m bench.run`)."""
    argv = moment.argv
    for index, word in enumerate(argv[1:], start=1):
        if word == "-m" and index + 1 < len(argv):
            parts = argv[index + 1].split(".")
            return moment.cwd.joinpath(*parts[:-1]) if len(parts) > 1 else moment.cwd
        if word.endswith((".py", ".js", ".mjs", ".cjs", ".ts")):
            target = moment.cwd / word
            return target.parent
    return None


def _requirements_listing(moment: Moment, start: Path, dist: str, module: str) -> tuple[Path, int] | None:
    wanted = {normalise(dist), normalise(module)}
    folder = start.resolve()
    root = moment.workspace.resolve()
    while folder == root or root in folder.parents:
        try:
            files = sorted(folder.glob("requirements*.txt"))
        except OSError:
            files = []
        for path in files:
            for number, name in requirement_lines(path):
                if name in wanted:
                    return path, number
        if folder == root:
            break
        folder = folder.parent
    return None


def _shown(path: Path, moment: Moment) -> str:
    try:
        return str(path.resolve().relative_to(moment.cwd.resolve()))
    except ValueError:
        return str(path)


def _own(moment: Moment, name: str, found: Path, line: str) -> Candidate:
    root = moment.workspace.resolve()
    where = found.resolve().relative_to(root).as_posix() if root in found.resolve().parents else str(found)
    setup = find_up(found.parent, ("pyproject.toml", "setup.py", "setup.cfg"), root)
    problem = ""
    if found.is_dir() and not (found / "__init__.py").exists():
        problem = f" `{where}` has no `__init__.py`."
    folder = _shown(setup.parent, moment) if setup else ""
    editable = python_installer(moment.cwd, root, moment.argv)[1].replace("-r {}", f"-e {folder or '.'}") if setup else ""
    text = (f"`{name}` is this project's own module (`{where}`), not a package to install.{problem} "
            f"Python did not find it from `{_shown(moment.cwd, moment) if moment.cwd != root else '.'}`: "
            + (f"install the project in editable mode (`{editable}`) or run it with `python -m` from the folder "
               f"that holds `{name}`." if setup else f"run it from the folder that holds `{name}` or add that "
               "folder to PYTHONPATH."))
    relative = moment.relative(found / "__init__.py") if found.is_dir() else moment.relative(found)
    evidence = {"output_lines": [line], "module": name, "own_module": where}
    if editable:
        return Candidate("", f"Install this project in editable mode so `{name}` can be imported", "run_command",
                         response=editable, path=relative, evidence={**evidence, "explanation": text}, confidence=0.7)
    return Candidate("", f"`{name}` is the project's own module at {where}; run from its folder", "explain",
                     response=text, path=relative, evidence=evidence, confidence=0.65)


PROBE = ("import importlib.util, sys\n"
         "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))")
MAX_SCRIPT_BYTES = 500_000


def _script_file(moment: Moment) -> Path | None:
    for word in moment.argv[1:4]:
        if word.endswith(".py"):
            target = moment.cwd / word
            return target if target.is_file() else None
    return None


def unimportable(moment: Moment) -> tuple[str, str] | None:
    """(module, the line that imports it) for the first top-level import of the script the user ran
    that their Python cannot find — for a failed `python script.py` whose output was not captured.
    The probe asks that Python's import system (`importlib.util.find_spec`, which loads nothing);
    the user's command is never run again."""
    script = _script_file(moment)
    python = shutil.which(python_word(moment.argv))
    if script is None or python is None or moment.exit_code in (None, 0):
        return None
    try:
        if script.stat().st_size > MAX_SCRIPT_BYTES:
            return None
        source = script.read_bytes()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    text = source.decode("utf-8", errors="replace")
    imported: dict[str, str] = {}
    for node in tree.body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in imported:
                imported[top] = ast.get_source_segment(text, node) or f"import {name}"
    if not imported:
        return None
    try:
        done = subprocess.run([python, "-c", PROBE, *imported], cwd=script.parent, capture_output=True, text=True,
                              timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    missing = done.stdout.split() if done.returncode == 0 else []
    return (missing[0], imported[missing[0]]) if missing and missing[0] in imported else None


@rule("imports.python_missing")
def python_missing(moment: Moment) -> Iterator[Candidate]:
    """ModuleNotFoundError: No module named 'x' (or, with no output captured, an import of the script
    that the user's Python cannot find)."""
    match = None
    for match in PY_MISSING.finditer(moment.texts):
        pass
    if match is not None:
        full, line = match.group("name"), match.group(0)
    elif not moment.output.strip():
        found = unimportable(moment)
        if found is None:
            return
        full, line = found[0], f"{found[1].strip()[:200]} — {found[0]} cannot be found by {python_word(moment.argv)}"
    else:
        return
    module = full.split(".")[0]
    root = moment.workspace.resolve()
    near = _script(moment) or moment.cwd
    found = own_module(module, root, near)
    if found is not None:
        yield _own(moment, full if found.is_dir() and "." in full else module, found, line)
        return
    dist = distribution_for(module, root)
    add, from_file = python_installer(moment.cwd, root, moment.argv)
    listed = _requirements_listing(moment, near, dist, module)
    evidence = {"output_lines": [line], "module": module, "distribution": dist}
    if listed is not None:
        path, number = listed
        relative = moment.relative(path)
        yield Candidate("", f"Install {_shown(path, moment)}, which lists {dist} (needed for `import {module}`)",
                        "run_command", response=from_file.format(_shown(path, moment)), path=relative, line=number,
                        evidence={**evidence, "requirements": relative}, confidence=0.85)
    named = f"{dist} (import {module})" if normalise(dist) != normalise(module) else dist
    yield Candidate("", f"Install the missing package {named}", "run_command", response=add.format(dist),
                    evidence=evidence, confidence=0.75 if listed is None else 0.6)


@rule("imports.cannot_import_name")
def cannot_import_name(moment: Moment) -> Iterator[Candidate]:
    """ImportError: cannot import name 'X' from 'pkg': open pkg when it is the project's own (a
    circular import said as such); else the installed version (or Python's) lacks the name."""
    match = PY_CANNOT_IMPORT.search(moment.texts)
    if match is None:
        return
    name, module = match.group("name"), match.group("module")
    relative = moment.relative(match.group("path") or "") if match.group("path") else None
    evidence = {"output_lines": [match.group(0)[:300]], "module": module, "name": name}
    if relative is not None and match.group("circular"):
        yield Candidate("", f"Open {relative}: a circular import stops `{name}` from being imported", "open",
                        response=f"`{module}` was still being imported when `{name}` was imported from it: the two "
                                 f"modules import each other. Move one import into the function that uses it, or "
                                 f"move `{name}` to a module both can import.", path=relative, line=1,
                        evidence={**evidence, "circular": True}, confidence=0.65)
        return
    if relative is not None:
        yield Candidate("", f"Open {relative}: it does not define `{name}`", "open",
                        response=f"`{name}` is imported from `{module}` but {relative} does not define it "
                                 "(renamed, removed, or a circular import).", path=relative, line=1,
                        evidence=evidence, confidence=0.6)
        return
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        yield Candidate("", f"Python's {module} has no `{name}`: check the Python version", "explain",
                        response=f"`{module}` is part of the standard library and this Python's has no `{name}`: it "
                                 "may be newer or older than this Python, or a local file shadows the module.",
                        evidence=evidence, confidence=0.4)
        return
    dist = distribution_for(top, moment.workspace)
    yield Candidate("", f"The installed {dist} has no `{name}`: check its version", "explain",
                    response=f"`{module}` is installed but does not provide `{name}`. The project may need another "
                             f"version of {dist} (see its changelog, then `pip install -U {dist}` or the pinned one).",
                    evidence=evidence, confidence=0.45)


@rule("imports.node_missing")
def node_missing(moment: Moment) -> Iterator[Candidate]:
    """node: Error: Cannot find module 'x' / Cannot find package 'x'."""
    match = NODE_MISSING.search(moment.texts)
    if match is None:
        return
    name = match.group("name")
    line = match.group(0)
    if name.startswith((".", "/")):
        return  # a file, not a package: the files rule looks for the closest path
    parts = name.split("/")
    package = "/".join(parts[:2]) if name.startswith("@") else parts[0]
    if package.startswith("node:"):
        return
    add = node_installer(moment.cwd, moment.workspace)
    yield Candidate("", f"Install the missing node package {package}", "run_command", response=add.format(package),
                    evidence={"output_lines": [line], "module": package}, confidence=0.75)
