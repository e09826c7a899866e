"""2. Random-frame flood and 3. memory / start-up.

One module run goes through three phases: idle, `cangen -g 0` (random 11-bit ids, as a
faulty node would send), and `cangen -g 0 -e` (random 29-bit ids: the same load without
any frame on the module's or the tester's ids). In every phase a tester reads DID 0xF18C
in a loop (latency of each answer); the module's resident memory is sampled at the end
of each phase. Two candumps run over the module's whole life: one unfiltered (what a
monitor sees) and one with the module's own kernel filter (0x3A0, 0x6A8, 0x7A0, 0x7DF),
the exact reference for the "frames received" counter spaak-ecu logs at exit.
"""
from __future__ import annotations

import os
import subprocess
import time

from .canbus import MODULE_RX_IDS, Candump, Module, Sniffer, UDS, UDSError, cangen
from .common import (IFACE, Table, bin_path, bus_packets, env_json, human, median, ms, percentile, proc_status, ratio,
                     require_bins, skipped, spawn, stop, tool)

FLOOD_TITLE = "2. Random-frame flood (cangen -g 0) while a tester reads DID 0xF18C"
MEMORY_TITLE = "3. Resident memory and start-up of spaak-ecu"
SERIAL = "SPK0000000001"


def _read_loop(uds: UDS, seconds: float, timeout: float) -> dict:
    """22 F18C for ``seconds``: latencies of good answers, failures, foreign frames skipped."""
    lat, failed, wrong = [], 0, 0
    expected = b"\x62\xF1\x8C" + SERIAL.encode()
    end = time.monotonic() + seconds
    skipped0 = uds.skipped
    while time.monotonic() < end:
        t0 = time.perf_counter()
        try:
            answer = uds.request(b"\x22\xF1\x8C", timeout=timeout)
        except (UDSError, OSError):
            failed += 1
            continue
        dt = time.perf_counter() - t0
        if answer == expected:
            lat.append(dt)
        else:
            wrong += 1
    return {"lat": lat, "failed": failed, "wrong": wrong, "foreign": uds.skipped - skipped0}


def flood_run(phase_seconds: float = 5.0) -> dict:
    """The three phases; everything the two tables need."""
    dump_all = Candump()
    dump_module = Candump(",".join(f"{i:03X}:7FF" for i in MODULE_RX_IDS))
    module = Module(serial=SERIAL)
    phases = {}
    try:
        time.sleep(1.0)
        with UDS(0x7A0, 0x7A8, timeout=1.0) as uds:
            for name, args in (("idle", None), ("flood 11-bit", ("-g", "0", "-i")),
                               ("flood 29-bit", ("-g", "0", "-i", "-e"))):
                gen = cangen(*args) if args else None
                time.sleep(0.3)
                n0, t0 = bus_packets(), time.monotonic()
                result = _read_loop(uds, phase_seconds, timeout=1.0)
                result["rate"] = (bus_packets() - n0) / (time.monotonic() - t0)
                result["mem"] = proc_status(module.pid)
                result["peer_mem"] = proc_status(dump_module.proc.pid)
                stop(gen, timeout=3)
                time.sleep(0.3)
                phases[name] = result
    finally:
        time.sleep(0.5)
        counters = module.stop()
        time.sleep(0.3)
        all_frames = dump_all.stop()
        module_frames = dump_module.stop()
    return {"phases": phases, "counters": counters, "all": all_frames, "module_ids": module_frames}


