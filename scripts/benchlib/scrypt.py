"""7. SPAKE2+ verifier generation (ICD 7.6): scrypt N=32768 r=8 p=1 (80 bytes) and the
w0 / L derivation, by `spaak-cloud bench-scrypt` and by Python (hashlib.scrypt +
cryptography) in the same run, on the host (no bus needed)."""
from __future__ import annotations

import hashlib
import json
import os
import time

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .common import Table, bin_path, median, ms, ratio, run, skipped

TITLE = "7. Verifier generation: scrypt N=32768 r=8 p=1 + w0/L (ICD 7.6)"
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def python_verifier(password: bytes, salt: bytes, n: int, r: int, p: int) -> tuple:
    """(w0, L) as ICD 7.6 derives them."""
    z = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=80, maxmem=256 * r * n + (1 << 20))
    w0 = int.from_bytes(z[:40], "big") % (P256_N - 1) + 1
    w1 = int.from_bytes(z[40:], "big") % (P256_N - 1) + 1
    point = ec.derive_private_key(w1, ec.SECP256R1()).public_key()
    return w0.to_bytes(32, "big"), point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def python_times(n: int, r: int, p: int, iterations: int) -> list:
    python_verifier(b"01234567", os.urandom(16), n, r, p)
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        python_verifier(b"01234567", os.urandom(16), n, r, p)
        samples.append(time.perf_counter() - t0)
    return samples


def bench(n: int = 32768, r: int = 8, p: int = 1, iterations: int = 5) -> None:
    cloud = bin_path("spaak-cloud")
    if cloud is None:
        return skipped(TITLE, "not built: spaak-cloud (the lead builds .build/release)")
    # Known answer first (the ICD's vector): both sides must compute the same thing.
    w0, point = python_verifier(b"0123456789012", bytes(range(16)), 4096, 8, 1)
    vector_ok = (w0.hex() == "b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b"
                 and point.hex().startswith("0438186240a99f81"))
    done = run([cloud, "bench-scrypt", "--n", str(n), "--r", str(r), "--p", str(p), "--iterations", str(iterations),
                "--json"], timeout=600)
    if done.returncode != 0:
        return skipped(TITLE, f"spaak-cloud bench-scrypt failed: {(done.stderr or done.stdout).strip()[:300]}")
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    peer = python_times(n, r, p, iterations)
    table = Table(TITLE, ["implementation", "min", "median", "spaak/python"])
    table.add("spaak-cloud bench-scrypt (swift-crypto)", ms(ours["min_ms"] / 1000), ms(ours["median_ms"] / 1000),
              ratio(ours["median_ms"] / 1000, median(peer)))
    table.add("python hashlib.scrypt + cryptography", ms(min(peer)), ms(median(peer)), "1.00")
    table.note(f"{iterations} timed runs each after one warm-up; ratio = time (≤ 1: spaak-cloud as fast or faster); "
               f"ICD 7.6 test vector reproduced by the python peer: {'yes' if vector_ok else 'NO'}")
    table.print()
