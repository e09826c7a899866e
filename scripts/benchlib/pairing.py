"""8. Owner pairing (ICD 8): phase 2 and phase 3 of spaak-ecu against spaak-phone on the bus,
next to a crypto lower bound measured in the same run; 9. the module's SPAKE2+ verifier step
(`spaak-fuzz bench-spake2`) against a Python verifier written from RFC 9383 (spake2_ref).

Phase times run from the tap (the first NFC_Status frame with DevicePresent) to the first
SPAAK_Status frame with byte 7 = 2 (phase 2) or 3 (phase 3, from the second tap); kernel
timestamps of a sniffer. SPAAK_Status is cyclic (100 ms), so each phase time includes up to one
period of waiting for the next frame (half a period on average). The APDUs on 0x6B0/0x6B8 split
each phase into the module's turns (the tap or a response → its next command, the last
response → byte 7), the phone's turns (a command → its response) and the ISO-TP transfers.

The lower bound counts the elliptic-curve operations of each side from the code and prices
them with `openssl speed -seconds 1 ecdhp256 ecdsap256` run here, in the same run:

- module, phase 2 (SPAKE2PlusVerifier, OwnerPairingMachine.shareP): y·G; w0·M, w0·N, y·(X − w0·M),
  y·L (4 variable-base); X − w0·M, y·G + w0·N (2 additions); y is drawn by reduction, no point;
- phone, phase 2 (SPAKE2PlusProver, PhoneDevice): x·G; w0·M, w0·N, x·(Y − w0·N), w1·(Y − w0·N);
  2 additions; [K] → [J1] → [J] (VehicleTrust: 2 ECDSA verifications); scrypt of the password
  (N, r, p of the verifier, once per process: priced with hashlib.scrypt here);
- module, phase 3: the AUTH0 ephemeral key (k·G), AUTH1 signed by the vehicle identity key (1 ECDSA
  sign), the device's signature verified (1 ECDSA verification);
- phone, phase 3: its ephemeral key (k·G), the vehicle's signature verified under [K], its own
  signature (1 sign, 1 verification).

Prices: a variable-base multiplication = one ECDH derivation (`ecdhp256`), a fixed-base k·G = one
ECDSA signature (k·G and an inversion: an upper price for k·G alone), additions and point
validations 0. The ratio measured / lower bound is how far the whole (two processes, ISO-TP
at 8 bytes a frame, store commits, the event loops, SPAAK_Status's period, TCG) is from the
crypto the protocol needs.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import time

from spaaklib.process import Child

from . import pp01, spake2_ref
from .canbus import Module, Sniffer
from .common import (IFACE, Table, adopt, bin_path, env_json, human, median, ms, require_bins, run, scratch, skipped,
                     stop, tool)
from .plant import pki

TITLE = "8. Owner pairing (ICD 8): spaak-ecu ↔ spaak-phone, phases 2 and 3 vs the crypto lower bound"
TITLE_SPAKE = "9. SPAKE2+ verifier step (ICD 8.3 step 3): module (libcrypto) vs Python from RFC 9383"
SERIAL = pp01.SERIAL
SCRYPT = (1024, 8, 1)  # the cloud's --scrypt-n 1024 (as the bus tests and PP-01 section): N, r, p
NFC, STATUS, COMMAND, RESPONSE = 0x3B0, 0x3A8, 0x6B0, 0x6B8
K_CERT, DRM_UUID, VERIFIER = 0x20, 0x10, 0x40

#: Elliptic-curve work per phase and side, counted from the code (see the module docstring).
OPS = {
    (2, "module"): {"kG": 1, "kP": 4, "add": 2, "sign": 0, "verify": 0},
    (2, "phone"): {"kG": 1, "kP": 4, "add": 2, "sign": 0, "verify": 2},
    (3, "module"): {"kG": 1, "kP": 0, "add": 0, "sign": 1, "verify": 1},
    (3, "phone"): {"kG": 1, "kP": 0, "add": 0, "sign": 1, "verify": 1},
}


# --- prices -------------------------------------------------------------------------------------

def openssl_speed() -> dict:
    """Seconds per ECDH derivation, ECDSA sign and verify (P-256) from one `openssl speed` run."""
    done = run([tool("openssl"), "speed", "-seconds", "1", "ecdhp256", "ecdsap256"], timeout=180)
    text = done.stdout + done.stderr
    out = {}
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)", text)
    if m and float(m.group(1)) > 0 and float(m.group(2)) > 0:
        out["sign_s"], out["verify_s"] = 1 / float(m.group(1)), 1 / float(m.group(2))
    m = re.search(r"256 bits ecdh \(nistp256\)\s+[\d.]+s\s+([\d.]+)", text)
    if m and float(m.group(1)) > 0:
        out["ecdh_s"] = 1 / float(m.group(1))
    if len(out) != 3:
        raise RuntimeError(f"openssl speed: no P-256 figures in its output: {text.strip()[-300:]}")
    return out


def scrypt_seconds(repeats: int = 5) -> float:
    """Median hashlib.scrypt of the phone's derivation (80 bytes, the verifier's N, r, p)."""
    n, r, p = SCRYPT
    samples = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        hashlib.scrypt(b"0123456789012", salt=bytes([i]) * 16, n=n, r=r, p=p, dklen=80, maxmem=256 * r * n + (1 << 20))
        samples.append(time.perf_counter() - t0)
    return median(samples[1:])


def lower_bound(phase: int, side: str, price: dict) -> float:
    ops = OPS[(phase, side)]
    return (ops["kG"] * price["sign_s"] + ops["kP"] * price["ecdh_s"] + ops["sign"] * price["sign_s"]
            + ops["verify"] * price["verify_s"])


def ops_text(phase: int, side: str) -> str:
    ops = OPS[(phase, side)]
    words = [f"{ops['kG']} k·G", f"{ops['kP']} k·P"]
    if ops["add"]:
        words.append(f"{ops['add']} add")
    if ops["sign"]:
        words.append(f"{ops['sign']} sign")
    if ops["verify"]:
        words.append(f"{ops['verify']} verify")
    return ", ".join(w for w in words if not w.startswith("0 "))


# --- the rig ------------------------------------------------------------------------------------

def status_waiter(sniffer: Sniffer):
    def wait(predicate, timeout: float, what: str, start: int = 0):
        frame = sniffer.wait(lambda f: f[1] == STATUS and len(f[2]) == 8 and predicate(f[2]), timeout, start)
        if frame is None:
            raise RuntimeError(f"SPAAK_Status never showed {what} within {timeout:.0f} s")
        return frame
    return wait


def start_cloud(work: str, certs: str) -> tuple:
    control = os.path.join(work, "cloud.sock")
    n, r, p = SCRYPT
    cloud = Child("spaak-cloud", [bin_path("spaak-cloud"), "serve", "--pki", pki(), "--db", os.path.join(work, "cloud.sqlite"),
                                  "--control", control, "--ecu-certs", certs, "--tbm", "offline", "--scrypt-n", str(n),
                                  "--scrypt-r", str(r), "--scrypt-p", str(p)],
                  ready_fd=True, log_path=os.path.join(work, "cloud.log"), log_header=False)
    adopt(cloud.proc)
    cloud.wait_ready(timeout=30)
    return cloud, control


def ctl(control: str, *words: str) -> str:
    done = run([bin_path("spaak-cloud"), "ctl", control, *words], timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"spaak-cloud ctl {' '.join(words)}: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout.strip()


def provision(certs: str) -> tuple:
    """A module through the plant (eol-tester) and SP-02 + PP-01 ([K], drmUUID) once: (store, cloud db)."""
    template = pp01.provision(certs)
    work = scratch("pairing-setup")
    store = os.path.join(work, "store")
    shutil.copytree(template, store)
    sniffer = Sniffer(ids=[STATUS])
    cloud, control = start_cloud(work, certs)
    module = Module(serial=SERIAL, store=store)
    try:
        time.sleep(1.0)
        ctl(control, "tbm", "online")
        status_waiter(sniffer)(lambda s: s[2] & (K_CERT | DRM_UUID) == K_CERT | DRM_UUID and s[3] == 0, 120,
                               "[K] installed after PP-01")
    finally:
        module.stop()
        stop(cloud.proc)
        cloud.stop()
        sniffer.close()
    return store, os.path.join(work, "cloud.sqlite")


def one_run(store_template: str, db_template: str, certs: str, timeout: float) -> dict:
    """One window, phase 2 and phase 3 from copies of the provisioned store and database."""
    work = scratch("pairing")
    store = os.path.join(work, "store")
    shutil.copytree(store_template, store)
    for f in glob.glob(db_template + "*"):
        shutil.copy(f, os.path.join(work, os.path.basename(f).replace(os.path.basename(db_template), "cloud.sqlite")))
    sniffer = Sniffer(ids=[STATUS, NFC, COMMAND, RESPONSE])
    wait = status_waiter(sniffer)
    cloud, control = start_cloud(work, certs)
    module = Module(serial=SERIAL, store=store)
    phone_out = ""
    try:
        time.sleep(1.0)
        ctl(control, "tbm", "online")
        wait(lambda s: s[2] & K_CERT and s[3] == 0, 60, "[K] and no use case")
        mark = len(sniffer.frames)
        ctl(control, "push-verifier", SERIAL)
        wait(lambda s: s[2] & VERIFIER and s[3] == 0 and s[6] == 0, 60, "a verifier (PP-02)", start=mark)
        password = ctl(control, "password", SERIAL).split()[-1]
        mark = len(sniffer.frames)
        hu = run([bin_path("spaak-phone"), "hu-start", "--interface", IFACE, "--counter-file", os.path.join(work, "hu.counter")],
                 timeout=30)
        if hu.returncode != 0:
            raise RuntimeError(f"spaak-phone hu-start: {(hu.stderr or hu.stdout).strip()[:300]}")
        wait(lambda s: s[7] == 1, 10, "the pairing window open (byte 7 = 1)", start=mark)
        start = len(sniffer.frames)
        phone = run([bin_path("spaak-phone"), "pair", "--password", password, "--pki", pki(),
                     "--key", os.path.join(work, "phone.key"), "--phase", "both", "--interface", IFACE], timeout=timeout)
        phone_out = (phone.stdout + phone.stderr).strip()
        time.sleep(0.3)
    finally:
        module.stop()
        stop(cloud.proc)
        cloud.stop()
        sniffer.close()
    if phone.returncode != 0:
        raise RuntimeError(f"spaak-phone pair exited {phone.returncode}: {phone_out[-600:]}")
    return analyse(sniffer.frames[start:])


# --- analysis -----------------------------------------------------------------------------------

def messages(frames: list, ident: int) -> list:
    """ISO-TP messages on one id (flow control ignored): (first ts, last ts, length, first bytes)."""
    out, open_ = [], None
    for ts, i, data in frames:
        if i != ident or not data:
            continue
        kind = data[0] >> 4
        if kind == 0 and data[0] & 0x0F:
            out.append((ts, ts, data[0] & 0x0F, bytes(data[1:1 + (data[0] & 0x0F)])))
        elif kind == 1 and len(data) >= 2:
            length = ((data[0] & 0x0F) << 8) | data[1]
            open_ = [ts, ts, length, bytes(data[2:]), max(0, -(-(length - 6) // 7))]
        elif kind == 2 and open_:
            open_[1], open_[4] = ts, open_[4] - 1
            if open_[4] <= 0:
                out.append(tuple(open_[:4]))
                open_ = None
    return out


INS = {0xA4: "SELECT", 0x30: "REQUEST", 0x32: "VERIFY", 0xD4: "WRITE", 0xCA: "GET", 0x80: "AUTH0", 0x81: "AUTH1"}


def phase_split(tap: float, done: float, commands: list, responses: list) -> dict:
    """Module turns, phone turns and transfers between the tap and byte 7; ``turns`` names
    each module turn by the command it ends with (``→byte7`` for the last one)."""
    merged = sorted([(m[0], m[1], "cmd", m[3]) for m in commands if tap <= m[0] <= done]
                    + [(m[0], m[1], "resp", m[3]) for m in responses if tap <= m[0] <= done])
    out = {"module": 0.0, "phone": 0.0, "transfers": 0.0, "commands": sum(1 for m in merged if m[2] == "cmd"), "turns": []}
    previous = tap
    for first, last, kind, head in merged:
        gap = max(0.0, first - previous)
        out["module" if kind == "cmd" else "phone"] += gap
        if kind == "cmd":
            out["turns"].append((INS.get(head[1] if len(head) > 1 else -1, "?"), gap))
        out["transfers"] += last - first
        previous = last
    out["module"] += max(0.0, done - previous)
    out["turns"].append(("byte7", max(0.0, done - previous)))
    return out


def analyse(frames: list) -> dict:
    nfc = [(ts, d) for ts, i, d in frames if i == NFC and len(d) >= 3]
    status = [(ts, d) for ts, i, d in frames if i == STATUS and len(d) == 8]

    def first(items, predicate, after):
        return next((ts for ts, d in items if ts >= after and predicate(d)), None)

    tap1 = first(nfc, lambda d: d[2] & 1, 0.0)
    if tap1 is None:
        raise RuntimeError("no tap (NFC_Status with DevicePresent) on the bus")
    done2 = first(status, lambda d: d[7] == 2, tap1)
    removal = first(nfc, lambda d: not d[2] & 1, tap1)
    tap2 = first(nfc, lambda d: d[2] & 1, removal) if removal is not None else None
    done3 = first(status, lambda d: d[7] == 3, tap2) if tap2 is not None else None
    if done2 is None or done3 is None:
        raise RuntimeError(f"byte 7 did not reach {'2' if done2 is None else '3'} after its tap")
    commands, responses = messages(frames, COMMAND), messages(frames, RESPONSE)
    return {"phase2": done2 - tap1, "phase3": done3 - tap2, "split2": phase_split(tap1, done2, commands, responses),
            "split3": phase_split(tap2, done3, commands, responses),
            "frames2": sum(1 for ts, i, _ in frames if i in (COMMAND, RESPONSE) and tap1 <= ts <= done2),
            "frames3": sum(1 for ts, i, _ in frames if i in (COMMAND, RESPONSE) and tap2 <= ts <= done3)}


# --- SPAKE2+ verifier step ----------------------------------------------------------------------

def spake_peers(seconds: float) -> dict:
    """Verifier steps per second: the module's code (spaak-fuzz bench-spake2) and the two Python peers."""
    out = {}
    fuzz = bin_path("spaak-fuzz")
    if fuzz is not None:
        done = run([fuzz, "bench-spake2", "--seconds", str(seconds)], timeout=120)
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines and lines[-1].startswith("{"):
            out["module"] = json.loads(lines[-1])
        else:
            out["module_error"] = (done.stderr or done.stdout).strip()[:300] or f"exit {done.returncode}"
    for backend in ("openssl", "pure"):
        out[backend] = spake2_ref.timed(backend, seconds)
    return out


