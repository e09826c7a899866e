"""Command line of the EOL tester (scripts/eol-tester)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from spaaklib.uds import DEFAULT_PLANT_KEY_HEX, kernel_isotp_available, parse_plant_key

from . import discovery
from .model import STEPS, ModuleResult, parse_module_list
from .pki import PKI, ROOTS, PKIError, find_spaak_pki
from .provision import Options, Provisioner
from .report import ProgressBar, render_summary, render_table
from .uds import DEFAULT_P2_TIMEOUT
from .vin import DEFAULT_VIN_PREFIX, derive_vin, parse_vin_assignments, validate_prefix

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eol-tester",
        description="SpaaK end-of-line tester: installs the root certificates and the VIN (RP-01), "
                    "has each module generate its ECU identity key pair and CSR, sends the CSRs to the "
                    "PKI as one batch (RP-02), writes the certificates back, locks plant provisioning "
                    "and confirms through DID 0xD120. Modules already provisioned are reported, not "
                    "touched. Exit status: 0 all modules done, 1 a module failed, 2 set-up error.")
    p.add_argument("--interface", default=os.environ.get("SPAAK_IFACE", "vcan0"), help="SocketCAN interface (vcan0)")
    p.add_argument("--pki", required=True, metavar="DIR",
                   help="spaak-pki hierarchy; created with 'spaak-pki init' when it has no manifest.json")
    p.add_argument("--out", required=True, metavar="DIR", help="where <serial>.csr.pem and <serial>.crt.pem/.der go")
    p.add_argument("--modules", metavar="REQ:RESP,...",
                   help="physical id pairs in hex, e.g. 7A0:7A8,7B0:7B8 (default: discovery on 0x7DF)")
    p.add_argument("--discover-timeout", type=float, default=1.0, metavar="S",
                   help="how long discovery listens for answers (1.0 s)")
    p.add_argument("--vin-prefix", default=DEFAULT_VIN_PREFIX, metavar="PREFIX11",
                   help=f"first 11 VIN characters for derived VINs; position 9 becomes the check digit "
                        f"({DEFAULT_VIN_PREFIX})")
    p.add_argument("--vin", action="append", default=[], metavar="SERIAL=VIN", help="VIN for one module (repeatable)")
    p.add_argument("--vin-file", metavar="FILE", help="lines 'SERIAL VIN'; modules not listed get a derived VIN")
    p.add_argument("--plant-key", default=DEFAULT_PLANT_KEY_HEX, metavar="HEX", help="K_plant, 32 hex digits")
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="modules worked on at once (1)")
    p.add_argument("--spaak-pki", metavar="PATH", help="spaak-pki binary (default: the built one)")
    p.add_argument("--no-lock", action="store_true", help="leave plant provisioning unlocked (no 0xD201)")
    p.add_argument("--no-register", action="store_true",
                   help="do not register the serials with the PKI (it must know them already)")
    p.add_argument("--transport", choices=("auto", "kernel", "python"), default="auto",
                   help="ISO-TP: kernel sockets, or python-can with can-isotp (auto: kernel if available)")
    p.add_argument("--p2-timeout", type=float, default=DEFAULT_P2_TIMEOUT, metavar="S",
                   help=f"how long to wait for a module's first answer ({DEFAULT_P2_TIMEOUT:g} s); "
                        "certificate writes, key generation and the lock, which the module may answer "
                        "with NRC 0x78, and every wait after NRC 0x78 get P2* = 10 s")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="tries again after a timeout, busy (0x21) or lost session (0x7F, 0x33), "
                        "up to N times per request (2); never after a wrong key")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="udsoncan and ISO-TP logs on stderr")
    return p


def vin_source(args) -> "callable":
    """serial -> VIN: --vin, then --vin-file, else derived from the serial."""
    prefix = validate_prefix(args.vin_prefix)
    assigned = {}
    if args.vin_file:
        with open(args.vin_file, encoding="utf-8") as f:
            assigned.update(parse_vin_assignments(f))
    assigned.update(parse_vin_assignments(args.vin))
    return lambda serial: assigned.get(serial) or derive_vin(serial, prefix)


def fail_setup(message: str) -> int:
    print(f"eol-tester: {message}", file=sys.stderr)
    return EXIT_SETUP


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(name)s %(message)s")
    try:
        plant_key = parse_plant_key(args.plant_key)
        vin_for = vin_source(args)
        addresses = parse_module_list(args.modules) if args.modules else None
    except (ValueError, OSError) as error:
        return fail_setup(str(error))
    if args.parallel < 1:
        return fail_setup("--parallel must be at least 1")
    if args.retries < 0:
        return fail_setup("--retries must be 0 or more")
    if not 0 < args.p2_timeout <= 60:
        return fail_setup("--p2-timeout must be in (0, 60] seconds")
    transport = args.transport
    if transport == "auto":
        transport = "kernel" if kernel_isotp_available() else "python"

    started = time.monotonic()
    try:
        pki = PKI(args.pki, find_spaak_pki(args.spaak_pki))
        if pki.ensure():
            print(f"PKI hierarchy created in {pki.directory}", file=sys.stderr)
        roots = {name: pki.root_der(name) for name, _ in ROOTS}
        os.makedirs(args.out, exist_ok=True)
    except (PKIError, OSError) as error:
        return fail_setup(str(error))

    if addresses is None:
        try:
            found = discovery.discover(args.interface, timeout=args.discover_timeout)
        except OSError as error:
            return fail_setup(f"discovery on {args.interface}: {error}")
        if not found:
            return fail_setup(f"no module answered 22 F18C on 0x{discovery.FUNCTIONAL_ID:03X} ({args.interface})")
        results = [ModuleResult(address, serial=serial) for address, serial in found]
        print(f"discovered {len(results)} module(s): " + ", ".join(f"{r.serial} on {r.address}" for r in results),
              file=sys.stderr)
    else:
        results = [ModuleResult(address) for address in addresses]

    options = Options(interface=args.interface, out_dir=os.path.abspath(args.out), plant_key=plant_key,
                      vin_for=vin_for, parallel=args.parallel, lock=not args.no_lock, transport=transport,
                      p2_timeout=args.p2_timeout, retries=args.retries)
    progress = ProgressBar(len(results) * len(STEPS), enabled=not args.no_progress)
    provisioner = Provisioner(options, pki, progress)
    provisioner.roots = roots

    def register(serials):
        if not args.no_register:
            line = pki.register(serials)
            print(f"PKI: {line}", file=sys.stderr)

    try:
        provisioner.run(results, register)
    except PKIError as error:
        return fail_setup(str(error))
    progress.finish()
    elapsed = time.monotonic() - started

    print(render_table(results))
    print(render_summary(results, elapsed, args.parallel))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"elapsed_s": round(elapsed, 3), "parallel": args.parallel, "transport": transport,
                       "modules": [r.as_dict() for r in results]}, f, indent=2)
    return EXIT_FAILED if any(r.failed or r.outcome is None for r in results) else EXIT_OK
