"""Shared pieces of the benchmarks: paths, the environment banner, bounded child
processes (all stopped at exit), statistics and the compact result tables.

Benchmarks print ratios against a peer measured in the same run; they never pass or fail
on time.
"""
from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

from spaaklib.process import find_binary

ROOT = Path(__file__).resolve().parents[2]
IFACE = os.environ.get("SPAAK_IFACE", "vcan0")


# --- paths --------------------------------------------------------------------------------

def bin_path(name: str) -> Optional[str]:
    """A release executable: $SPAAK_BIN_DIR/<name>, else .build/release/<name>; None if absent."""
    return find_binary(name, builds=("release",))


def require_bins(*names: str) -> Optional[str]:
    """None when every binary is built, else a sentence naming the missing ones."""
    missing = [n for n in names if bin_path(n) is None]
    return f"not built: {', '.join(missing)} (the lead builds .build/release)" if missing else None


def tool(name: str) -> Optional[str]:
    return shutil.which(name)


def scratch(prefix: str) -> str:
    """A fresh temporary folder, removed at exit."""
    path = tempfile.mkdtemp(prefix=f"spaak-bench-{prefix}-")
    atexit.register(shutil.rmtree, path, True)
    return path


# --- environment --------------------------------------------------------------------------

def in_vm() -> bool:
    """True inside the vcan-run QEMU guest (TCG CPU model, or a hypervisor flag)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    return "QEMU" in text or ("hypervisor" in text and os.path.exists("/sys/module/9pnet_virtio"))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def environment_line(where: str) -> str:
    """One line: where, kernel, CPUs, CPU model, memory."""
    mem = "?"
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) // 1024} MiB"
                    break
    except OSError:
        pass
    kind = "QEMU VM (TCG)" if in_vm() else "native"
    return (f"{where}: {kind}, kernel {platform.release()}, {os.cpu_count()} CPU ({cpu_model()}), {mem} RAM, "
            f"python {platform.python_version()}")


# --- processes ----------------------------------------------------------------------------

_children: list = []


def spawn(cmd: Sequence[str], **kw) -> subprocess.Popen:
    """Popen, remembered so that it is stopped at exit."""
    return adopt(subprocess.Popen(list(cmd), **kw))


def adopt(proc: subprocess.Popen) -> subprocess.Popen:
    """A child started elsewhere (a spaaklib Child's process), stopped at exit like the others."""
    _children.append(proc)
    return proc


def stop(proc: Optional[subprocess.Popen], sig: int = signal.SIGTERM, timeout: float = 10.0) -> Optional[int]:
    """Signal one child we started (by its pid), wait, SIGKILL if it lingers; its status."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
    if proc in _children:
        _children.remove(proc)
    return proc.returncode


def stop_all() -> None:
    for proc in list(_children):
        stop(proc, timeout=3.0)


def _on_signal(signo, _frame):
    stop_all()
    sys.exit(128 + signo)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)


def run(cmd: Sequence[str], timeout: float = 120.0, **kw) -> subprocess.CompletedProcess:
    """subprocess.run with a timeout and captured text output."""
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)


def timed(cmd: Sequence[str], timeout: float = 120.0, **kw) -> float:
    """Seconds that one command took (it must succeed)."""
    t0 = time.perf_counter()
    done = run(cmd, timeout=timeout, **kw)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[:300]}")
    return elapsed


def proc_status(pid: int) -> dict:
    """VmRSS, VmHWM, ..., RssAnon, RssFile of /proc/<pid>/status, in KiB."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.startswith(("Vm", "Rss")) and value.strip().endswith("kB"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def bus_packets(iface: str = IFACE) -> int:
    """Frames that went through the interface (vcan counts every transmitted frame)."""
    try:
        with open(f"/sys/class/net/{iface}/statistics/tx_packets", encoding="utf-8") as f:
            return int(f.read())
    except (OSError, ValueError):
        return -1


# --- statistics and formatting ------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    v = list(values)
    return statistics.median(v) if v else float("nan")


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    v = sorted(values)
    if not v:
        return float("nan")
    rank = max(1, min(len(v), int(round(p / 100.0 * len(v) + 0.4999))))
    return v[rank - 1]


def ratio(ours: Optional[float], peer: Optional[float]) -> str:
    if not ours or not peer or ours != ours or peer != peer:
        return "-"
    return f"{ours / peer:.2f}"


def human(value: Optional[float], unit: str = "") -> str:
    """Compact number: 1234567 -> 1.23 M."""
    if value is None or value != value:
        return "-"
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f}{suffix}{unit}"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f} {unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def ms(seconds: Optional[float]) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    value = seconds * 1000
    if abs(value) < 1:
        return f"{value * 1000:.1f} µs" if abs(value) < 0.1 else f"{value * 1000:.0f} µs"
    return f"{value:.0f} ms" if abs(value) >= 100 else f"{value:.2f} ms" if abs(value) < 10 else f"{value:.1f} ms"


class Table:
    """A titled table printed with aligned columns; notes follow it."""

    def __init__(self, title: str, header: Sequence[str]):
        self.title, self.header = title, list(header)
        self.rows: list = []
        self.notes: list = []

    def add(self, *cells) -> None:
        self.rows.append([str(c) for c in cells])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        rows = [self.header] + self.rows
        width = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(self.header))]
        lines = [f"== {self.title}"]
        for n, r in enumerate(rows):
            cells = [(r[i] if i < len(r) else "").ljust(width[i]) if i == 0 else (r[i] if i < len(r) else "").rjust(width[i])
                     for i in range(len(width))]
            lines.append("  " + "  ".join(cells).rstrip())
            if n == 0:
                lines.append("  " + "  ".join("-" * w for w in width))
        lines += [f"  {line}" for line in self.notes]
        return "\n".join(lines)

    def print(self) -> None:
        print(self.render(), flush=True)


def skipped(title: str, reason: str) -> None:
    print(f"== {title}\n  skipped: {reason}", flush=True)


def save_result(key: str, value) -> None:
    """Results one section hands to another in the same run (e.g. crypto times to PP-01)."""
    RESULTS[key] = value


def load_result(key: str):
    return RESULTS.get(key)


RESULTS: dict = {}


def env_json(name: str) -> Optional[dict]:
    """A JSON object passed in an environment variable (host results into the VM)."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
