"""5. EOL batch: scripts/eol-tester provisions a batch of fresh modules (RP-01, RP-02,
plant lock), sequentially and with --parallel 2/4/8/16; speed-up against sequential."""
from __future__ import annotations

import json
import os
import time

from .canbus import Module
from .common import ROOT, Table, bin_path, require_bins, run, scratch, skipped, timed
from .plant import pki

TITLE = "5. EOL batch (scripts/eol-tester): sequential vs --parallel N"


def request_id(index: int) -> int:
    """0x700, 0x710, ... 0x7F0: 16 physical pairs clear of 0x7DF and of each other."""
    return 0x700 + 0x10 * index


def one_batch(run_no: int, modules: int, parallel: int, timeout: float) -> dict:
    """Fresh modules, one eol-tester run; its wall time and outcomes."""
    started = [Module(serial=f"SPKB{run_no:02d}{i:02d}", request_id=request_id(i), wait_ready=False)
               for i in range(modules)]
    try:
        for m in started:
            m.wait_ready(timeout=120)
        out = scratch("eol")
        report = os.path.join(out, "result.json")
        cmd = [str(ROOT / "scripts" / "eol-tester"), "--pki", pki(), "--out", out, "--spaak-pki", bin_path("spaak-pki"),
               "--modules", ",".join(f"{request_id(i):03X}" for i in range(modules)), "--parallel", str(parallel),
               "--no-progress", "--json", report]
        t0 = time.perf_counter()
        done = run(cmd, timeout=timeout)
        elapsed = time.perf_counter() - t0
        ok, failures, own = 0, [], None
        if os.path.exists(report):
            with open(report, encoding="utf-8") as f:
                data = json.load(f)
            own = data.get("elapsed_s")
            for m in data.get("modules", []):
                if m.get("outcome") == "provisioned":
                    ok += 1
                else:
                    failures.append(f"{m.get('request_id')}: {m.get('error')}")
        elif done.returncode != 0:
            failures.append((done.stderr or done.stdout).strip()[-300:])
        return {"elapsed": elapsed, "own": own, "ok": ok, "failures": failures}
    finally:
        for m in started:
            m.stop()


def bench(modules: int = 16, levels=(1, 2, 4, 8, 16), timeout: float = 900.0) -> None:
    missing = require_bins("spaak-ecu", "spaak-pki")
    if missing:
        return skipped(TITLE, missing)
    table = Table(TITLE + f", {modules} modules", ["--parallel", "wall", "batch", "per module", "provisioned",
                                                   "speed-up"])
    tester = str(ROOT / "scripts" / "eol-tester")
    # Warm-up: the first python start reads every import through the file system (9p in the VM).
    cold = timed([tester, "--help"], timeout=300)
    warm = timed([tester, "--help"], timeout=300)
    base = None
    notes = []
    for n, level in enumerate(lv for lv in levels if lv <= modules):
        r = one_batch(n, modules, level, timeout)
        batch = r["own"] if r["own"] is not None else r["elapsed"]
        if base is None:
            base = batch
        table.add(level, f"{r['elapsed']:.1f} s", f"{batch:.1f} s", f"{batch / modules * 1000:.0f} ms",
                  f"{r['ok']}/{modules}", f"{base / batch:.2f}")
        notes += [f"--parallel {level}: {f}" for f in r["failures"][:3]]
    table.note("wall = the eol-tester process; batch = its own elapsed time (after python start-up: PKI batch signing "
               "and 11 steps per module); speed-up = sequential batch / this batch; fresh modules for every row")
    table.note(f"eol-tester --help (python start-up): first {cold:.1f} s, then {warm:.1f} s; one run per row "
               "(shared CPUs: expect noise)")
    for line in notes:
        table.note(line)
    table.print()
