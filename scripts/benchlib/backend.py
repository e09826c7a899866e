"""12. The backend's cost of one vehicle (docs/SCALING.md rests on it), on the host, no bus.

`spaak-cloud bench-backend` runs SP-02, PP-01 and PP-02 of scripted vehicles against the real
VehicleOEMServer over memory, SQLite and PostgreSQL (scripts/pgtemp, durable: fsync and
synchronous commit on) and counts what one
vehicle costs: messages, signatures, [K], database transactions, reads and writes, CPU and
wall time per step. Two peers in the same run give the floors it is compared with:
- crypto: `openssl speed ecdsap256` prices the vehicle's ECDSA work (one verification per
  V2C message, one signature per C2V message and per [K]); ratio = the VOS's CPU per vehicle
  (memory repository) / that floor;
- database: `pgbench` on the same server runs, per vehicle, the same number of transactions
  with the same number of reads (primary-key SELECTs) and writes (primary-key UPSERTs) the VOS
  made; ratio = the VOS's wall time per vehicle on PostgreSQL / pgbench's.
Then the GSDP endpoint: one `spaak-cloud vos` holding C WebSocket connections (each a TBM's
hello with its serial, then idle with the VOS's keep-alive pings): resident memory per
connection and the idle CPU (a capacity figure, no peer).
"""
from __future__ import annotations

import asyncio
import glob
import json
import os
import re
import subprocess
import time

from spaaklib.process import cpu_seconds

from .common import Table, bin_path, human, ratio, run, scratch, skipped, spawn, stop, tool

TITLE = "12. Backend: one vehicle's cost to the VOS (SP-02, PP-01, PP-02), its floors, GSDP connections"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pgtemp(action: str, folder: str) -> str:
    # Durable (fsync, synchronous commit): the figures stand for a real server's.
    done = run([os.path.join(ROOT, "scripts", "pgtemp"), action, folder], timeout=120,
               env={**os.environ, "PGTEMP_DURABLE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"scripts/pgtemp {action}: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _backend(cloud: str, database: str, vehicles: int) -> dict:
    done = run([cloud, "bench-backend", "--vehicles", str(vehicles), "--database", database, "--json"], timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"bench-backend on {database}: {(done.stderr or done.stdout).strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _openssl() -> dict:
    done = run([tool("openssl"), "speed", "-seconds", "1", "ecdsap256"], timeout=120)
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)", done.stdout + done.stderr)
    if not m:
        raise RuntimeError("openssl speed: no P-256 figures")
    return {"sign_s": 1 / float(m.group(1)), "verify_s": 1 / float(m.group(2))}


def _pgbench(url: str, per_vehicle: dict, vehicles: int) -> float:
    """Seconds per vehicle for pgbench doing the VOS's transactions' statement counts."""
    binary = tool("pgbench") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))), None)
    if binary is None:
        raise RuntimeError("pgbench not found (Debian's postgresql package)")
    transactions = max(1, round(per_vehicle["db_transactions"]))
    reads = per_vehicle["db_reads"] / transactions
    writes = per_vehicle["db_writes"] / transactions
    folder = scratch("pgbench")
    script = os.path.join(folder, "vehicle.sql")
    lines = ["\\set k random(1, 100000)", "BEGIN ISOLATION LEVEL SERIALIZABLE;"]
    lines += ["SELECT v FROM bench_rows WHERE k = :k;"] * round(reads)
    lines += ["INSERT INTO bench_rows (k, v) VALUES (:k, repeat('x', 100)) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"] * round(writes)
    lines.append("COMMIT;")
    with open(script, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    psql = tool("psql")
    run([psql, url, "-q", "-c", "CREATE TABLE IF NOT EXISTS bench_rows (k integer PRIMARY KEY, v text)"], timeout=60)
    count = transactions * vehicles
    done = run([binary, "-n", "-c", "1", "-t", str(count), "-f", script, url], timeout=600)
    m = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    if done.returncode != 0 or not m:
        raise RuntimeError(f"pgbench: {(done.stderr or done.stdout).strip()[-300:]}")
    return float(m.group(1)) / 1000 * transactions


def _pg_size(url: str) -> int:
    """pg_database_size: the bytes of the database's files (tables, indexes, TOAST)."""
    done = run([tool("psql"), url, "-At", "-c", "SELECT pg_database_size(current_database())"], timeout=60)
    return int(done.stdout.strip().splitlines()[-1])


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


async def _hold(url: str, count: int, pid: int, hold: float) -> dict:
    import websockets  # scripts/requirements.txt

    sockets = []

    async def one(i: int) -> None:
        ws = await websockets.connect(url, ping_interval=None, max_size=1 << 20, open_timeout=60)
        await ws.send(json.dumps({"hello": {"tbm": f"bench-{i}", "serials": [f"SPK{8_000_000_000 + i:010d}"]}}))
        answer = await asyncio.wait_for(ws.recv(), 60)
        if "welcome" not in answer:
            raise RuntimeError(f"no welcome: {answer[:200]}")
        sockets.append(ws)

    rss0, cpu0 = _rss_kb(pid), cpu_seconds(pid)
    t0 = time.monotonic()
    for start in range(0, count, 250):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 250))))
    connect = time.monotonic() - t0
    rss1, cpu1 = _rss_kb(pid), cpu_seconds(pid)
    await asyncio.sleep(hold)
    cpu2 = cpu_seconds(pid)
    for ws in sockets:
        await ws.close()
    return {"connections": len(sockets), "connect_s": connect, "kb_per_connection": (rss1 - rss0) / max(1, len(sockets)),
            "connect_cpu_s": cpu1 - cpu0, "idle_cpu": (cpu2 - cpu1) / hold}


