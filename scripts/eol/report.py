"""The per-module table and the plain-text progress bar (stderr, readable in CI logs)."""
from __future__ import annotations

import os
import sys
import threading
import time

from .model import STEPS, ModuleResult

COLUMNS = ("serial", "ids", "steps", "VIN", "CSR", "certificate", "lock", "D120", "result")


def _cell(result: ModuleResult, column: str) -> str:
    if column == "serial":
        return result.serial or "?"
    if column == "ids":
        return str(result.address)
    if column == "steps":
        return f"{len(result.steps_done)}/{len(STEPS)}"
    if column == "VIN":
        return result.vin or "-"
    if column == "CSR":
        return os.path.basename(result.csr_path) if result.csr_path else "-"
    if column == "certificate":
        return os.path.basename(result.cert_path) if result.cert_path else "-"
    if column == "lock":
        return {True: "locked", False: "unlocked", None: "-"}[result.locked]
    if column == "D120":
        return result.status.words() if result.status else "-"
    retried = f" ({result.retries} retr{'y' if result.retries == 1 else 'ies'})" if result.retries else ""
    if result.error is not None:
        return f"{result.outcome} at {result.error.step}{retried}: {result.error.describe()}"
    return (result.outcome or "not run") + retried


def render_table(results: list) -> str:
    """The table: a header, a rule, one row per module (columns padded to the widest cell)."""
    rows = [list(COLUMNS)] + [[_cell(r, c) for c in COLUMNS] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_summary(results: list, elapsed: float, parallel: int) -> str:
    """``3 modules: 2 provisioned, 1 already provisioned, 0 failed in 4.2 s (parallel 1)``."""
    counts: dict = {}
    for r in results:
        counts[r.outcome or "not run"] = counts.get(r.outcome or "not run", 0) + 1
    failed = sum(1 for r in results if r.failed)
    parts = [f"{n} {name}" for name, n in counts.items() if name != "FAILED"] + [f"{failed} failed"]
    return f"{len(results)} modules: {', '.join(parts)} in {elapsed:.1f} s (parallel {parallel})"


def bar_line(done: int, total: int, width: int = 30, label: str = "") -> str:
    """``[##########--------------------]  12/36  33%  label``."""
    total = max(total, 1)
    done = min(max(done, 0), total)
    filled = done * width // total
    text = f"[{'#' * filled}{'-' * (width - filled)}] {done:>{len(str(total))}}/{total} {done * 100 // total:3d}%"
    return f"{text}  {label}" if label else text


class ProgressBar:
    """Thread-safe progress on ``stream``: redrawn in place on a terminal; elsewhere a new
    line each time the bar gains a segment (and at the end), so CI logs stay short."""

    def __init__(self, total: int, stream=None, width: int = 30, enabled: bool = True):
        self.total, self.width, self.enabled = total, width, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self._last_filled = -1
        self._lock = threading.Lock()
        self._start = time.monotonic()

    def add_total(self, n: int) -> None:
        """More work appeared (or, negative, work was skipped)."""
        with self._lock:
            self.total = max(self.total + n, self.done)

    def advance(self, label: str = "", n: int = 1) -> None:
        """``n`` units done; ``label`` says which."""
        with self._lock:
            self.done = min(self.done + n, max(self.total, 1))
            filled = self.done * self.width // max(self.total, 1)
            if not self.enabled:
                return
            line = bar_line(self.done, self.total, self.width, label)
            if self.tty:
                self.stream.write("\r\033[K" + line)
            elif filled != self._last_filled or self.done == self.total:
                self.stream.write(line + "\n")
            else:
                return
            self._last_filled = filled
            self.stream.flush()

    def finish(self, label: str = "done") -> None:
        """Ends the bar (a final newline on a terminal)."""
        if not self.enabled:
            return
        with self._lock:
            elapsed = time.monotonic() - self._start
            line = bar_line(self.done, self.total, self.width, f"{label} ({elapsed:.1f} s)")
            self.stream.write(("\r\033[K" + line + "\n") if self.tty else (line + "\n"))
            self.stream.flush()
