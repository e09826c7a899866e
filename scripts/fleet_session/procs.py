"""The fleet's child processes, console and overall deadline.

Every wait is bounded by the run's deadline; every child started through ``Children`` is
stopped (SIGTERM, then SIGKILL) when the run ends, however it ends (Ctrl-C and SIGTERM
included: they become KeyboardInterrupt).
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from spaaklib.process import Child


class FleetError(Exception):
    """The fleet cannot go on: the message says why (shown to the user as is)."""


class Deadline:
    """The overall time budget of the run (``--timeout``)."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.monotonic()
        self.end = self.start + seconds

    def left(self, cap: Optional[float] = None) -> float:
        """Seconds left (at most ``cap``); FleetError when the budget is spent."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise FleetError(f"the fleet's overall time limit ({self.seconds:.0f} s, --timeout) is spent")
        return left if cap is None else min(left, cap)

    @property
    def spent(self) -> bool:
        return time.monotonic() >= self.end

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class Console:
    """Thread-safe, timestamped lines ``  12.3 s  tag          text``, copied to a log file."""

    def __init__(self, deadline: Deadline, log_path: Optional[str] = None):
        self.deadline, self.lock = deadline, threading.Lock()
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None

    def line(self, tag: str, text: str) -> None:
        self.raw(f"{self.deadline.elapsed():7.1f} s  {tag:<12} {text}")

    def raw(self, text: str = "") -> None:
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            if self.log:
                self.log.write(text + "\n")
                self.log.flush()

    def close(self) -> None:
        if self.log:
            self.log.close()
            self.log = None


class Proc(Child):
    """A child of the fleet (spaaklib's Child); its failures are FleetErrors."""

    error = FleetError
    tail = 15


class Children:
    """Every child of the run; ``stop_all`` stops them, several at a time, newest first."""

    def __init__(self):
        self.procs: list = []
        self.lock = threading.Lock()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)

    @staticmethod
    def _on_signal(signo, _frame):
        raise KeyboardInterrupt(f"signal {signo}")

    def start(self, name: str, cmd: list, log_path: str, *, ready_fd: bool = False) -> Proc:
        """Starts a child writing its output straight into ``log_path`` (``direct_log``: with
        hundreds of children, a pipe each read by a thread of this process would fill whenever
        this process waits for the CPU, and block the child's loop on its next log line)."""
        proc = Proc(name, cmd, ready_fd=ready_fd, log_path=log_path, flush=False, direct_log=True)
        with self.lock:
            self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 10.0) -> Optional[int]:
        status = proc.stop(timeout)
        with self.lock:
            if proc in self.procs:
                self.procs.remove(proc)
        return status

    def stop_all(self, timeout: float = 10.0) -> int:
        """Stops every child still running (SIGTERM to all, then waits; SIGKILL after ``timeout``);
        how many there were."""
        with self.lock:
            procs, self.procs = list(reversed(self.procs)), []
        for proc in procs:
            if proc.alive:
                try:
                    proc.proc.send_signal(signal.SIGTERM)
                except OSError:
                    pass

        def finish(proc):
            try:
                proc.stop(timeout)
            except Exception as error:  # keep stopping the others
                print(f"fleet: stopping {proc.name}: {error!r}", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(finish, procs))
        return len(procs)
