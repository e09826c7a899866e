"""10. Real CAN controllers (QEMU's kvaser_pci, SJA1000 driver, `VCAN_CONTROLLERS=kvaser`): the
module on can0 against the kernel's can-isotp on can0, both answering a peer on can1, in the
same run.

- ISO-TP throughput: 4095-byte requests received (sender back to back, FC BS 0 STmin 0) and
  a multi-DID certificate read transmitted, as in section 1 (`isotp_bench`), but across the
  emulated controllers: the module (0x7A0/0x7A8) vs a kernel ISO-TP socket (0x700/0x708).
- UDS latency: ReadDataByIdentifier 0xF18C (serial) round trips from can1, median and p95,
  vs the kernel peer answering the same bytes.
- CPU while the transmit queue is full: a tbf qdisc on can0 (125 kbit/s, burst 64 B, limit
  160 B: ten frames) turns long answers into ENOBUFS/EAGAIN; the module's utime+stime from
  /proc/PID/stat over the wall time of back-to-back long reads (and the same with can0 idle),
  with the answers' throughput vs the kernel peer's under the same qdisc.
"""
from __future__ import annotations

import os
import subprocess
import time

from .canbus import Module, UDS, UDSError
from spaaklib.process import cpu_seconds

from .common import Table, median, ms, percentile, ratio, require_bins, skipped, tool
from .isotp_bench import _kernel, _measure, _multi_did_request, nrc13, throughput_row
from .plant import ROOTS, generate_identity, install_roots

TITLE = "10. Real CAN controllers (module vs kernel CAN ISO-TP on can0, peers on can1; SJA1000 in QEMU)"
MODULE_IF = os.environ.get("SPAAK_REALCAN_IFACE", "can0")
PEER_IF = os.environ.get("SPAAK_REALCAN_PEER_IFACE", "can1")
TBF = ("rate", "125kbit", "burst", "64", "limit", "160")


def _latencies(client: UDS, request: bytes, count: int) -> list:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        try:
            client.request(request, timeout=2)
        except UDSError:
            continue
        out.append(time.perf_counter() - t0)
    return out


