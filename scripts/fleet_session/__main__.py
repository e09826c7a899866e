"""``python -m fleet_session``: the fleet's session (where vcan1..vcanN exist)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .procs import FleetError
from .story import DEFAULT_SCRYPT_N, ROOT, Fleet


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a fraction from 0 to 1")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fleet_session", description="N vehicles (spaak-ecu + spaak-cloud tbm, "
                                "one bus each) against K spaak-cloud vos instances on PostgreSQL or SQLite.")
    p.add_argument("--vehicles", type=int, required=True, metavar="N", help="vehicles (1..200)")
    p.add_argument("--vos-instances", type=int, default=1, metavar="K", help="VOS instances (1)")
    p.add_argument("--database", choices=("postgres", "sqlite"), default="postgres",
                   help="the VOS database (postgres; sqlite allows one instance only)")
    p.add_argument("--passwords", type=fraction, default=0.2, metavar="F",
                   help="fraction of the vehicles whose pairing password is handed out (0.2; at least one if > 0)")
    p.add_argument("--terminations", type=fraction, default=0.1, metavar="F",
                   help="fraction of the vehicles whose owner key the KTS terminates (0.1; at least one if > 0)")
    p.add_argument("--stations", type=int, metavar="C",
                   help="a production line of C stations: at most C vehicles on (module and TBM running) at once; "
                        "a vehicle leaves (both stopped) when its story is done or failed and the next one takes its "
                        "station (default: all N at once)")
    p.add_argument("--kill-instance-at", type=fraction, metavar="F",
                   help="SIGKILL vos-1 when PP-01 is done for this fraction of the vehicles (needs K >= 2)")
    p.add_argument("--scrypt-n", type=int, default=DEFAULT_SCRYPT_N, metavar="N",
                   help=f"scrypt cost of the VOS's verifiers (power of two; default {DEFAULT_SCRYPT_N}: the ICD's "
                        f"32768 costs ~92 ms of CPU per verifier here and ~20x that in the VM's emulated CPU, "
                        f"and no phone pairs in the fleet)")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.add_argument("--out", default=os.path.join(ROOT, "out", "fleet"), metavar="DIR", help="output folder (out/fleet)")
    p.add_argument("--timeout", type=float, default=900.0, metavar="S", help="overall time limit (900 s)")
    p.add_argument("--plant-batch", type=int, default=10, metavar="B",
                   help="modules running and provisioned at once at the plant (10)")
    p.add_argument("--fresh-plant", action="store_true", help="provision again even when <out>/plant fits")
    p.add_argument("--plant-only", action="store_true", help="stop after the plant (fills the cache)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    # udsoncan logs each retried exception (busy, a late answer) of the plant: the EOL
    # tester's results say what failed in the end
    logging.basicConfig(level=logging.CRITICAL)
    if not 1 <= args.vehicles <= 200:
        print("fleet: --vehicles must be 1..200", file=sys.stderr)
        return 2
    if args.stations is not None and args.stations < 1:
        print("fleet: --stations must be >= 1", file=sys.stderr)
        return 2
    if args.vos_instances < 1 or (args.database == "sqlite" and args.vos_instances != 1):
        print("fleet: --vos-instances must be >= 1, and 1 with --database sqlite", file=sys.stderr)
        return 2
    if args.kill_instance_at is not None and args.vos_instances < 2:
        print("fleet: --kill-instance-at needs --vos-instances 2 or more (the TBMs need another one)", file=sys.stderr)
        return 2
    if args.scrypt_n < 2 or args.scrypt_n & (args.scrypt_n - 1):
        print("fleet: --scrypt-n must be a power of two", file=sys.stderr)
        return 2
    fleet = Fleet(args)
    try:
        result = fleet.run()
    except FleetError as error:
        print(f"\nfleet FAILED: {error}", file=sys.stderr)
        print(f"logs: {os.path.relpath(os.path.join(fleet.out, 'run', 'logs'))}/", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nfleet interrupted: every process it started is stopped", file=sys.stderr)
        return 130
    if result is None:  # --plant-only
        return 0
    return 0 if result["failed"] == 0 else 1


sys.exit(main())
