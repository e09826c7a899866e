"""The plant for the fleet: N modules provisioned for RP-01 and RP-02 by the EOL tester's
code (scripts/eol: roots, VIN, key pair and CSR, the CSRs to the PKI in one batch,
certificates, plant lock, D120 confirmed), and its cache.

Each module is provisioned on its own vehicle bus with the ICD default UDS ids (0x7A0/0x7A8):
no two modules share a bus, so no plant-line ids are needed, and the EOL tester's phases
work on ``--plant-batch`` modules at once (one udsoncan client each, kernel ISO-TP, in
this process: a new Python per bus would cost half a minute each in the emulated VM).

The result is kept in ``<out>/plant/`` (the PKI, the certificates, each module's store as
it was right after the plant lock, and manifest.json) and reused by later runs that need at
most as many vehicles with the same PKI: each run copies the pristine stores into its own
run folder, so the story can be run again and again (scripts/bench does) without the
plant's ~20 s of crypto per module in the VM.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

from eol.model import ModuleAddress, ModuleResult
from eol.pki import PKI, ROOTS, PKIError
from eol.provision import Options, Provisioner
from eol.report import ProgressBar
from eol.uds import ModuleClient
from eol.vin import DEFAULT_VIN_PREFIX, derive_vin
from spaaklib.uds import DEFAULT_PLANT_KEY_HEX, kernel_isotp_available, parse_plant_key

from .procs import FleetError

CACHE_VERSION = 1
UDS_REQUEST, UDS_RESPONSE = 0x7A0, 0x7A8


def serial_of(number: int) -> str:
    return f"SPK{number:010d}"


def counter_file(store: str) -> str:
    """spaak-ecu's monotonic counter file: ``.<store name>.counter`` beside the store folder."""
    return os.path.join(os.path.dirname(store), f".{os.path.basename(store)}.counter")


def pki_fingerprint(pki_dir: str) -> str:
    try:
        with open(os.path.join(pki_dir, "manifest.json"), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return ""


class Plant:
    """``<out>/plant``: the fleet's PKI, certificates and pristine stores."""

    def __init__(self, out: str):
        self.dir = os.path.join(out, "plant")
        self.pki = os.path.join(self.dir, "pki")
        self.certs = os.path.join(self.dir, "certs")
        self.stores = os.path.join(self.dir, "stores")
        self.manifest = os.path.join(self.dir, "manifest.json")

    def cached(self, vehicles: int) -> int:
        """The number of vehicles in a usable cache (>= ``vehicles``), else 0."""
        try:
            with open(self.manifest, encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError):
            return 0
        n = manifest.get("vehicles", 0)
        if manifest.get("version") != CACHE_VERSION or n < vehicles or manifest.get("pki") != pki_fingerprint(self.pki):
            return 0
        for k in range(1, vehicles + 1):
            store = os.path.join(self.stores, f"store-{k}")
            cert = self.cert(k)
            if not (os.path.isdir(store) and os.path.exists(counter_file(store)) and os.path.exists(cert)):
                return 0
        return n

    def cert(self, number: int) -> str:
        return os.path.join(self.certs, f"{serial_of(number)}.crt.der")

    def reset(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in (self.pki, self.certs, self.stores):
            os.makedirs(d)

    def restore(self, number: int, store: str) -> None:
        """The pristine store of vehicle ``number`` copied to ``store`` (and its counter file)."""
        src = os.path.join(self.stores, f"store-{number}")
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(src, store)
        shutil.copy2(counter_file(src), counter_file(store))

    def keep(self, number: int, store: str) -> None:
        """The store of vehicle ``number`` (its module stopped) kept as the pristine one."""
        dst = os.path.join(self.stores, f"store-{number}")
        shutil.copytree(store, dst, dirs_exist_ok=True)
        shutil.copy2(counter_file(store), counter_file(dst))

    def seal(self, vehicles: int, elapsed_s: float, parallel: int) -> None:
        """Writes the manifest (last: a cache without it is not used)."""
        with open(self.manifest, "w", encoding="utf-8") as f:
            json.dump({"version": CACHE_VERSION, "vehicles": vehicles, "pki": pki_fingerprint(self.pki),
                       "serials": [serial_of(k) for k in range(1, vehicles + 1)], "elapsed_s": round(elapsed_s, 1),
                       "parallel": parallel, "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, f, indent=2)


def provision(plant: Plant, vehicles: list, spaak_pki: str, parallel: int, say,
              plant_key_hex: str = DEFAULT_PLANT_KEY_HEX) -> list:
    """RP-01 and RP-02 for every vehicle's module (running on its own bus, UDS 0x7A0/0x7A8);
    the ModuleResults. FleetError when the PKI cannot be set up; a failed module is in its
    result (the caller decides)."""
    plant_key = parse_plant_key(plant_key_hex)
    transport = "kernel" if kernel_isotp_available() else "python"
    try:
        pki = PKI(plant.pki, spaak_pki)
        if pki.ensure():
            say(f"PKI made in {os.path.relpath(plant.pki)} (spaak-pki init)")
        roots = {name: pki.root_der(name) for name, _ in ROOTS}
    except PKIError as error:
        raise FleetError(str(error)) from None
    iface = {v.serial: v.iface for v in vehicles}
    address = ModuleAddress(UDS_REQUEST, UDS_RESPONSE)
    options = Options(interface="", out_dir=os.path.abspath(plant.certs), plant_key=plant_key,
                      vin_for=lambda serial: derive_vin(serial, DEFAULT_VIN_PREFIX), parallel=parallel,
                      transport=transport, p2_timeout=10.0)

    def client(result):
        return ModuleClient.on_bus(iface[result.serial], result.address, plant_key, transport, options.p2_timeout)

    provisioner = Provisioner(options, pki, ProgressBar(1, enabled=False), client_factory=client)
    provisioner.roots = roots
    results = [ModuleResult(address, serial=v.serial) for v in vehicles]

    def register(serials):
        say(f"PKI: {pki.register(serials)}")
    try:
        provisioner.run(results, register)
    except PKIError as error:
        raise FleetError(f"the PKI failed during the plant: {error}") from None
    return results
