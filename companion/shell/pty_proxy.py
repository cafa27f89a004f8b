"""`companion shell`: the user's shell under a pseudo-terminal proxy that keeps failed commands' output.

Why a proxy: a shell hook sees a command's exit status but never its output, and re-running a
command to see what it printed is out of the question. Between the terminal and the shell, every
byte goes through unchanged, in both directions (raw mode, so Ctrl-C, Ctrl-Z, vim, less and fzf
behave exactly as without it: the shell's own pty does the line discipline and the signals), and
`MarkTracker` watches the hooks' OSC 133 marks to keep each command's output tail. Resizes are
forwarded (a storm of SIGWINCH coalesces into one), the shell's exit status becomes the proxy's, and
the terminal's settings are restored on every way out.

Input to the shell is written without blocking (a paste into a shell that is busy printing would
otherwise deadlock both sides); output goes to the terminal through `TerminalWriter`, so that the
proxy goes on reading the shell while the terminal catches up (with a bounded queue: past it, the
shell waits, as it would on a slow terminal).
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import signal
import termios
import tty
from pathlib import Path

from companion.shell.marks import MarkTracker
from companion.shell.terminal_writer import TerminalWriter

READ_BYTES = 65536
BURST_BYTES = 1024 * 1024  # at most this much is gathered into one write to the terminal
PTY_ENV = "COMPANION_PTY"  # set in the shell's environment: the proxy's pid
TTY_ENV = "COMPANION_PTY_TTY"  # the terminal the proxy made for the shell (/dev/pts/N)


class ProxyError(RuntimeError):
    """The proxy cannot start (no terminal, nested, the shell cannot be run); the message says why."""


def nested(environ: dict[str, str] | os._Environ[str], fd: int = 0) -> str | None:
    """The pid of the companion shell whose terminal `fd` is, if any. Only the same terminal counts:
    a tmux pane or a new window started from inside one inherits the variables but not the terminal."""
    owner, terminal = environ.get(PTY_ENV), environ.get(TTY_ENV)
    if not owner or not terminal:
        return None
    try:
        return owner if os.path.samestat(os.fstat(fd), os.stat(terminal)) else None
    except OSError:
        return None


def _winsize(fd: int) -> bytes | None:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class PtyProxy:
    def __init__(self, argv: list[str], environ: dict[str, str], spool: Path, mode: str = "failed",
                 stdin: int = 0, stdout: int = 1) -> None:
        self.argv = argv
        self.environ = environ
        self.stdin = stdin
        self.stdout = stdout
        self.tracker = MarkTracker(spool, mode)
        self.pid = 0
        self.master = -1
        self.resizes = 0

    def run(self) -> int:
        """Run the shell to its end; returns its exit status (128+N when a signal N ended it)."""
        if not os.isatty(self.stdin):
            raise ProxyError("companion shell needs a terminal on its standard input")
        saved = termios.tcgetattr(self.stdin)
        size = _winsize(self.stdin)
        read_error, write_error = os.pipe()  # the child reports a failed exec here
        os.set_inheritable(write_error, False)
        fcntl.fcntl(write_error, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        self.pid, self.master = pty.fork()
        if self.pid == 0:  # the child: the shell, on the new pty, with the user's terminal settings
            os.close(read_error)
            try:
                self.environ[TTY_ENV] = os.ttyname(0)
                termios.tcsetattr(0, termios.TCSANOW, saved)
                if size:
                    fcntl.ioctl(0, termios.TIOCSWINSZ, size)
                os.execvpe(self.argv[0], self.argv, self.environ)
            except OSError as exc:
                os.write(write_error, f"{self.argv[0]}: {exc.strerror}".encode())
            os._exit(127)
        os.close(write_error)
        failure = os.read(read_error, 4096)
        os.close(read_error)
        if failure:
            os.waitpid(self.pid, 0)
            os.close(self.master)
            raise ProxyError(f"cannot run the shell: {failure.decode(errors='replace')}")
        return self._serve(saved)

    def _serve(self, saved: list) -> int:
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        handlers = {sig: signal.signal(sig, self._forward if sig in (signal.SIGHUP, signal.SIGTERM) else _noop)
                    for sig in (signal.SIGWINCH, signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM)}
        os.set_blocking(self.master, False)
        self.writer = TerminalWriter(self.stdout, lambda: _wake(wake_write))
        try:
            tty.setraw(self.stdin, termios.TCSANOW)
            self._resize()
            return self._loop(wake_read)
        finally:
            self.writer.close()
            try:
                termios.tcsetattr(self.stdin, termios.TCSADRAIN, saved)
            except (OSError, termios.error):  # no terminal left to restore
                pass
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            for fd in (wake_read, wake_write, self.master):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _forward(self, signum: int, _frame: object) -> None:
        try:
            os.kill(self.pid, signum)
        except OSError:
            pass

    def _resize(self) -> None:
        size = _winsize(self.stdin)
        if size is not None:
            try:
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)  # the kernel signals the shell's foreground job
            except OSError:
                pass

    def _loop(self, wake: int) -> int:
        self.to_child = bytearray()
        self.reading_input = True
        status: int | None = None
        while True:
            readers = ([] if self.writer.full else [self.master]) + [wake] + ([self.stdin] if self.reading_input else [])
            writers = [self.master] if self.to_child else []
            try:
                readable, _writable, _ = select.select(readers, writers, [])
            except InterruptedError:
                continue
            if wake in readable:
                try:
                    signals = os.read(wake, 4096)
                except BlockingIOError:
                    signals = b""
                if bytes([signal.SIGWINCH]) in signals:
                    self.resizes += 1
                    self._resize()  # however many came, the size is read once
                if status is None:
                    status = self._reap()
            if self.master in readable and not self._pump_output():
                break
            if self.stdin in readable:
                self._take_input()
            if self.to_child and self._feed_child():
                # a key is usually echoed at once: show it now rather than after another select
                if not self._pump_output():
                    break
            if status is not None and self.master not in readable and not self.writer.full:
                break  # the shell has ended and nothing more is waiting to be shown
        if status is None:
            _pid, raw = os.waitpid(self.pid, 0)
            status = _exit_code(raw)
        return status

    def _pump_output(self) -> bool:
        """Pass on what the shell printed (if anything is there); False once its terminal is closed."""
        try:
            data = os.read(self.master, READ_BYTES)
        except BlockingIOError:
            return True
        except OSError as exc:  # EIO: every process has closed the shell's terminal
            if exc.errno != errno.EIO:
                raise
            return False
        if not data:
            return False
        if len(data) >= 1024:  # a burst: take what else is ready now, and show it in one write
            parts = [data]
            size = len(data)
            while size < BURST_BYTES:
                try:
                    more = os.read(self.master, READ_BYTES)
                except OSError:  # nothing more now (or the end, which the next read reports)
                    break
                if not more:
                    break
                parts.append(more)
                size += len(more)
            data = b"".join(parts)
        self.tracker.feed(data)
        if self.reading_input:
            try:
                self.writer.write(data)
            except OSError:  # the terminal went away: the shell gets its hangup
                self._hang_up()
        return True

    def _take_input(self) -> None:
        try:
            data = os.read(self.stdin, READ_BYTES)
        except OSError:
            data = b""
        if data:
            self.to_child += data
        else:  # the terminal went away
            self._hang_up()

    def _feed_child(self) -> bool:
        """Write what was typed to the shell without blocking; True when something was written."""
        try:
            written = os.write(self.master, self.to_child)
        except BlockingIOError:
            return False
        except OSError:
            self.to_child.clear()
            return False
        del self.to_child[:written]
        return written > 0

    def _hang_up(self) -> None:
        self.reading_input = False
        self._forward(signal.SIGHUP, None)

    def _reap(self) -> int | None:
        try:
            pid, raw = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return 1
        return _exit_code(raw) if pid else None


def _wake(fd: int) -> None:
    try:
        os.write(fd, b"\0")
    except OSError:
        pass


def _noop(_signum: int, _frame: object) -> None:
    """A handler that only wakes the loop (through the wakeup fd)."""


def default_shell(environ: dict[str, str] | os._Environ[str]) -> str:
    shell = environ.get("SHELL")
    if shell:
        return shell
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
    except (KeyError, ImportError):
        return "/bin/sh"


def shell_argv(args: list[str], environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """`companion shell -- zsh -l` runs `zsh -l`; `companion shell -- -l` gives `-l` to the user's shell."""
    if args and not args[0].startswith("-"):
        return list(args)
    return [default_shell(environ), *args]


