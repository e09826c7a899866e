"""python -m benchlib host|bus SECTION... — the part of scripts/bench that runs on the host
(no bus) or where vcan0 exists (the VM here)."""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

from . import common

HOST_SECTIONS = ("memory", "keygen", "scrypt", "pairing", "api", "backend")
BUS_SECTIONS = ("isotp", "flood", "memory", "keygen", "eol", "pp01", "pairing", "realcan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchlib")
    p.add_argument("where", choices=("host", "bus"))
    p.add_argument("sections", nargs="+")
    p.add_argument("--export", metavar="FILE", help="host: write the results the VM part uses as JSON")
    p.add_argument("--quick", action="store_true", help="fewer repetitions and shorter phases")
    p.add_argument("--modules", type=int, default=16, help="EOL batch size (16)")
    args = p.parse_args(argv)
    wanted = [s for s in args.sections if s in (HOST_SECTIONS if args.where == "host" else BUS_SECTIONS)]
    print(common.environment_line("host" if args.where == "host" else "bus side"), flush=True)
    q = args.quick
    exported, errors = {}, 0
    runners = {
        ("host", "keygen"): lambda: exported.__setitem__("keygen", _keygen_host(3 if q else 10)),
        ("host", "memory"): lambda: exported.__setitem__("memory", _import("flood").host(3 if q else 5)),
        ("host", "scrypt"): lambda: _import("scrypt").bench(iterations=2 if q else 5),
        ("bus", "isotp"): lambda: _import("isotp_bench").bench(count=10 if q else 40),
        ("bus", "flood"): lambda: _import("flood").bench(set(wanted) & {"flood", "memory"}, 2.0 if q else 5.0),
        ("bus", "keygen"): lambda: _import("keygen").bench(3 if q else 10),
        ("bus", "eol"): lambda: _import("eol").bench(args.modules, levels=(1, 4) if q else (1, 2, 4, 8, 16)),
        ("bus", "pp01"): lambda: _import("pp01").bench(repeats=1 if q else 2),
        ("host", "pairing"): lambda: exported.__setitem__("pairing", _import("pairing").host(0.5 if q else 1.0)),
        ("bus", "pairing"): lambda: _import("pairing").bench(repeats=1 if q else 3, seconds=0.5 if q else 1.0),
        ("host", "api"): lambda: _import("api").bench(seconds=2.0 if q else 5.0),
        ("host", "backend"): lambda: _import("backend").bench(vehicles=60 if q else 300, counts=(500,) if q else (1000, 4000),
                                                              hold=5.0 if q else 15.0),
        ("bus", "realcan"): lambda: _import("realcan").bench(count=10 if q else 40, latency_count=50 if q else 200,
                                                             full_seconds=4.0 if q else 8.0),
    }
    done_flood = False
    for section in wanted:
        if args.where == "bus" and section in ("flood", "memory"):
            if done_flood:
                continue
            done_flood, section = True, "flood"
        t0 = time.monotonic()
        try:
            runners[(args.where, section)]()
        except Exception as error:  # a broken section must not hide the others
            errors += 1
            print(f"== {section}: ERROR {type(error).__name__}: {error}", flush=True)
            traceback.print_exc(limit=4, file=sys.stderr)
        finally:
            common.stop_all()
        print(f"  ({section}: {time.monotonic() - t0:.0f} s)", flush=True)
    if args.export:
        with open(args.export, "w", encoding="utf-8") as f:
            json.dump(exported, f)
    return 1 if errors else 0


def _import(name: str):
    import importlib
    return importlib.import_module(f"benchlib.{name}")


def _keygen_host(repeats: int) -> dict:
    return _import("keygen").host(repeats)


if __name__ == "__main__":
    sys.exit(main())
