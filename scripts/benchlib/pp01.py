"""6. PP-01 (with its SP-02 prelude) from the TBM going online to the completion ack, on an
idle bus and under ~50 % of the frame rate that `cangen -g 0` reaches in the same run.

One module is provisioned once by scripts/eol-tester (roots, VIN, ECU identity, plant
lock); each condition then starts from a copy of that store, with a fresh spaak-cloud
database. The time runs from the first TBM_Status with both online bits on the bus to the
last frame of the C2VUsecaseCompletionAck (0x06) on 0x6A8 (kernel timestamps); completion
is confirmed by SPAAK_Status ([K] installed, no active use case).
"""
from __future__ import annotations

import os
import shutil
import time

from spaaklib.process import Child

from .canbus import Module, Sniffer, calibrate_load, cangen
from .common import (ROOT, Table, adopt, bin_path, human, load_result, ms, require_bins, run, save_result, scratch,
                     skipped, stop)
from .plant import pki

TITLE = "6. PP-01 (SP-02 + PP-01) from TBM online to the completion ack"
SERIAL = "SPKPP0100001"
NAMES = {0x01: "SubjIdReq", 0x02: "SubjIdResp", 0x03: "CSRReq", 0x04: "CSRResp", 0x05: "CertStatus", 0x06: "Ack",
         0x07: "SP02Req", 0x08: "SP02Resp", 0x7F: "Error"}


