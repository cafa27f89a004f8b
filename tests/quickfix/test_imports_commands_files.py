"""Missing modules, command not found, missing paths, permissions, ports — on real python, node and
bash output in tmp folders."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.events import Event
from companion.quickfix.projects import distribution_for
from tests.quickfix.conftest import PYTHON, by_rule, candidates, command_event, sh


def test_a_requirements_file_near_the_script_that_lists_the_module_is_offered(ws: Path) -> None:
    (ws / "benchmark").mkdir()
    (ws / "benchmark" / "run.py").write_text("import pytomlpp\n")
    (ws / "benchmark" / "requirements.txt").write_text("tomli\npytomlpp>=1.0  # the C++ parser\n")
    found = candidates(ws, command_event(ws, f"{PYTHON} benchmark/run.py"))
    best = found[0]
    assert best.rule == "imports.python_missing" and best.operation == "run_command"
    assert best.response == f"{PYTHON} -m pip install -r benchmark/requirements.txt"
    assert (best.path, best.line) == ("benchmark/requirements.txt", 2)
    assert "No module named 'pytomlpp'" in best.evidence["output_lines"][0]
    assert any(c.response == f"{PYTHON} -m pip install pytomlpp" for c in found[1:])


@pytest.mark.parametrize("module, dist", [("cv2", "opencv-python"), ("yaml", "PyYAML"), ("sklearn", "scikit-learn"),
                                          ("PIL", "Pillow"), ("bs4", "beautifulsoup4")])
def test_the_import_name_maps_to_its_distribution(module: str, dist: str, ws: Path) -> None:
    assert distribution_for(module, ws) == dist


def test_the_project_tool_installs_and_declared_dependencies_win(ws: Path) -> None:
    (ws / "uv.lock").write_text("version = 1\n")
    (ws / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = ["opencv-python-headless>=4"]\n')
    table = distribution_for("cv2", ws)
    assert table == "opencv-python"  # the table's answer unless the project declares that name
    (ws / "app.py").write_text("import cv2\n")
    best = by_rule(candidates(ws, command_event(ws, "python3 app.py")), "imports.python_missing")[0]
    assert best.response == "uv add opencv-python"
    (ws / "uv.lock").unlink()
    (ws / "poetry.lock").write_text("")
    best = by_rule(candidates(ws, command_event(ws, "python3 app.py")), "imports.python_missing")[0]
    assert best.response == "poetry add opencv-python"


def test_the_projects_own_module_is_said_to_be_its_own(ws: Path) -> None:
    (ws / "pyproject.toml").write_text('[project]\nname = "mypkg"\nversion = "0"\n')
    (ws / "src" / "mypkg").mkdir(parents=True)
    (ws / "src" / "mypkg" / "__init__.py").write_text("X = 1\n")
    (ws / "scripts").mkdir()
    (ws / "scripts" / "use.py").write_text("import mypkg\n")
    best = by_rule(candidates(ws, command_event(ws, f"{PYTHON} scripts/use.py")), "imports.python_missing")[0]
    assert best.operation == "run_command" and best.response == f"{PYTHON} -m pip install -e ."
    assert "own module (`src/mypkg`)" in best.evidence["explanation"]
    assert not any("install mypkg" in c.response for c in candidates(ws, command_event(ws, f"{PYTHON} scripts/use.py")))


def test_cannot_import_name_from_the_projects_own_module_opens_it(ws: Path) -> None:
    (ws / "mypkg").mkdir()
    (ws / "mypkg" / "__init__.py").write_text("def parse(text):\n    return text\n")
    (ws / "app.py").write_text("from mypkg import parse_all\n")
    event = command_event(ws, f"{PYTHON} app.py")
    assert "ImportError: cannot import name 'parse_all' from 'mypkg'" in event.data["evidence"]["output"]["tail"]
    (best,) = by_rule(candidates(ws, event), "imports.cannot_import_name")
    assert best.operation == "open" and (best.path, best.line) == ("mypkg/__init__.py", 1)
    assert "does not define `parse_all`" in best.task
    assert best.evidence["module"] == "mypkg" and best.evidence["name"] == "parse_all"
    assert best.evidence["output_lines"][0].startswith("ImportError: cannot import name 'parse_all' from 'mypkg' (")


def test_cannot_import_name_in_a_circular_import_says_so(ws: Path) -> None:
    (ws / "shop").mkdir()
    (ws / "shop" / "__init__.py").write_text("")
    (ws / "shop" / "orders.py").write_text("from shop.prices import total\n\n\ndef order():\n    return total()\n")
    (ws / "shop" / "prices.py").write_text("from shop.orders import order\n\n\ndef total():\n    return 1\n")
    event = command_event(ws, f"{PYTHON} -c 'import shop.orders'")
    assert "partially initialized module 'shop.orders'" in event.data["evidence"]["output"]["tail"]
    (best,) = by_rule(candidates(ws, event), "imports.cannot_import_name")
    assert best.operation == "open" and best.path == "shop/orders.py" and best.evidence["circular"]
    assert "circular import" in best.task and "`order`" in best.task


def test_cannot_import_name_from_an_installed_package_names_its_distribution(ws: Path) -> None:
    # `_pytest` is installed by the distribution `pytest` (the import name differs)
    event = command_event(ws, f"{PYTHON} -c 'from _pytest import no_such_name'")
    assert "cannot import name 'no_such_name' from '_pytest'" in event.data["evidence"]["output"]["tail"]
    (best,) = by_rule(candidates(ws, event), "imports.cannot_import_name")
    assert best.operation == "explain" and best.path is None
    assert best.task == "The installed pytest has no `no_such_name`: check its version"
    assert "pip install -U pytest" in best.response
    stdlib = command_event(ws, f"{PYTHON} -c 'from json import no_such_name'")
    (told,) = by_rule(candidates(ws, stdlib), "imports.cannot_import_name")
    assert told.task == "Python's json has no `no_such_name`: check the Python version"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_node_cannot_find_module_installs_with_the_lockfiles_tool(ws: Path) -> None:
    (ws / "index.js").write_text("require('left-pad-not-installed')\n")
    (ws / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
    best = by_rule(candidates(ws, command_event(ws, "node index.js")), "imports.node_missing")[0]
    assert best.response == "pnpm add left-pad-not-installed"
    (ws / "pnpm-lock.yaml").unlink()
    (ws / "yarn.lock").write_text("")
    assert by_rule(candidates(ws, command_event(ws, "node index.js")), "imports.node_missing")[0].response == \
        "yarn add left-pad-not-installed"


def test_a_mistyped_command_becomes_the_closest_one_from_history_or_path(ws: Path) -> None:
    event = command_event(ws, "gti status")
    assert event.data["exit_code"] == 127
    best = by_rule(candidates(ws, event), "commands.not_found")[0]
    assert best.response == "git status" and "command not found" in best.evidence["output_lines"][0]
    history = [Event(source="shell", kind="shell.command", data={"command": "mytool --fast", "exit_code": 0})]
    assert by_rule(candidates(ws, command_event(ws, "mytol --fast"), recent=history),
                   "commands.not_found")[0].response == "mytool --fast"


def test_no_such_file_offers_the_closest_existing_path(ws: Path) -> None:
    (ws / "data").mkdir()
    (ws / "data" / "input.txt").write_text("x\n")
    best = by_rule(candidates(ws, command_event(ws, "cat data/inptu.txt")), "files.no_such_file")[0]
    assert best.response == "cat data/input.txt" and best.path == "data/input.txt"
    (ws / "tools").mkdir()
    (ws / "tools" / "build.py").write_text("print(1)\n")
    best = by_rule(candidates(ws, command_event(ws, f"{PYTHON} tool/build.py")), "files.no_such_file")[0]
    assert best.response == f"{PYTHON} tools/build.py"


def test_permission_denied_on_a_script_offers_chmod(ws: Path) -> None:
    (ws / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(ws / "run.sh", 0o644)
    best = by_rule(candidates(ws, command_event(ws, "./run.sh")), "files.permission_denied")[0]
    assert best.response == "chmod +x ./run.sh && ./run.sh" and best.path == "run.sh"


def test_address_in_use_names_the_pid_and_never_kills(ws: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=ws,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        found = candidates(ws, command_event(ws, f"{PYTHON} -m http.server {port} --bind 127.0.0.1"))
        rules = by_rule(found, "ports.in_use")
        explained = [c for c in rules if c.operation == "explain"][0]
        assert explained.evidence["pid"] == server.pid and f"pid {server.pid}" in explained.response
        moved = [c for c in rules if c.operation == "run_command"][0]
        assert str(port) not in moved.response and "kill" not in moved.response
        assert server.poll() is None  # still running: the rule only names it
    finally:
        server.terminate()
        server.wait(10)
