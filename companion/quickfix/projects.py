"""What a project uses to install things, what it declares, and which distribution ships an import.

- The tool: uv, poetry or pipenv when their lockfile (or config) is there, else pip through the
  same Python the user ran (`python3 -m pip` installs into whatever `python3` is: the active
  virtual environment when there is one); npm, pnpm, yarn or bun by the lockfile.
- Import name → distribution: the project's declared dependencies first, then the table pipreqs
  maintains (vendored in data/import_names.txt), then the distributions installed next to
  companion (`importlib.metadata.packages_distributions()`), else the import name itself.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import sys
from pathlib import Path
from typing import Iterable, Iterator

DATA = Path(__file__).with_name("data") / "import_names.txt"
# well-known imports the pipreqs table lacks
EXTRA_NAMES = {"cv2": "opencv-python", "skimage": "scikit-image", "sklearn": "scikit-learn", "PIL": "Pillow",
               "yaml": "PyYAML", "bs4": "beautifulsoup4", "dotenv": "python-dotenv", "jwt": "PyJWT",
               "magic": "python-magic", "docx": "python-docx", "pptx": "python-pptx", "Crypto": "pycryptodome",
               "serial": "pyserial", "usb": "pyusb", "git": "GitPython", "dateutil": "python-dateutil",
               "attr": "attrs", "OpenSSL": "pyOpenSSL", "fitz": "PyMuPDF"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", ".mypy_cache", "dist", "build",
             ".pytest_cache", ".ruff_cache", "site-packages"}


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def import_table() -> dict[str, str]:
    table: dict[str, str] = {}
    try:
        for line in DATA.read_text(encoding="utf-8").splitlines():
            if ":" in line and not line.startswith("#"):
                module, _, dist = line.partition(":")
                table[module.strip()] = dist.strip()
    except OSError:
        pass
    table.update({k: v for k, v in EXTRA_NAMES.items()})
    return table


@functools.cache
def _installed_distributions() -> dict[str, list[str]]:
    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:  # a broken installed distribution must not stop a rule
        return {}


def find_up(start: Path, names: Iterable[str], root: Path) -> Path | None:
    """The nearest file with one of `names`, from `start` up to `root` (inclusive)."""
    names = tuple(names)
    folder = start.resolve()
    root = root.resolve()
    while True:
        for name in names:
            if (folder / name).is_file():
                return folder / name
        if folder == root or root not in folder.parents:
            return None
        folder = folder.parent


def requirement_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, normalised distribution name) of each requirement in a requirements file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        if line.strip().startswith("-"):
            continue
        match = _REQUIREMENT.match(line)
        if match:
            yield number, normalise(match.group(1))


def declared_dependencies(root: Path) -> set[str]:
    """Normalised names the project declares (pyproject, requirements*.txt at the root, Pipfile)."""
    names: set[str] = set()
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib

            data = tomllib.loads(pyproject.read_text(encoding="utf-8", errors="replace"))
        except (ValueError, OSError):
            data = {}
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        groups = [project.get("dependencies") or []]
        groups += list((project.get("optional-dependencies") or {}).values())
        for group in groups:
            for item in group if isinstance(group, list) else []:
                match = _REQUIREMENT.match(str(item))
                if match:
                    names.add(normalise(match.group(1)))
        poetry = ((data.get("tool") or {}).get("poetry") or {}) if isinstance(data.get("tool"), dict) else {}
        for key in ("dependencies", "dev-dependencies"):
            names.update(normalise(n) for n in (poetry.get(key) or {}) if n != "python")
    try:
        for path in root.glob("requirements*.txt"):
            names.update(name for _, name in requirement_lines(path))
    except OSError:
        pass
    return names


def distribution_for(module: str, root: Path) -> str:
    """The distribution to install for a top-level import name."""
    declared = declared_dependencies(root)
    table = import_table()
    mapped = table.get(module)
    for name in (module, mapped or "", module.replace("_", "-")):
        if name and normalise(name) in declared:
            return name
    if mapped:
        return mapped
    installed = _installed_distributions().get(module)
    if installed:
        return installed[0]
    return module


def python_word(argv: list[str]) -> str:
    """The Python the user ran (`python3`, `.venv/bin/python`, `py`), else `python`."""
    for word in argv[:3]:
        name = os.path.basename(word)
        if re.fullmatch(r"(python|pypy)[0-9.]*|py", name):
            return word
    return "python" if sys.platform != "win32" else "py"


def python_installer(cwd: Path, root: Path, argv: list[str]) -> tuple[str, str]:
    """(command to add one distribution, command to install a requirements file) with '{}' for the name."""
    if find_up(cwd, ("uv.lock",), root):
        return "uv add {}", "uv pip install -r {}"
    pyproject = find_up(cwd, ("pyproject.toml",), root)
    if find_up(cwd, ("poetry.lock",), root) or (pyproject and "[tool.poetry" in _head(pyproject)):
        return "poetry add {}", "poetry run pip install -r {}"
    if find_up(cwd, ("Pipfile", "Pipfile.lock"), root):
        return "pipenv install {}", "pipenv install -r {}"
    python = python_word(argv)
    return f"{python} -m pip install {{}}", f"{python} -m pip install -r {{}}"


def node_installer(cwd: Path, root: Path) -> str:
    for lockfile, command in (("pnpm-lock.yaml", "pnpm add {}"), ("yarn.lock", "yarn add {}"),
                              ("bun.lockb", "bun add {}"), ("bun.lock", "bun add {}"),
                              ("package-lock.json", "npm install {}")):
        if find_up(cwd, (lockfile,), root):
            return command
    return "npm install {}"


def _head(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:100_000]
    except OSError:
        return ""


def own_module(module: str, root: Path, near: Path, limit: int = 4000) -> Path | None:
    """A folder or `.py` file named `module` in the project itself (near the script first), if any."""
    for folder in (near, root, root / "src"):
        for target in (folder / module, folder / f"{module}.py"):
            if target.exists():
                return target
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        seen += len(files) + len(dirs)
        if module in dirs:
            return Path(folder) / module
        if f"{module}.py" in files:
            return Path(folder) / f"{module}.py"
        if seen > limit:
            return None
    return None
