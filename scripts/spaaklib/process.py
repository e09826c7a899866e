"""The project's executables as child processes: where the built binaries are, and a child
whose output lines are collected (and copied to a log) and which, started with
``ready_fd=True``, gets a pipe's write end as ``--ready-fd N`` (``spaak-ecu run``,
``spaak-cloud serve``) so that ``wait_ready`` waits for its ``READY=1`` instead of a log line.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
#: What the child writes on its ready descriptor (systemd notify syntax).
READY = b"READY=1\n"


def find_binary(name: str, builds: Sequence[str] = ("release", "debug")) -> Optional[str]:
    """An executable: $SPAAK_BIN_DIR/<name>, else .build/<build>/<name> for each of ``builds``;
    None when none is there."""
    for candidate in binary_candidates(name, builds):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def binary_candidates(name: str, builds: Sequence[str] = ("release", "debug")) -> list:
    """Where ``find_binary`` looks, in order."""
    candidates = [Path(os.environ["SPAAK_BIN_DIR"]) / name] if os.environ.get("SPAAK_BIN_DIR") else []
    return candidates + [ROOT / ".build" / build / name for build in builds]


class ChildError(Exception):
    """A child ended, or did not get ready, or did not print a line in time."""


class Child:
    """A running child process: its output lines (stdout and stderr) are kept in ``lines``,
    copied to ``log_path`` and handed to ``on_line``. Subclasses set ``error`` to the
    exception their callers expect (AssertionError in tests, the demo's DemoError).

    With ``direct_log`` the child writes its output straight into ``log_path`` (no pipe, no
    reader thread here) and ``lines`` is read back from that file when asked for: a child
    then never waits for this process to read its output. A pipe fills (64 KiB) when its
    reader does not get the CPU, and the child's next write blocks its event loop: in a fleet
    of 100 vehicles in the emulated VM both VOS instances stopped that way, inside a database
    transaction, behind the 200 reader threads of one Python process."""

    error: type = ChildError
    #: Output lines quoted in an error.
    tail: int = 40

    def __init__(self, name: str, cmd: Sequence, *, ready_fd: bool = False, log_path: Optional[str] = None,
                 log_header: bool = True, flush: bool = True, on_line: Optional[Callable[[str], None]] = None,
                 env: Optional[dict] = None, cwd: Optional[str] = None, direct_log: bool = False):
        if direct_log and (not log_path or on_line):
            raise ValueError("direct_log needs a log_path and no on_line")
        self.name, self.cmd = name, [str(c) for c in cmd]
        self.lines: list = []
        self._direct = log_path if direct_log else None
        self._direct_offset, self._direct_partial = 0, ""
        self.on_line, self.flush = on_line, flush
        self._cv = threading.Condition()
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None
        self._ready_read: Optional[int] = None
        self.ready = False
        write_end = None
        if ready_fd:
            self._ready_read, write_end = os.pipe()
            self.cmd += ["--ready-fd", str(write_end)]
        if self._log and log_header:
            self._log.write(f"$ {' '.join(self.cmd)}\n")
            self._log.flush()
        if self._direct:
            self._direct_offset = self._log.tell()
        try:
            self.proc = subprocess.Popen(self.cmd, stdout=self._log if self._direct else subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True,
                                         errors="replace", env={**os.environ, **(env or {})}, cwd=cwd,
                                         stdin=subprocess.DEVNULL, pass_fds=(write_end,) if ready_fd else ())
        except OSError as error:
            self._close_ready()
            if self._log:
                self._log.close()
            raise self.error(f"cannot start {name} ({self.cmd[0]}): {error}") from None
        finally:
            if write_end is not None:
                os.close(write_end)  # the child has its copy: its exit closes the pipe
        self._reader: Optional[threading.Thread] = None
        if not self._direct:
            self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
            self._reader.start()

    # --- output -------------------------------------------------------------------------

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._cv:
                self.lines.append(line)
                if self._log and not self._log.closed:
                    self._log.write(line + "\n")
                    if self.flush:
                        self._log.flush()
                self._cv.notify_all()
            if self.on_line:
                try:
                    self.on_line(line)
                except Exception as error:  # a display problem must not stop the reader
                    print(f"{self.name}: handling an output line failed: {error!r}", file=sys.stderr)
        with self._cv:
            self._cv.notify_all()

    def _read_direct(self) -> None:
        """With ``direct_log``: the lines the child wrote to its log since the last call (call
        with ``_cv`` held)."""
        if not self._direct:
            return
        try:
            with open(self._direct, encoding="utf-8", errors="replace") as f:
                f.seek(self._direct_offset)
                chunk = f.read()
                self._direct_offset = f.tell()
        except OSError:
            return
        text = self._direct_partial + chunk
        *complete, self._direct_partial = text.split("\n")
        self.lines.extend(complete)

    def _reading(self) -> bool:
        """Whether output may still come."""
        return self.proc.poll() is None if self._direct else self._reader.is_alive()

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)

    def last_lines(self, count: Optional[int] = None) -> str:
        """The last ``count`` (default ``tail``) output lines, one per line."""
        with self._cv:
            self._read_direct()
            return "\n".join(self.lines[-(count or self.tail):])

    def text(self) -> str:
        """Every output line so far."""
        with self._cv:
            self._read_direct()
            return "\n".join(self.lines)

    def wait_output(self, timeout: float) -> None:
        """Returns when a new output line came (or the output ended), at the latest after ``timeout``."""
        with self._cv:
            self._cv.wait(timeout)

    def wait_for(self, text: str, timeout: float, start: int = 0, predicate: Optional[Callable[[str], bool]] = None,
                 what: str = "") -> str:
        """The first output line from index ``start`` on containing ``text`` (or satisfying
        ``predicate``); ``error`` when the child ends or ``timeout`` passes first."""
        end = time.monotonic() + timeout
        match = predicate or (lambda line: text in line)
        what = what or f"'{text}'"
        with self._cv:
            while True:
                reading = self._reading()
                self._read_direct()
                for line in self.lines[start:]:
                    if match(line):
                        return line
                if self.proc.poll() is not None and not reading:
                    raise self.error(f"{self.name} exited with status {self.proc.returncode} before {what}; "
                                     f"its last lines:\n{self.last_lines()}")
                left = end - time.monotonic()
                if left <= 0:
                    raise self.error(f"{self.name}: no {what} within {timeout:.0f} s; its last lines:\n"
                                     f"{self.last_lines()}")
                self._cv.wait(min(left, 0.2))

    # --- readiness ----------------------------------------------------------------------

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Waits for ``READY=1`` on the child's ready descriptor. ``error`` (with the child's
        last output lines) when the descriptor closes without it (the child failed to start)
        or ``timeout`` passes first."""
        if self.ready:
            return
        if self._ready_read is None:
            raise ValueError(f"{self.name} was started without ready_fd")
        end, data = time.monotonic() + timeout, b""
        try:
            while not data.endswith(b"\n"):
                left = end - time.monotonic()
                if left <= 0:
                    raise self.error(f"{self.name}: not ready within {timeout:.0f} s; its last lines:\n"
                                     f"{self.last_lines()}")
                readable, _, _ = select.select([self._ready_read], [], [], left)
                if not readable:
                    continue
                chunk = os.read(self._ready_read, 64)
                if not chunk:
                    raise self.error(self._not_ready_reason(data))
                data += chunk
        finally:
            self._close_ready()
        if data != READY:
            raise self.error(f"{self.name} wrote {data!r} on its ready descriptor, not READY=1")
        self.ready = True

    def _not_ready_reason(self, data: bytes) -> str:
        """Why the ready descriptor closed early, with the child's last lines."""
        try:
            status = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        self._join_reader()
        how = (f"exited with status {status}" if status is not None
               else "closed its ready descriptor") + (f" after {data!r}" if data else "")
        return f"{self.name} {how} before it was ready; its last lines:\n{self.last_lines()}"

    def _close_ready(self) -> None:
        if self._ready_read is not None:
            os.close(self._ready_read)
            self._ready_read = None

    # --- the process --------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_exit(self, timeout: float) -> int:
        """The exit status; ``error`` when the child runs longer than ``timeout``."""
        try:
            status = self.proc.wait(timeout=max(timeout, 0.01))
        except subprocess.TimeoutExpired:
            raise self.error(f"{self.name} did not finish within {timeout:.0f} s") from None
        self._join_reader()
        return status

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> Optional[int]:
        """``sig`` (SIGTERM), then SIGKILL after ``timeout``; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._finish()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (a power loss for the module): no clean-up runs in the child."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._finish()

    def _finish(self) -> None:
        self._join_reader()
        self._close_ready()
        with self._cv:
            self._read_direct()
            if self._log and not self._log.closed:
                self._log.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