def print_flood(data: dict) -> None:
    phases, counters = data["phases"], data["counters"]
    table = Table(FLOOD_TITLE, ["phase", "bus fps", "reads ok", "fail", "p50", "p99", "p50/idle", "p99/idle"])
    idle = phases["idle"]["lat"]
    for name, r in phases.items():
        lat = r["lat"]
        table.add(name, human(r["rate"]), len(lat), r["failed"] + r["wrong"], ms(median(lat)), ms(percentile(lat, 99)),
                  ratio(median(lat), median(idle)), ratio(percentile(lat, 99), percentile(idle, 99)))
    on_ids = sum(data["module_ids"]["by_id"].get(i, 0) for i in MODULE_RX_IDS)
    got = counters.get("received")
    table.note(f"frames on the module's ids (0x3A0 0x6A8 0x7A0 0x7DF): candump {on_ids}"
               f" (dropped {data['module_ids']['dropped']}), spaak-ecu received "
               f"{got if got is not None else 'n/a (no counters line at exit)'}"
               + (f" → module/candump {got / on_ids:.4f}" if got is not None and on_ids else ""))
    table.note(f"all frames: candump (unfiltered) {data['all']['total']} (dropped {data['all']['dropped']})")
    if counters.get("line"):
        table.note(f"spaak-ecu at exit: {counters['line'][:200]}")
    table.note("fail = timeouts (1 s) + wrong answers; random 11-bit frames also land on 0x7A0/0x7A8 and corrupt "
               "transfers, 29-bit ones cannot; latency = tester request → complete answer (python, kernel ISO-TP)")
    table.print()


def _startup_module(sniffer: Sniffer, store: str = None) -> tuple:
    start_index = len(sniffer.frames)
    t0 = time.time()
    module = Module(store=store, wait_ready=False)
    frame = sniffer.wait(lambda f: f[1] == 0x3A8 and f[0] >= t0, timeout=30, start=start_index)
    module.stop()
    if frame is None:
        raise RuntimeError("spaak-ecu sent no SPAAK_Status within 30 s")
    return frame[0] - t0, module.store


def _startup_cansend(sniffer: Sniffer) -> float:
    start_index = len(sniffer.frames)
    t0 = time.time()
    subprocess.run([tool("cansend"), IFACE, "3A8#0011223344556677"], timeout=10, check=True)
    frame = sniffer.wait(lambda f: f[1] == 0x3A8 and f[0] >= t0, timeout=5, start=start_index)
    return frame[0] - t0 if frame else float("nan")


