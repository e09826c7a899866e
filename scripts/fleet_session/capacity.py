"""What one idle vehicle (spaak-ecu + spaak-cloud tbm on its own bus) costs this machine, in
CPUs: a few of them started without a backend (the TBM's VOS URL refuses, it retries every
8 s at most), their CPU time read from /proc for a while. The bench (benchlib.fleet) skips the
fleet sizes whose idle vehicles alone would overload the machine (spaaklib.fleet.too_big)."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

from spaaklib.process import cpu_seconds

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
        time.sleep(settle_s)
        pids = [p.proc.pid for v in fleet for p in (v.ecu, v.tbm)]
        before, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        time.sleep(sample_s)
        used, elapsed = sum(cpu_seconds(p) for p in pids) - before, time.monotonic() - t0
        return used / elapsed / vehicles
    finally:
        children.stop_all()
        shutil.rmtree(run, ignore_errors=True)