def spake_rows(table: Table, here: dict, host: dict) -> None:
    names = {"module": "module: SPAKE2PlusVerifier (libcrypto)", "openssl": "python: RFC 9383, cryptography/OpenSSL k·P",
             "pure": "python: RFC 9383, pure-Python P-256"}
    module_here = (here.get("module") or {}).get("ops_per_s")
    module_host = ((host or {}).get("module") or {}).get("ops_per_s")
    for key in ("module", "openssl", "pure"):
        h, o = here.get(key) or {}, (host or {}).get(key) or {}
        cells = [names[key], human(h.get("ops_per_s")), human(o.get("ops_per_s")) if host else None,
                 "" if key == "module" else _times(module_here, h.get("ops_per_s")),
                 ("" if key == "module" else _times(module_host, o.get("ops_per_s"))) if host else None,
                 "yes" if h.get("vector_ok") else ("NO" if h else "-")]
        table.add(*[c for c in cells if c is not None])


def _times(ours, peer) -> str:
    return f"×{ours / peer:.2f}" if ours and peer else "-"


def host(seconds: float = 1.0) -> dict:
    """Host part: the verifier step only (no bus), where TCG does not distort it."""
    result = spake_peers(seconds)
    table = Table(TITLE_SPAKE + " — host", ["implementation", "steps/s", "module ÷ peer", "RFC vector"])
    spake_rows(table, result, {})
    if "module_error" in result or "module" not in result:
        table.note(f"module: {result.get('module_error', 'spaak-fuzz not built (the lead builds .build/release)')}")
    step_note(table, result)
    table.note(f"{seconds:g} s of steps each after warm-ups; a step = X checked, y, Y = y·G + w0·N, Z, V, TT, "
               "K_main, confirmV (what the module does on shareP); module ÷ peer > 1: the module is faster")
    table.print()
    return result