def _connections(cloud: str, pki: str, url: str, counts: tuple, hold: float) -> list:
    folder = scratch("gsdp")
    log_path = os.path.join(folder, "vos.log")
    with open(log_path, "w", encoding="utf-8") as log:
        # Its log goes to a file: a pipe nobody reads would stop it at the first full buffer.
        proc = spawn([cloud, "vos", "--pki", pki, "--database", url, "--gsdp", "127.0.0.1:0", "--control",
                      os.path.join(folder, "vos.sock"), "--instance", "bench", "--mail-dir", os.path.join(folder, "mail"),
                      "--idp-key", os.path.join(folder, "idp.pem")], stdout=log, stderr=subprocess.STDOUT)
    address = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and address is None and proc.poll() is None:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            m = re.search(r"GSDP on (ws://\S+)", f.read())
        address = m.group(1) if m else None
        time.sleep(0.2)
    if address is None:
        stop(proc)
        raise RuntimeError("spaak-cloud vos did not print its GSDP address")
    try:
        return [asyncio.run(_hold(address, count, proc.pid, hold)) for count in counts]
    finally:
        stop(proc)


def bench(vehicles: int = 300, counts: tuple = (1000, 4000), hold: float = 15.0) -> None:
    cloud, pki_tool = bin_path("spaak-cloud"), bin_path("spaak-pki")
    if cloud is None or pki_tool is None:
        return skipped(TITLE, "not built: spaak-cloud, spaak-pki (the lead builds .build/release)")
    folder = scratch("backend")
    results = {"memory": _backend(cloud, "memory", vehicles),
               "sqlite": _backend(cloud, os.path.join(folder, "vos.sqlite"), vehicles)}
    cluster = os.path.join(folder, "pg")
    os.chmod(folder, 0o755)
    url = _pgtemp("start", cluster)
    try:
        size0 = _pg_size(url)
        results["postgresql"] = _backend(cloud, url, vehicles)
        results["postgresql"]["db_bytes_per_vehicle"] = (_pg_size(url) - size0) / (vehicles + 3)
        floor_db = _pgbench(url, results["postgresql"], vehicles)
        pki = os.path.join(folder, "pki")
        run([pki_tool, "init", pki], timeout=120)
        connections = _connections(cloud, pki, url, counts, hold)
    finally:
        _pgtemp("stop", cluster)
    speed = _openssl()
    memory = results["memory"]
    floor_crypto = memory["v2c"] * speed["verify_s"] + (memory["c2v"] + memory["certificates"]) * speed["sign_s"]

    table = Table(TITLE, ["measure", "memory", "SQLite", "PostgreSQL", "floor (peer)", "ratio"])
    table.add("CPU per vehicle (VOS thread)", *(f"{results[k]['cpu_ms']:.2f} ms" for k in ("memory", "sqlite", "postgresql")),
              f"{floor_crypto * 1000:.2f} ms (openssl)", ratio(memory["cpu_ms"] / 1000, floor_crypto))
    table.add("wall per vehicle", *(f"{results[k]['wall_ms']:.2f} ms" for k in ("memory", "sqlite", "postgresql")),
              f"{floor_db * 1000:.2f} ms (pgbench)", ratio(results["postgresql"]["wall_ms"] / 1000, floor_db))
    table.add("vehicles per second, one instance", *(f"{1000 / results[k]['wall_ms']:.0f}" for k in ("memory", "sqlite", "postgresql")),
              f"{1 / floor_db:.0f}", "")
    pg = results["postgresql"]
    table.add("per vehicle: V2C in / C2V out / [K]", f"{pg['v2c']:.0f} / {pg['c2v']:.0f} / {pg['certificates']:.0f}", "", "", "", "")
    table.add("per vehicle: transactions / reads / writes",
              f"{pg['db_transactions']:.0f} / {pg['db_reads']:.0f} / {pg['db_writes']:.0f}", "", "", "", "")
    table.add("database bytes per vehicle (files)", "", human(results["sqlite"].get("db_bytes_per_vehicle"), "B"),
              human(results["postgresql"].get("db_bytes_per_vehicle"), "B"), "", "")
    table.add(f"one verifier, scrypt N={memory['scrypt_n']}", f"{memory['scrypt_ms']:.1f} ms", "", "", "", "")
    table.add("parts: sign / verify / [K] issuance",
              f"{memory['sign_ms']:.3f} / {memory['verify_ms']:.3f} / {memory['issue_ms']:.3f} ms", "", "",
              f"{speed['sign_s'] * 1000:.3f} / {speed['verify_s'] * 1000:.3f} ms", "")
    for c in connections:
        table.add(f"GSDP: {c['connections']} connections", f"{c['kb_per_connection']:.1f} KiB each",
                  f"idle CPU {100 * c['idle_cpu']:.1f} %", f"connect {c['connect_s']:.1f} s", "", "")
    table.note(f"{vehicles} vehicles after 3 warm-up ones per database; crypto floor = {memory['v2c']:.0f} verifications + "
               f"{memory['c2v'] + memory['certificates']:.0f} signatures at openssl's speed; database floor = pgbench, "
               f"same transactions/reads/writes per vehicle (SERIALIZABLE, primary keys); ratio > 1: slower than the floor")
    table.note(f"GSDP: idle = {hold:.0f} s with the VOS's keep-alive ping every 5 s; memory = VmRSS growth / connections")
    table.print()
    print("  json: " + json.dumps({"backend": results, "floor_crypto_s": floor_crypto, "floor_db_s": floor_db,
                                    "gsdp": connections}), flush=True)