def _qdisc(*args: str) -> None:
    tc = tool("tc") or "/usr/sbin/tc"
    done = subprocess.run([tc, "qdisc", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"tc qdisc {' '.join(args)}: {(done.stderr or done.stdout).strip()}")


def _controllers_missing() -> str | None:
    for iface in (MODULE_IF, PEER_IF):
        if not os.path.exists(f"/sys/class/net/{iface}"):
            return f"no {iface} (run with VCAN_CONTROLLERS=kvaser: scripts/bench realcan does)"
        if not os.path.exists(f"/sys/class/net/{iface}/can_bittiming") and not os.path.exists(
                f"/sys/class/net/{iface}/device"):
            return f"{iface} is not a CAN controller"
    return None


def bench(count: int = 40, budget: float = 60.0, latency_count: int = 200, full_seconds: float = 8.0) -> None:
    missing = require_bins("spaak-ecu", "spaak-pki") or _controllers_missing()
    if missing:
        return skipped(TITLE, missing)
    table = Table(TITLE, ["measure", "n", "module", "kernel", "module/kernel"])
    module = Module(iface=MODULE_IF)
    notes = []

    def row(label: str, size: int, ours: dict, peer: dict) -> None:
        throughput_row(table, label, size, ours, peer)

    try:
        # Throughput, reception: 4095-byte requests from can1, answered 7F 3E 13.
        request = b"\x3E\x00" + os.urandom(4093)

        with UDS(0x7A0, 0x7A8, timeout=10, iface=PEER_IF) as uds:
            ours = _measure(uds, request, nrc13, count, budget, timeout=3)
        peer = _kernel(request, b"\x7F\x3E\x13", max(ours["ok"] + ours["lost"], 3), iface=MODULE_IF,
                       client_iface=PEER_IF)
        row("receive 4095 B, sender back to back", len(request), ours, peer)

        with UDS(0x7A0, 0x7A8, timeout=10, iface=PEER_IF) as uds:
            # Throughput, transmission: the multi-DID certificate read of section 1.
            install_roots(uds)
            generate_identity(uds)
            sizes = {did: len(uds.read(did)) - 2 for did in [d for _, d in ROOTS] + [0xD100]}
            dids, _ = _multi_did_request(sizes)
            multi = b"\x22" + b"".join(d.to_bytes(2, "big") for d in dids)
            if uds.request(multi)[0] != 0x62:
                dids = sorted(sizes)
                multi = b"\x22" + b"".join(d.to_bytes(2, "big") for d in dids)
            answer = uds.positive(multi)

            def same(a, expected=len(answer)):
                if len(a) != expected or a[0] != 0x62:
                    raise RuntimeError(f"unexpected answer {a[:8].hex()} ({len(a)} B)")

            ours = _measure(uds, multi, same, count, budget, timeout=5)
            peer = _kernel(multi, answer, ours["ok"] + ours["lost"], iface=MODULE_IF, client_iface=PEER_IF)
            row(f"transmit {len(dids)} DIDs ({len(answer)} B)", len(answer), ours, peer)

            # UDS latency: 22 F1 8C round trips (the answer is 3 frames: FF, FC, CF).
            serial_request = b"\x22\xF1\x8C"
            serial_answer = uds.positive(serial_request)
            lat_ours = _latencies(uds, serial_request, latency_count)
        from .isotp_bench import KernelPeer, PEER_REQ, PEER_RESP
        kpeer = KernelPeer(serial_answer, iface=MODULE_IF)
        try:
            with UDS(PEER_REQ, PEER_RESP, timeout=2, iface=PEER_IF) as client:
                client.request(serial_request)
                lat_peer = _latencies(client, serial_request, latency_count)
        finally:
            kpeer.close()
        for label, p in (("p50", 50), ("p95", 95)):
            mine, theirs = percentile(lat_ours, p), percentile(lat_peer, p)
            table.add(f"UDS 22 F18C round trip {label} ({len(serial_answer)} B answer)", len(lat_ours), ms(mine),
                      ms(theirs), ratio(1 / mine if mine else None, 1 / theirs if theirs else None))

        # CPU while the transmit queue is full: tbf on can0, long reads back to back.
        pid = module.proc.pid
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(2.0)
        idle = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        _qdisc("replace", "dev", MODULE_IF, "root", "tbf", *TBF)
        try:
            with UDS(0x7A0, 0x7A8, timeout=30, iface=PEER_IF) as uds:
                c0, t0 = cpu_seconds(pid), time.monotonic()
                full = _measure(uds, multi, same, 10_000, full_seconds, timeout=30)
                wall = time.monotonic() - t0
                busy = (cpu_seconds(pid) - c0) / wall
            peer = _kernel(multi, answer, max(full["ok"], 2), iface=MODULE_IF, client_iface=PEER_IF,
                           budget=full_seconds * 2, timeout=30)
        finally:
            _qdisc("del", "dev", MODULE_IF, "root")
        row(f"transmit {len(answer)} B under tbf 125 kbit/s", len(answer), full, peer)
        table.add("module CPU (utime+stime / wall): queue full", f"{wall:.0f} s", f"{busy * 100:.1f} %", "-", "-")
        table.add("module CPU (utime+stime / wall): idle", "2 s", f"{idle * 100:.1f} %", "-", "-")
        notes.append(f"certificate multi-DID read: {' '.join(f'{d:04X}' for d in dids)}; "
                     f"tbf on {MODULE_IF}: {' '.join(TBF)} (about 125 frames/s of 128 bits; the queue holds ten)")
    finally:
        counters = module.stop()
    for line in notes:
        table.note(line)
    table.note("throughput = message bytes × answered / their request→answer time (one at a time); latency ratio = "
               "kernel time / module time; goal module/kernel ≥ 1.0 in every row; the CPU rows: the module's own "
               "time while its answers wait for the qdisc (a busy loop would read ~100 %)")
    if counters.get("line"):
        table.note(f"module counters: {counters['line'][:200]}")
    table.print()
