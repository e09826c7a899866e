"""The backend of the fleet: a throw-away PostgreSQL (scripts/pgtemp) or one SQLite file,
and K ``spaak-cloud vos`` instances on it, each with its GSDP WebSocket endpoint on a port
of 127.0.0.1 that the system picks (the instance prints it before it is ready)."""
from __future__ import annotations

import functools
import os
import re
import subprocess
from typing import Optional

from spaaklib.fleet import ControlError, ctl, parse_stats

from .procs import Children, FleetError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PGTEMP = os.path.join(ROOT, "scripts", "pgtemp")
GSDP_LINE = re.compile(r"GSDP on (ws://\S+)")

#: The backend's scheduling priority (nice) in the fleet. The vehicles are the load generator:
#: N modules and TBMs (~5 % of an emulated core each, idle) fill the VM's two cores from about
#: N = 40, and a backend at their priority then waits behind them for every PostgreSQL round
#: trip and every WebSocket upgrade (at N = 100: about a minute per V2C message, and the TBMs'
#: 10 s connect timeouts expire over and over). In a deployment the VOS and its database have
#: machines of their own; here they get the CPU first instead.
BACKEND_NICE = -10


@functools.lru_cache(maxsize=None)
def _may_raise_priority() -> bool:
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, current - 1)  # allowed only with CAP_SYS_NICE
        os.setpriority(os.PRIO_PROCESS, 0, current)
    except (OSError, PermissionError):
        return False
    return True


def backend_priority() -> list:
    """The command prefix that runs a backend process at ``BACKEND_NICE`` (``[]`` where this user
    may not raise a priority: the backend then shares the CPU equally with the vehicles)."""
    return ["nice", "-n", str(BACKEND_NICE)] if _may_raise_priority() else []


class Database:
    """``postgres``: a cluster started by ``scripts/pgtemp start DIR`` (its URL is the last line
    it prints), stopped by ``stop()``; ``sqlite``: a file (only one VOS instance may use it)."""

    def __init__(self, kind: str, run_dir: str, timeout: float, say):
        self.kind, self.dir, self.url, self.started = kind, os.path.join(run_dir, "pg"), None, False
        if kind == "sqlite":
            self.url = os.path.join(run_dir, "vos.sqlite")
            return
        if not os.access(PGTEMP, os.X_OK):
            raise FleetError(f"{os.path.relpath(PGTEMP, ROOT)} is missing: it starts the PostgreSQL of the fleet")
        try:
            done = subprocess.run(backend_priority() + [PGTEMP, "start", self.dir], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise FleetError(f"scripts/pgtemp start did not finish within {timeout:.0f} s") from None
        self.started = True
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines or not lines[-1].startswith(("postgres://", "postgresql://")):
            raise FleetError(f"scripts/pgtemp start failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        self.url = lines[-1].strip()
        say(f"PostgreSQL (scripts/pgtemp) at {self.url}")

    def stop(self) -> None:
        if self.started:
            self.started = False
            subprocess.run([PGTEMP, "stop", self.dir], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


class VOSInstance:
    """One ``spaak-cloud vos``: ``url`` (its GSDP endpoint) once ``wait_ready`` returned."""

    def __init__(self, number: int, spaak_cloud: str, pki: str, database: str, ecu_certs: str, run_dir: str,
                 scrypt_n: int, children: Children, log_dir: str):
        self.number, self.name = number, f"vos-{number}"
        self.control = os.path.join(run_dir, f"{self.name}.sock")
        self.trace = os.path.join(run_dir, "traces", f"{self.name}.jsonl")
        self.url: Optional[str] = None
        self.killed = False
        self.last_stats: Optional[dict] = None
        args = [spaak_cloud, "vos", "--pki", pki, "--database", database, "--instance", self.name,
                "--gsdp", "127.0.0.1:0", "--control", self.control, "--ecu-certs", ecu_certs, "--trace", self.trace,
                "--scrypt-n", str(scrypt_n), "--mail-dir", os.path.join(run_dir, f"mail-{self.name}")]
        self.proc = children.start(f"spaak-cloud vos {self.name}", backend_priority() + args,
                                   os.path.join(log_dir, f"{self.name}.log"),
                                   ready_fd=True)

    def wait_ready(self, timeout: float) -> None:
        self.proc.wait_ready(timeout)
        line = self.proc.wait_for("", 5, predicate=lambda text: GSDP_LINE.search(text) is not None,
                                  what="its 'GSDP on ws://…' line")
        self.url = GSDP_LINE.search(line).group(1)

    @property
    def alive(self) -> bool:
        return not self.killed and self.proc.alive

    def ctl(self, command: str, timeout: float = 30.0) -> str:
        return ctl(self.control, command, timeout)

    def stats(self) -> Optional[dict]:
        """Its ``stats`` (kept as ``last_stats``); None when it cannot answer."""
        if not self.alive:
            return self.last_stats
        try:
            value = parse_stats(self.ctl("stats", timeout=10))
        except ControlError:
            return self.last_stats
        if value is not None:
            self.last_stats = value
        return self.last_stats

    def kill(self) -> None:
        """SIGKILL: a crash, no clean-up in the instance."""
        self.stats()
        self.killed = True
        self.proc.kill()
