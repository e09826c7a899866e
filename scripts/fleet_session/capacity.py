"""What one idle vehicle (spaak-ecu + spaak-cloud tbm on its own bus) costs this machine, in
CPUs: a few of them started without a backend (the TBM's VOS URL refuses, it retries every
8 s at most), their CPU time read from /proc for a while. The bench (benchlib.fleet) skips the
fleet sizes whose idle vehicles alone would overload the machine (spaaklib.fleet.too_big).

Beside it, the peer: the same bus traffic made by can-utils (``can_utils_floor``), what an idle
vehicle cannot cost less than on this machine whatever its code does."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

from spaaklib.process import Child, cpu_seconds

from .procs import Children
from .vehicles import Vehicle, start_module, start_tbm

#: A URL where no VOS listens (the discard port): the TBM stays offline, as idle as it gets.
NOWHERE = "ws://127.0.0.1:9/gsdp/v1/spaak"


def per_vehicle_cpu(bins: dict, vehicles: int = 4, settle_s: float = 5.0, sample_s: float = 20.0) -> float:
    """The CPU share (1.0 = one CPU) of one idle vehicle: ``vehicles`` of them on vcan1..vcanN,
    ``settle_s`` to start, then ``sample_s`` measured."""
    run = tempfile.mkdtemp(prefix="spaak-capacity-")
    children = Children()
    try:
        os.makedirs(os.path.join(run, "logs"))
        fleet = [Vehicle(k, os.path.join(run, f"store-{k}"), os.path.join(run, f"tbm-{k}.jsonl"))
                 for k in range(1, vehicles + 1)]
        for v in fleet:
            start_module(v, bins["spaak-ecu"], children, os.path.join(run, "logs"))
            start_tbm(v, bins["spaak-cloud"], [NOWHERE], run, children, os.path.join(run, "logs"))
        for v in fleet:
            v.ecu.wait_ready(120)
            v.tbm.wait_ready(120)
        return _share([p.proc.pid for v in fleet for p in (v.ecu, v.tbm)], vehicles, settle_s, sample_s)
    finally:
        children.stop_all()
        shutil.rmtree(run, ignore_errors=True)


#: What an idle vehicle's two nodes do on its bus (ICD section 2), as can-utils command lines:
#: the TBM sends TBM_Status (0x3A0) and the module its status frame (0x3A8) every 100 ms, the
#: module receives TBM_Status (candump filtered to 0x3A0 like the module's socket; its lines go
#: to /dev/null, one small write more than the module does). The TBM receives nothing.
FLOOR_COMMANDS = (("cangen", "{iface}", "-g", "100", "-I", "3A0", "-L", "8"),
                  ("cangen", "{iface}", "-g", "100", "-I", "3A8", "-L", "8"),
                  ("candump", "{iface},3A0:7FF"))


def can_utils_floor(vehicles: int = 4, settle_s: float = 2.0, sample_s: float = 20.0) -> float:
    """The CPU share of one idle vehicle's bus traffic made by can-utils on vcan1..vcanN (the
    same interfaces as ``per_vehicle_cpu``): the least any implementation pays here for it."""
    missing = [c for c in ("cangen", "candump") if shutil.which(c) is None]
    if missing:
        raise RuntimeError(f"can-utils missing ({', '.join(missing)}): scripts/setup installs them")
    peers = []
    try:
        for k in range(1, vehicles + 1):
            for command in FLOOR_COMMANDS:
                cmd = [a.format(iface=f"vcan{k}") for a in command]
                peers.append(Child(" ".join(cmd), cmd, log_path=os.devnull, log_header=False, direct_log=True))
        time.sleep(0.2)
        dead = [p.name for p in peers if not p.alive]
        if dead:
            raise RuntimeError(f"can-utils ended at once (no vcan1..vcan{vehicles}?): {dead[0]}")
        return _share([p.pid for p in peers], vehicles, settle_s, sample_s)
    finally:
        for p in peers:
            p.stop(5)


def _share(pids: list, vehicles: int, settle_s: float, sample_s: float) -> float:
    """The CPU share per vehicle of ``pids`` over ``sample_s``, after ``settle_s``."""
    time.sleep(settle_s)
    before, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
    time.sleep(sample_s)
    used, elapsed = sum(cpu_seconds(p) for p in pids) - before, time.monotonic() - t0
    return used / elapsed / vehicles
