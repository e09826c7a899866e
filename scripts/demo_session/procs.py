"""Child processes of the demo, the console, and the overall deadline.

Every wait in the demo is bounded: it waits for a line, a status bit or a process exit,
never for a fixed time, and never past the run's overall deadline. Every child started
here is stopped (SIGTERM, then SIGKILL) when the demo ends, however it ends.
"""
from __future__ import annotations

import contextlib
import io
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Optional

from spaaklib.process import Child


class DemoError(Exception):
    """The demo cannot go on: the message says why (shown to the user as is)."""


class Deadline:
    """The overall time budget of the run."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def left(self, cap: Optional[float] = None) -> float:
        """Seconds left (at most ``cap``); DemoError when the budget is spent."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise DemoError(f"the demo's overall time limit ({self.seconds:.0f} s, --timeout) is spent")
        return left if cap is None else min(left, cap)

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start


class Console:
    """Thread-safe, timestamped lines: ``  12.3 s  tag        text``."""

    def __init__(self, deadline: Deadline, stream=None, log_path: Optional[str] = None):
        self.deadline = deadline
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None

    def line(self, tag: str, text: str) -> None:
        """One line of the story."""
        out = f"{self.deadline.elapsed():7.1f} s  {tag:<13} {text}"
        self._write(out)

    def raw(self, text: str = "") -> None:
        """Text without a timestamp (tables, the diagram)."""
        self._write(text)

    def section(self, title: str) -> None:
        """A heading between the phases."""
        self._write(f"\n== {title}")

    def _write(self, text: str) -> None:
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()
            if self.log:
                self.log.write(text + "\n")
                self.log.flush()

    def close(self) -> None:
        """Closes the copy on disk."""
        if self.log:
            self.log.close()
            self.log = None


#: swift-log's StreamLogHandler prefix: ``2025-01-01T00:00:00+0000 info label : [meta] text``.
_SWIFT_LOG = re.compile(r"^\S+T\S+ (trace|debug|info|notice|warning|error|critical) (\S+) ?:(?: \[[^\]]*\])? (.*)$")


def swift_log_text(line: str) -> tuple:
    """(level, text) of a swift-log line; ("", line) for anything else."""
    m = _SWIFT_LOG.match(line)
    return (m.group(1), m.group(3)) if m else ("", line)


class Proc(Child):
    """A running child (spaaklib's ``Child``): its output lines are kept, copied to
    ``log_path`` and handed to ``on_line``; ``wait_for`` waits for a line, ``wait_ready`` for
    the READY=1 of a child started with ``ready_fd`` (spaak-ecu, spaak-cloud serve). Its
    failures are DemoErrors."""

    error = DemoError
    tail = 15

    def __init__(self, name: str, cmd: list, log_path: str, on_line: Optional[Callable[[str], None]] = None,
                 env: Optional[dict] = None, cwd: Optional[str] = None, header: bool = True, flush: bool = True,
                 ready_fd: bool = False):
        super().__init__(name, cmd, ready_fd=ready_fd, log_path=log_path, log_header=header, flush=flush,
                         on_line=on_line, env=env, cwd=cwd)


class Children:
    """Every child of the run, stopped in reverse order by ``stop_all`` (also on SIGTERM:
    the handler turns it into KeyboardInterrupt, like Ctrl-C)."""

    def __init__(self):
        self.procs: list = []
        signal.signal(signal.SIGTERM, self._on_signal)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_signal)

    @staticmethod
    def _on_signal(signo, _frame):
        raise KeyboardInterrupt(f"signal {signo}")

    def start(self, *args, **kwargs) -> Proc:
        """Starts a Proc and remembers it."""
        proc = Proc(*args, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 10.0) -> Optional[int]:
        """Stops one child (and forgets it)."""
        status = proc.stop(timeout)
        if proc in self.procs:
            self.procs.remove(proc)
        return status

    def stop_all(self) -> None:
        """Stops every child still running, newest first."""
        while self.procs:
            proc = self.procs.pop()
            try:
                proc.stop(timeout=5)
            except Exception as error:  # keep stopping the others
                print(f"demo: stopping {proc.name}: {error!r}", file=sys.stderr)


def run_tool(cmd: list, timeout: float, what: str) -> str:
    """Runs a short command to its end; its output, or DemoError with the output."""
    try:
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=max(timeout, 0.01),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DemoError(f"{what} did not finish within {timeout:.0f} s") from None
    except OSError as error:
        raise DemoError(f"{what}: cannot run {cmd[0]}: {error}") from None
    if done.returncode != 0:
        raise DemoError(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


class _LineWriter(io.TextIOBase):
    """A text stream that hands over every complete line."""

    def __init__(self, emit: Callable[[str], None]):
        self.emit, self.buffer = emit, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self.emit(line)
        return len(text)

    def flush(self) -> None:
        pass


def run_in_process(name: str, main: Callable[[list], int], argv: list, timeout: float,
                   emit: Callable[[str], None]) -> int:
    """Runs a Python tool's ``main(argv)`` in this process (its modules are imported
    already: in an emulated VM that saves the half minute a new interpreter needs), its
    stdout and stderr lines handed to ``emit``; its exit status. DemoError on timeout."""
    result: list = []
    writer = _LineWriter(emit)

    def target() -> None:
        with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
            try:
                result.append(main(argv))
            except SystemExit as done:
                result.append(done.code if isinstance(done.code, int) else 2)
            except Exception as error:  # a crash of the tool is its failure, not ours
                writer.write(f"{name}: internal error {error!r}\n")
                result.append(2)
        if writer.buffer:
            emit(writer.buffer)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(max(timeout, 0.01))
    if thread.is_alive():
        raise DemoError(f"{name} did not finish within {timeout:.0f} s")
    return result[0] if result else 2
