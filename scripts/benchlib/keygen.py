"""4. Key generation + CSR inside the module (routine 0xD200 over UDS, minus the UDS round
trip measured with 0x3E) against openssl (`ecparam -genkey` + `req -new`, two processes)
and the same work in-process with Python's cryptography (OpenSSL, no process start-up).

The host part (no bus) times the peers where TCG does not distort crypto; the VM part gets
those numbers through $SPAAK_BENCH_HOST and estimates the module's native time from the
TCG slowdown of the in-process peer.
"""
from __future__ import annotations

import os
import re
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .common import Table, env_json, median, ms, ratio, require_bins, run, save_result, scratch, skipped, timed, tool

TITLE = "4. ECU identity key pair + CSR (P-256, ecdsa-with-SHA256)"
SERIAL = "SPK0000000001"


def openssl_keygen_csr(repeats: int) -> float:
    """Median seconds of `openssl ecparam -genkey` + `openssl req -new` (DER CSR)."""
    folder = scratch("openssl")
    key, csr = os.path.join(folder, "k.pem"), os.path.join(folder, "c.der")
    openssl = tool("openssl")
    samples = []
    for _ in range(repeats):
        t = timed([openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
        t += timed([openssl, "req", "-new", "-key", key, "-subj", f"/CN={SERIAL}", "-sha256", "-outform", "DER", "-out", csr])
        samples.append(t)
    return median(samples)


def python_keygen_csr(repeats: int) -> float:
    """Median seconds of the same work in-process (cryptography, backed by OpenSSL)."""
    samples = []
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERIAL)])
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        key = ec.generate_private_key(ec.SECP256R1())
        x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
        samples.append(time.perf_counter() - t0)
    return median(samples[1:])


def openssl_speed() -> tuple:
    """(sign s, verify s) of one ECDSA P-256 operation, from `openssl speed ecdsap256`."""
    done = run([tool("openssl"), "speed", "-seconds", "1", "ecdsap256"], timeout=120)
    for line in (done.stdout + done.stderr).splitlines():
        m = re.search(r"256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)", line)
        if m and float(m.group(1)) > 0 and float(m.group(2)) > 0:
            return 1 / float(m.group(1)), 1 / float(m.group(2))
    return float("nan"), float("nan")


def peers(repeats: int) -> dict:
    sign, verify = openssl_speed()
    return {"openssl_s": openssl_keygen_csr(repeats), "python_s": python_keygen_csr(repeats), "sign_s": sign,
            "verify_s": verify}


def host(repeats: int = 10) -> dict:
    """Host part: the peers only (the module needs a bus)."""
    if tool("openssl") is None:
        skipped(TITLE + " — host", "openssl not installed")
        return {}
    p = peers(repeats)
    table = Table(TITLE + " — host (no bus: peers only)", ["measure", "host"])
    table.add("openssl ecparam -genkey + req -new (2 processes)", ms(p["openssl_s"]))
    table.add("cryptography keygen + CSR (in-process)", ms(p["python_s"]))
    table.add("ECDSA P-256 sign / verify (openssl speed)", f"{ms(p['sign_s'])} / {ms(p['verify_s'])}")
    table.print()
    return p


def module_keygen(repeats: int) -> dict:
    """Median D200 time, median 3E round trip, on a fresh module (unlocked)."""
    from .canbus import Module, UDS
    module = Module(serial=SERIAL)
    try:
        with UDS(0x7A0, 0x7A8, timeout=10) as uds:
            uds.unlock()
            rtt = []
            for _ in range(30):
                t0 = time.perf_counter()
                uds.positive(b"\x3E\x00")
                rtt.append(time.perf_counter() - t0)
            gen = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                answer = uds.positive(b"\x31\x01\xD2\x00", timeout=30)
                gen.append(time.perf_counter() - t0)
                if answer[:4] != b"\x71\x01\xD2\x00":
                    raise RuntimeError(f"0xD200 answered {answer.hex()}")
                uds.positive(b"\x3E\x00")
    finally:
        module.stop()
    return {"d200_s": median(gen), "rtt_s": median(rtt), "module_s": median(gen) - median(rtt)}


def bench(repeats: int = 10) -> None:
    missing = require_bins("spaak-ecu")
    if missing:
        return skipped(TITLE, missing)
    m = module_keygen(repeats)
    p = peers(repeats)
    save_result("keygen", {**m, **p})
    h = env_json("SPAAK_BENCH_HOST") or {}
    hk = h.get("keygen") or {}
    table = Table(TITLE + " — VM run" if os.path.exists("/sys/module/9pnet_virtio") else TITLE,
                  ["measure", "here", "host", "module/peer"])
    table.add("module 0xD200 over UDS", ms(m["d200_s"]), "-", "")
    table.add("UDS round trip (3E 00)", ms(m["rtt_s"]), "-", "")
    table.add("module keygen + CSR + store (D200 − 3E)", ms(m["module_s"]), "-", "")
    table.add("openssl ecparam -genkey + req -new (2 processes)", ms(p["openssl_s"]), ms(hk.get("openssl_s")),
              ratio(m["module_s"], p["openssl_s"]))
    table.add("cryptography keygen + CSR (in-process)", ms(p["python_s"]), ms(hk.get("python_s")),
              ratio(m["module_s"], p["python_s"]))
    table.add("ECDSA P-256 sign (openssl speed)", ms(p["sign_s"]), ms(hk.get("sign_s")), "")
    table.add("ECDSA P-256 verify (openssl speed)", ms(p["verify_s"]), ms(hk.get("verify_s")), "")
    if hk.get("python_s") and p["python_s"]:
        factor = p["python_s"] / hk["python_s"]
        table.note(f"TCG slowdown of in-process crypto here vs host: ×{factor:.1f} → module keygen + CSR natively "
                   f"≈ {ms(m['module_s'] / factor)} (estimate)")
    table.note(f"median of {repeats}; module/peer = time ratio (≤ 1: the module is as fast or faster); the module's "
               "time includes its atomic store commit")
    table.print()
