"""fleet: scripts/fleet's session for N = 10, 50, 100 vehicles with K = 1 and 2 VOS
instances on PostgreSQL and K = 1 on SQLite, in one boot of scripts/vcan-run's VM:
provisioning throughput (vehicles whose PP-01 completed per minute, from the first TBM start
to the last PP-01), PP-01 p50/p99 (TBM traces: the first V2C to the delivered 0x06), VOS
requests per second and database time per transaction (the instances' ``stats``).

``python -m benchlib.fleet [--sizes 10,50,100] [--json FILE]`` where vcan1..vcanN exist
(scripts/bench runs it through scripts/vcan-run with VCAN_IFACES up to the largest N). The
plant is made once for the largest N (cached in out/bench-fleet/plant, reused by every row
and by later runs); each row copies the pristine stores and keeps its logs and traces in
out/bench-fleet/run-N-K-database. Nothing passes or fails on time.

Before the runs it measures what one idle vehicle costs this machine (fleet_session.capacity),
and the same bus traffic made by can-utils (the peer: the least any vehicle could cost here),
and does not start all vehicles of a size at once when their idle load alone would ask more than
``spaaklib.fleet.IDLE_LOAD_LIMIT`` times its CPUs (in the 2-core emulated VM: N = 100): such a
run cannot finish a PP-01 (docs/SCALING.md). It runs that size as a production line instead
(``scripts/fleet --stations C``, C from ``spaaklib.fleet.stations_that_fit``: the stations whose
idle vehicles ask about the CPUs): the row says "line of C". ``--force`` starts all at once.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from .common import ROOT, Table, environment_line

sys.path.insert(0, str(ROOT / "scripts"))
from fleet_session.capacity import can_utils_floor, per_vehicle_cpu  # noqa: E402
from fleet_session.story import find_binaries  # noqa: E402
from spaaklib.fleet import stations_that_fit, too_big  # noqa: E402

TITLE = "fleet: N vehicles (spaak-ecu + spaak-cloud tbm) against K spaak-cloud vos"
BACKENDS = ((1, "sqlite"), (1, "postgres"), (2, "postgres"))


def one(n: int, k: int, database: str, out: str, timeout: float, stations=None) -> dict:
    """One run of fleet_session (a line of ``stations`` when given); its JSON (plus wall time
    and exit status)."""
    path = os.path.join(out, f"fleet-{n}-{k}-{database}.json")
    if os.path.exists(path):
        os.remove(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    line = ["--stations", str(stations)] if stations else []
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "fleet_session", "--vehicles", str(n), "--vos-instances", str(k),
                               "--database", database, "--out", out, "--json", path, "--timeout", str(timeout)] + line,
                              capture_output=True, text=True, timeout=timeout + 120, env=env, cwd=str(ROOT))
        status, tail = done.returncode, (done.stdout + done.stderr).strip().splitlines()[-12:]
    except subprocess.TimeoutExpired:
        status, tail = None, ["timed out"]
    # each row's logs and traces in a folder of its own (the next row's session empties <out>/run)
    run, kept = os.path.join(out, "run"), os.path.join(out, f"run-{n}-{k}-{database}")
    if os.path.isdir(run):
        shutil.rmtree(kept, ignore_errors=True)
        os.rename(run, kept)
    result = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
    result.update({"exit": status, "wall_s": round(time.monotonic() - t0, 1), "config": [n, k, database],
                   "stations": stations or n})
    if status != 0:
        result["tail"] = tail
    return result


def bench(sizes=(10, 50, 100), json_path=None, timeout: float = 1500.0, force: bool = False) -> list:
    out = str(ROOT / "out" / "bench-fleet")
    os.makedirs(out, exist_ok=True)
    results = []
    cpus = os.cpu_count() or 1
    cost = per_vehicle_cpu(find_binaries())
    floor = can_utils_floor()
    print(f"  one idle vehicle (spaak-ecu + spaak-cloud tbm, no backend): {cost * 100:.2f} % of a CPU; {cpus} CPUs",
          flush=True)
    print(f"  {floor_line(cost, floor, max(sizes), cpus)}", flush=True)
    # the largest first: it makes the plant the smaller ones reuse
    order = sorted(((n, k, db) for n in sizes for k, db in BACKENDS), key=lambda c: (-c[0], c[1], c[2]))
    lines = {}
    for n, k, db in order:
        reason = None if force else too_big(cost, n, cpus)
        stations = None
        if reason:
            stations = stations_that_fit(cost, cpus)
            if stations < 1:
                print(f"  fleet N={n} K={k} {db}: not run: {reason}; not even one station fits", flush=True)
                results.append({"config": [n, k, db], "exit": None, "wall_s": 0.0, "not_run": reason})
                continue
            lines[n] = (reason, stations)
            print(f"  fleet N={n} K={k} {db}: all at once: {reason}; run as a line of {stations} stations ...", flush=True)
        else:
            print(f"  fleet N={n} K={k} {db} ...", flush=True)
        results.append(one(n, k, db, out, timeout, stations))
    results.sort(key=lambda r: (r["config"][0], r["config"][1], r["config"][2] != "sqlite"))
    table = Table(TITLE, ["N", "at once", "K", "database", "done", "vehicles/min", "PP-01 p50", "PP-01 p99", "VOS req/s",
                          "db ms/tx", "db retries", "VOS busy", "wall"])
    for r in results:
        n, k, db = r["config"]
        pp = r.get("pp01", {})
        vos = r.get("vos", {})
        fmt = lambda v, unit="": "-" if v is None else f"{v:g}{unit}"  # noqa: E731
        if r.get("not_run"):
            table.add(n, "-", k, db, "not run", "-", "-", "-", "-", "-", "-", "-", "-")
            continue
        at_once = r.get("stations") or n
        table.add(n, at_once if at_once >= n else f"{at_once} (line)", k, db, f"{r.get('done', 0)}/{n}", fmt(r.get("vehicles_per_minute")), fmt(pp.get("p50_s"), " s"),
                  fmt(pp.get("p99_s"), " s"), fmt(vos.get("requests_per_s")), fmt(vos.get("db_ms_per_transaction")),
                  fmt(vos.get("db_retries")), fmt(r.get("busy_answers")), f"{r['wall_s']:.0f} s")
        if r.get("exit") != 0:
            table.note(f"N={n} K={k} {db}: exit {r.get('exit')}; failures {r.get('failures')}; "
                       + " | ".join(r.get("tail", [])[-3:]))
    table.note("vehicles/min: PP-01 completions over the time from the first TBM start to the last PP-01 (the plant "
               "is cached, not counted); PP-01: first V2C to the delivered 0x06 (TBM traces); req/s: V2C the VOS "
               "instances took over the story's time; db ms/tx: MeteredCloudRepository's time per transaction; "
               "VOS busy: control commands answered 'too many inputs waiting for a verifier' (sent again 5 s later); "
               "passwords for 20 %, KTS terminations for 10 % of the vehicles; scrypt N = 1024 (scripts/fleet's default)")
    skipped = sorted({r["config"][0]: r["not_run"] for r in results if r.get("not_run")}.items())
    for n, reason in skipped:
        table.note(f"N={n} not run: {reason}; --fleet-force (scripts/bench) runs it anyway")
    for n, (reason, stations) in sorted(lines.items()):
        table.note(f"N={n} as a production line of {stations} stations (scripts/fleet --stations {stations}: at most "
                   f"{stations} vehicles on at once, each leaving when its story is done): all {n} at once: {reason}; "
                   f"--fleet-force (scripts/bench) starts them all at once")
    table.note(f"one idle vehicle here: {cost * 100:.2f} % of a CPU ({cpus} CPUs; fleet_session.capacity)")
    table.note(floor_line(cost, floor, max(sizes), cpus))
    table.print()
    json_path = json_path or os.path.join(out, "fleet-bench.json")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump({"environment": environment_line("bus side"), "idle_vehicle_cpu": round(cost, 5),
                   "line_stations": {str(n): stations for n, (_, stations) in lines.items()},
                   "can_utils_floor_cpu": round(floor, 5), "cpus": cpus,
                   "rows": results}, f, indent=2)
    print(f"  JSON: {os.path.relpath(json_path, ROOT)}", flush=True)
    return results


def floor_line(cost: float, floor: float, largest: int, cpus: int) -> str:
    """The peer's line: the same bus traffic by can-utils, our ratio to it, and what the
    largest size asks of the CPUs even at that floor."""
    ratio = f"{cost / floor:.1f}x" if floor > 0 else "-"
    return (f"can-utils making the same frames (2 cangen + 1 candump per bus): {floor * 100:.2f} % of a CPU per vehicle; "
            f"spaak is {ratio} that; N={largest} at the can-utils floor alone would ask {floor * largest / cpus:.1f}x "
            f"the {cpus} CPUs")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchlib.fleet")
    p.add_argument("--sizes", default="10,50,100", help="vehicle counts (10,50,100)")
    p.add_argument("--json", metavar="FILE", help="where the JSON goes (out/bench-fleet/fleet-bench.json)")
    p.add_argument("--force", action="store_true",
                   help="start every size all at once, even one whose idle vehicles alone would overload this machine "
                        "(otherwise such a size runs as a production line)")
    args = p.parse_args(argv)
    print(environment_line("bus side"), flush=True)
    results = bench(tuple(int(s) for s in args.sizes.split(",") if s), args.json, force=args.force)
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