def _startup_candump() -> float:
    """candump -n 1 started, then frames every 2 ms until it printed one."""
    import socket as s
    sock = s.socket(s.AF_CAN, s.SOCK_RAW, s.CAN_RAW)
    sock.bind((IFACE,))
    frame = (0x3A9).to_bytes(4, "little") + bytes([8, 0, 0, 0]) + bytes(8)
    t0 = time.perf_counter()
    proc = spawn([tool("candump"), "-n", "1", f"{IFACE},3A9:7FF"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    while proc.poll() is None and time.perf_counter() - t0 < 10:
        sock.send(frame)
        time.sleep(0.002)
    dt = time.perf_counter() - t0
    stop(proc)
    sock.close()
    return dt


def process_start(repeats: int = 5) -> dict:
    """Median seconds of `spaak-ecu --help` and `cansend` (usage) — process start only, no bus."""
    out = {}
    for key, cmd in (("ecu_help_s", [bin_path("spaak-ecu"), "--help"]), ("cansend_usage_s", [tool("cansend")])):
        if cmd[0] is None:
            continue
        samples = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            samples.append(time.perf_counter() - t0)
        out[key] = median(samples[1:])
    return out


def host(repeats: int = 5) -> dict:
    """Host part: process start-up without a bus, to see what TCG adds in the VM."""
    out = process_start(repeats)
    print(f"== 3. start-up — host, no bus: spaak-ecu --help {ms(out.get('ecu_help_s'))}, cansend (usage) "
          f"{ms(out.get('cansend_usage_s'))} (used for the VM estimate)", flush=True)
    return out


def print_memory(data: dict, repeats: int = 5) -> None:
    phases = data["phases"]
    table = Table(MEMORY_TITLE + ": resident memory (peer: the filtered candump, same run)",
                  ["phase", "bus fps", "spaak-ecu VmRSS", "file", "anon", "VmHWM", "candump VmRSS", "anon", "ratio"])
    kib = lambda d, key: human(d.get(key, 0) * 1024, "B")
    for name, r in phases.items():
        mem, peer = r["mem"], r["peer_mem"]
        table.add(name, human(r["rate"]), kib(mem, "VmRSS"), kib(mem, "RssFile"), kib(mem, "RssAnon"), kib(mem, "VmHWM"),
                  kib(peer, "VmRSS"), kib(peer, "RssAnon"), ratio(mem.get("VmRSS"), peer.get("VmRSS")))
    table.note("sampled at the end of each phase of section 2; VmHWM = peak resident set so far; file = pages of the "
               "executable and its libraries mapped in (shared, clean: the kernel drops them under pressure), "
               "anon = heap, stacks and relocated data (the process's own)")
    binary = bin_path("spaak-ecu")
    if binary:
        table.note(f"spaak-ecu {human(os.path.getsize(binary), 'B')}: {_linkage(binary)}")
    table.print()

    sniffer = Sniffer(ids=[0x3A8])
    try:
        fresh, again = [], []
        for _ in range(repeats):
            dt, store = _startup_module(sniffer)
            fresh.append(dt)
            dt2, _ = _startup_module(sniffer, store=store)
            again.append(dt2)
        cansend = [_startup_cansend(sniffer) for _ in range(repeats)]
    finally:
        sniffer.close()
    candump = [_startup_candump() for _ in range(repeats)]
    here = process_start(repeats)
    h = (env_json("SPAAK_BENCH_HOST") or {}).get("memory") or {}
    peer = median(cansend)
    table = Table(MEMORY_TITLE + ": start-up (median of %d)" % repeats, ["measure", "here", "host", "ratio to cansend"])
    table.add("spaak-ecu start → first SPAAK_Status, empty store", ms(median(fresh)), "-", ratio(median(fresh), peer))
    table.add("spaak-ecu start → first SPAAK_Status, existing store", ms(median(again)), "-", ratio(median(again), peer))
    table.add("cansend start → its frame on the bus (peer)", ms(peer), "-", "1.00")
    table.add("candump -n 1 start → a frame printed (sent every 2 ms)", ms(median(candump)), "-",
              ratio(median(candump), peer))
    table.add("spaak-ecu --help (process start, no bus)", ms(here.get("ecu_help_s")), ms(h.get("ecu_help_s")),
              ratio(here.get("ecu_help_s"), here.get("cansend_usage_s")))
    table.add("cansend usage (process start, no bus)", ms(here.get("cansend_usage_s")), ms(h.get("cansend_usage_s")), "")
    if h.get("ecu_help_s") and here.get("ecu_help_s"):
        factor = here["ecu_help_s"] / h["ecu_help_s"]
        table.note(f"process start of spaak-ecu here vs host: ×{factor:.0f} → start to first SPAAK_Status natively "
                   f"≈ {ms(median(again) / factor)} (estimate)")
    table.note("ratio = time / cansend's (lower is better); times from process start to the frame's kernel timestamp")
    table.print()


def _linkage(binary: str) -> str:
    """What the executable loads: the Swift runtime and Foundation linked in or from the toolchain."""
    try:
        needed = [line.split("[", 1)[1].rstrip("]") for line in
                  subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, timeout=30).stdout.splitlines()
                  if "(NEEDED)" in line]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "shared libraries unknown (readelf failed)"
    swift = [n for n in needed if "swift" in n or "Foundation" in n or n in ("libdispatch.so", "libBlocksRuntime.so")]
    return (f"Swift runtime and Foundation {'from the toolchain (' + ', '.join(swift) + ')' if swift else 'linked in'}; "
            f"shared libraries: {', '.join(n for n in needed if n not in swift)}")


def bench(sections: set, phase_seconds: float = 5.0) -> None:
    missing = require_bins("spaak-ecu")
    if missing:
        for title, key in ((FLOOD_TITLE, "flood"), (MEMORY_TITLE, "memory")):
            if key in sections:
                skipped(title, missing)
        return
    data = flood_run(phase_seconds)
    if "flood" in sections:
        print_flood(data)
    if "memory" in sections:
        print_memory(data)