class ISOTPMessages:
    """Messages reassembled just enough from one id's frames: (type, first ts, last ts, frames)."""

    def __init__(self):
        self.messages: list = []
        self._open = None  # [type, t_first, t_last, frames, cf_left]

    def feed(self, ts: float, data: bytes) -> None:
        if not data:
            return
        kind = data[0] >> 4
        if kind == 0 and len(data) >= 5:
            self.messages.append((data[4], ts, ts, 1))
        elif kind == 1 and len(data) >= 6:
            length = ((data[0] & 0x0F) << 8) | data[1]
            self._open = [data[5], ts, ts, 1, max(0, -(-(length - 6) // 7))]
        elif kind == 2 and self._open:
            self._open[2], self._open[3], self._open[4] = ts, self._open[3] + 1, self._open[4] - 1
            if self._open[4] <= 0:
                self.messages.append(tuple(self._open[:4]))
                self._open = None


def provision(out: str) -> str:
    """A provisioned, locked module store (and <serial>.crt.der in ``out``); the store path."""
    module = Module(serial=SERIAL)
    try:
        done = run([str(ROOT / "scripts" / "eol-tester"), "--pki", pki(), "--out", out, "--spaak-pki",
                    bin_path("spaak-pki"), "--modules", "7A0", "--no-progress"], timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"eol-tester: {(done.stdout + done.stderr).strip()[-400:]}")
    finally:
        module.stop()
    return module.store


def one_run(store_template: str, certs: str, load_args, timeout: float) -> dict:
    """One PP-01 from a copy of the provisioned store; times, frames, messages."""
    work = scratch("pp01")
    store = os.path.join(work, "store")
    shutil.copytree(store_template, store)
    sniffer = Sniffer(ids=[0x3A0, 0x3A8, 0x6A0, 0x6A8])
    control = os.path.join(work, "cloud.sock")
    cloud = Child("spaak-cloud", [bin_path("spaak-cloud"), "serve", "--pki", pki(), "--db",
                                  os.path.join(work, "cloud.sqlite"), "--control", control, "--ecu-certs", certs,
                                  "--tbm", "offline", "--scrypt-n", "1024"],
                  ready_fd=True, log_path=os.path.join(work, "cloud.log"), log_header=False)
    adopt(cloud.proc)
    module = Module(serial=SERIAL, store=store)
    gen = None
    try:
        cloud.wait_ready(timeout=30)
        time.sleep(1.5)
        if load_args:
            gen = cangen(*load_args)
            time.sleep(0.5)
        start_index = len(sniffer.frames)
        t_cmd = time.time()
        ctl = run([bin_path("spaak-cloud"), "ctl", control, "tbm", "online"], timeout=30)
        if ctl.returncode != 0:
            raise RuntimeError(f"spaak-cloud ctl: {(ctl.stderr or ctl.stdout).strip()}")
        online = sniffer.wait(lambda f: f[1] == 0x3A0 and f[0] >= t_cmd - 0.2 and len(f[2]) > 2 and f[2][2] & 3 == 3,
                              timeout=10, start=start_index)
        done = sniffer.wait(lambda f: f[1] == 0x3A8 and len(f[2]) > 3 and f[2][2] & 0x20 and f[2][3] == 0,
                            timeout=timeout, start=start_index)
    finally:
        stop(gen, timeout=3)
        module.stop()
        stop(cloud.proc)
        cloud.stop()
        sniffer.close()
    if online is None:
        raise RuntimeError("no online TBM_Status after 'ctl tbm online'")
    frames = [f for f in sniffer.frames if f[0] >= online[0]]
    c2v, v2c = ISOTPMessages(), ISOTPMessages()
    for ts, ident, data in frames:
        if ident == 0x6A8:
            c2v.feed(ts, data)
        elif ident == 0x6A0:
            v2c.feed(ts, data)
    ack = next((m for m in c2v.messages if m[0] == 0x06), None)
    result = {"completed": done is not None and ack is not None, "t0": online[0]}
    if result["completed"]:
        t_end = ack[2]
        result["seconds"] = t_end - online[0]
        result["frames"] = sum(1 for f in frames if f[1] in (0x6A0, 0x6A8) and f[0] <= t_end)
        result["v2c"] = [m for m in v2c.messages if m[1] <= t_end]
        result["c2v"] = [m for m in c2v.messages if m[1] <= t_end]
    return result


def crypto_estimate(result: dict) -> tuple:
    """(module s, cloud s) of crypto in one PP-01, from the keygen section's measurements:
    module: 1 key pair + CSR, 1 signature per V2C, 2 verifications per C2V (signature, signer
    chain) and 2 for [K]'s chain; cloud: 1 verification per V2C, 1 signature per C2V, [K]
    issuance (CSR check + signature)."""
    k = load_result("keygen")
    if not k:
        from .keygen import module_keygen, peers
        k = {**module_keygen(5), **peers(5)}
        save_result("keygen", k)
    n_v2c, n_c2v = len(result["v2c"]), len(result["c2v"])
    module = k["module_s"] + n_v2c * k["sign_s"] + (2 * n_c2v + 2) * k["verify_s"]
    cloud = n_v2c * k["verify_s"] + (n_c2v + 1) * k["sign_s"] + k["verify_s"]
    return module, cloud


def timeline(result: dict) -> dict:
    """Where the time went: the module's turns (TBM online or a C2V's last frame → its next
    V2C's first frame), the cloud's turns (a V2C's last frame → the C2V's first frame) and
    the ISO-TP transfers themselves (first → last frame of each message)."""
    merged = sorted([(m[1], m[2], "V2C") for m in result["v2c"]] + [(m[1], m[2], "C2V") for m in result["c2v"]])
    out = {"module": 0.0, "cloud": 0.0, "transfers": 0.0}
    previous_end = result["t0"]
    for first, last, direction in merged:
        out["module" if direction == "V2C" else "cloud"] += max(0.0, first - previous_end)
        out["transfers"] += last - first
        previous_end = last
    return out


def bench(timeout: float = 90.0, repeats: int = 2) -> None:
    missing = require_bins("spaak-ecu", "spaak-pki", "spaak-cloud")
    if missing:
        return skipped(TITLE, missing)
    certs = scratch("pp01-certs")
    template = provision(certs)
    full, args, achieved = calibrate_load(0.5)
    table = Table(TITLE, ["bus", "load fps", "time", "module", "cloud", "transfers", "frames", "crypto est.", "share"])
    rows = [("idle", None, 0.0), ("50 % load, 29-bit ids", tuple(args) + ("-e",), achieved),
            ("50 % load, 11-bit ids", tuple(args), achieved)]
    idle_time = None
    sequence = ""
    for name, load, fps in rows:
        runs = [one_run(template, certs, load, timeout) for _ in range(repeats)]
        good = sorted((r for r in runs if r["completed"]), key=lambda r: r["seconds"])
        if not good:
            table.add(name, human(fps), f"not done in {timeout:.0f} s", "-", "-", "-", "-", "-", "-")
            continue
        r = good[0]
        module_c, cloud_c = crypto_estimate(r)
        idle_time = idle_time or r["seconds"]
        t = timeline(r)
        all_times = "/".join(f"{x['seconds']:.2f}" for x in good) + ("" if len(good) == len(runs) else " +fail")
        table.add(name, human(fps), f"{r['seconds']:.2f} s" + (f" ({all_times})" if len(runs) > 1 else ""),
                  ms(t["module"]), ms(t["cloud"]), ms(t["transfers"]),
                  f"{r['frames']} ({len(r['v2c'])}/{len(r['c2v'])})", ms(module_c + cloud_c),
                  f"{(module_c + cloud_c) / r['seconds'] * 100:.1f} %")
        if not sequence:
            merged = sorted([(m[1], "→" + NAMES.get(m[0], hex(m[0]))) for m in r["v2c"]]
                            + [(m[1], "←" + NAMES.get(m[0], hex(m[0]))) for m in r["c2v"]])
            sequence = " ".join(f"{label} +{(ts - r['t0']) * 1000:.0f}" for ts, label in merged)
    table.note(f"time = TBM online on the bus → last frame of the ack (fastest of {repeats}, all runs in brackets); "
               "module / cloud = their turns between messages; transfers = ISO-TP first→last frame; "
               "frames on 0x6A0/0x6A8 (V2C/C2V messages)")
    table.note(f"load: cangen -g 0 reaches {human(full)} fps here; the 50 % rows use {' '.join(args)} "
               f"(measured {human(achieved)} fps = {achieved / full * 100 if full else 0:.0f} %)")
    table.note(f"messages, ms after online (idle): {sequence}")
    table.note("crypto est. = module (keygen + CSR of section 4, ECDSA sign/verify from openssl speed × operations) "
               "+ cloud (same costs per operation); share = crypto est. / time")
    table.note("29-bit ids load the bus without touching an id in use; 11-bit random ids also hit "
               "0x3A0/0x6A0/0x6A8 (corrupt transfers, retries after 5 s)")
    table.print()
