"""The layer contract of docs/architecture.md, checked by import-linter on the real import graph.

Lowest first: the core (events, store, config, redaction, evidence, rules, agent, gate), then the
sources and surfaces (watchers/, lsp_server/), then the application shell (daemon, services, cli,
tui), then training/. The contract lives in pyproject.toml's [tool.importlinter]; this test also
fails when a new module of `companion` is in no layer, so nothing escapes the contract by being new.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import companion

ROOT = Path(__file__).resolve().parent.parent


def _layer_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "layers")
    names: set[str] = set()
    for layer in contract["layers"]:
        names.update(part.strip() for part in layer.replace(":", "|").split("|"))
    return names


def test_every_companion_module_has_a_layer() -> None:
    placed = _layer_modules()
    children = {f"companion.{info.name}" for info in pkgutil.iter_modules(companion.__path__)}
    assert children - placed == set(), "place these modules in a layer of pyproject.toml's [tool.importlinter]"
    assert placed - children - {"training", "watchers", "lsp_server"} == set(), "the contract names modules that do not exist"


def test_imports_follow_the_layers() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")  # import-linter's command, beside this Python
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout  # the layers, and lsp_server's own (no circle)


def test_function_level_imports_are_counted() -> None:
    """The contract is only as strong as the graph: an import inside a function must be an edge.
    companion/gate/factory.py imports the reward gate only inside load_gate."""
    import grimp  # import-linter's graph builder

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    graph = grimp.build_graph(*config["root_packages"], cache_dir=None)
    details = graph.get_import_details(importer="companion.gate.factory", imported="companion.gate.reward")
    lines = (ROOT / "companion" / "gate" / "factory.py").read_text().splitlines()
    assert details, "grimp lost the function-level import of companion.gate.reward in companion/gate/factory.py"
    assert all(lines[d["line_number"] - 1].startswith((" ", "\t")) for d in details)  # each one inside a function
