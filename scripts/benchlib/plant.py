"""Just enough plant provisioning for the benchmarks: a PKI made by spaak-pki, the five
root certificates written over UDS, key generation (0xD200)."""
from __future__ import annotations

import os

from .canbus import UDS
from .common import bin_path, run, scratch

#: (file stem, DID) in the order KeyM accepts them (J before the ones it signs, Z1 before ZZ2).
ROOTS = (("J", 0xD110), ("J1", 0xD111), ("J_PhysicalKey", 0xD112), ("Z1", 0xD113), ("ZZ2", 0xD114))

_pki_dir = None


def pki() -> str:
    """One PKI hierarchy per run (spaak-pki init), shared by the sections."""
    global _pki_dir
    if _pki_dir is None:
        path = os.path.join(scratch("pki"), "pki")
        done = run([bin_path("spaak-pki"), "init", path], timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"spaak-pki init: {(done.stderr or done.stdout).strip()[:300]}")
        _pki_dir = path
    return _pki_dir


def install_roots(uds: UDS) -> None:
    """Extended session, unlock, and the five roots (RP-01)."""
    uds.unlock()
    for stem, did in ROOTS:
        with open(os.path.join(pki(), f"{stem}.der"), "rb") as f:
            uds.positive(b"\x2E" + did.to_bytes(2, "big") + f.read(), timeout=10)


def generate_identity(uds: UDS) -> bytes:
    """Routine 0xD200 (unlocked); its final answer."""
    return uds.positive(b"\x31\x01\xD2\x00", timeout=30)