def step_note(table: Table, result: dict, price: dict = None) -> None:
    """The module's step next to its crypto lower bound (1 k·G + 4 k·P at openssl speed's prices)."""
    rate = (result.get("module") or {}).get("ops_per_s")
    if not rate or tool("openssl") is None:
        return
    price = price or openssl_speed()
    bound = price["sign_s"] + 4 * price["ecdh_s"]
    table.note(f"the module's step takes {ms(1 / rate)} here; its lower bound (1 k·G + 4 k·P at openssl speed's prices: "
               f"ECDH {ms(price['ecdh_s'])}, sign {ms(price['sign_s'])}) is {ms(bound)}: ×{1 / rate / bound:.1f}")


def bench(repeats: int = 2, seconds: float = 1.0, timeout: float = 90.0) -> None:
    missing = require_bins("spaak-ecu", "spaak-pki", "spaak-cloud", "spaak-phone")
    if missing:
        return skipped(TITLE, missing)
    if tool("openssl") is None:
        return skipped(TITLE, "openssl not installed")
    certs = scratch("pairing-certs")
    store, db = provision(certs)
    runs, errors = [], []
    for _ in range(repeats):
        try:
            runs.append(one_run(store, db, certs, timeout))
        except Exception as error:  # a failed run is reported; the others still count
            errors.append(f"{type(error).__name__}: {error}")
    price = openssl_speed()
    scrypt_s = scrypt_seconds()
    table = Table(TITLE, ["phase", "measured", "module turns", "phone turns", "transfers", "APDUs (frames)",
                          "crypto lower bound", "measured ÷ bound"])
    for phase in (2, 3):
        bound_module, bound_phone = lower_bound(phase, "module", price), lower_bound(phase, "phone", price)
        if phase == 2:
            bound_phone += scrypt_s
        bound = bound_module + bound_phone
        if not runs:
            table.add(f"phase {phase}", "failed", "-", "-", "-", "-", ms(bound), "-")
            continue
        best = min(runs, key=lambda r: r[f"phase{phase}"])
        split = best[f"split{phase}"]
        times = "/".join(f"{r[f'phase{phase}'] * 1000:.0f}" for r in runs)
        table.add(f"phase {phase}", f"{ms(best[f'phase{phase}'])} ({times} ms)",
                  f"{ms(split['module'])} (÷ {ms(bound_module)} = {split['module'] / bound_module:.0f})",
                  f"{ms(split['phone'])} (÷ {ms(bound_phone)} = {split['phone'] / bound_phone:.0f})",
                  ms(split["transfers"]), f"{split['commands']} ({best[f'frames{phase}']})", ms(bound),
                  f"{best[f'phase{phase}'] / bound:.1f}")
    table.note("measured = tap (NFC_Status DevicePresent) → first SPAAK_Status with byte 7 = 2 / 3, kernel timestamps, "
               f"fastest of {len(runs)} (all in brackets); includes up to 100 ms of SPAAK_Status period")
    table.note("module turns = tap or response → its next command, + last response → byte 7; phone turns = "
               "command → response; (÷ its own lower bound = ratio)")
    table.note(f"lower bound, module: phase 2 {ops_text(2, 'module')}; phase 3 {ops_text(3, 'module')}. phone: phase 2 "
               f"{ops_text(2, 'phone')} + scrypt N={SCRYPT[0]} r={SCRYPT[1]} p={SCRYPT[2]} ({ms(scrypt_s)}, hashlib); "
               f"phase 3 {ops_text(3, 'phone')}")
    table.note(f"prices here (openssl speed, same run): k·P = ECDH {ms(price['ecdh_s'])}, k·G ≈ ECDSA sign "
               f"{ms(price['sign_s'])}, verify {ms(price['verify_s'])}; additions and point checks priced 0")
    for phase in (2, 3):
        if runs:
            best = min(runs, key=lambda r: r[f"phase{phase}"])
            turns = " ".join(f"→{name} {gap * 1000:.0f}" for name, gap in best[f"split{phase}"]["turns"])
            table.note(f"phase {phase}, the module's turns in ms (fastest run): {turns}")
    for error in errors:
        table.note(f"a run failed: {error[:300]}")
    table.print()

    here = spake_peers(seconds)
    h = env_json("SPAAK_BENCH_HOST") or {}
    spake_host = h.get("pairing") or {}
    header = ["implementation", "steps/s here"] + (["host"] if spake_host else []) + ["module ÷ peer here"] \
        + (["host"] if spake_host else []) + ["RFC vector"]
    table = Table(TITLE_SPAKE + (" — VM run" if os.path.exists("/sys/module/9pnet_virtio") else ""), header)
    spake_rows(table, here, spake_host)
    if "module_error" in here or "module" not in here:
        table.note(f"module: {here.get('module_error', 'spaak-fuzz not built (the lead builds .build/release)')}")
    step_note(table, here, price)
    table.note(f"{seconds:g} s of steps each after warm-ups; module ÷ peer > 1: the module is faster")
    table.print()
