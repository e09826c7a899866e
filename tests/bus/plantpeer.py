"""The plant's side of the bus tests (ICD 5): a udsoncan client of a module on a kernel ISO-TP
socket, small helpers that turn refusals into NRC values, the EOL tester as a command, and
the plant's whole work done directly over UDS (``provision_plant``) for the cloud tests.

UDS configuration and security access come from scripts/spaaklib (written from the ICD).
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from udsoncan.client import Client
from udsoncan.exceptions import NegativeResponseException

from spaaklib.signals import PLANT_DONE
from spaaklib.uds import (DEFAULT_PLANT_KEY, DID_CSR, DID_ECU_CERTIFICATE, DID_PROVISIONING_STATUS, DID_VIN,
                          RID_GENERATE_KEY, RID_LOCK_PLANT, ROOT_DIDS, client_config, kernel_connection)
from spaakbus import PEER_IFACE, ROOT, Module, bin_path

KEY = DEFAULT_PLANT_KEY
VIN = b"ZFA25000001234567"


def connection(txid=0x7A0):
    """A udsoncan connection to the module on ``txid`` / ``txid`` + 8 (frames padded with 0xCC)."""
    return kernel_connection(PEER_IFACE, txid)


def client(conn, key=KEY) -> Client:
    # P2 of 10 s on the client side: the emulated VM is slow; the module's own timing is
    # checked where it matters (NRC 0x78 test)
    return Client(conn, config=client_config(key, request_timeout=30, p2_timeout=10, p2_star_timeout=10))


def uds(txid: int = 0x7A0) -> Client:
    """A client on a new connection (use as a context manager)."""
    return client(connection(txid))


def nrc(fn, *args):
    """The NRC a client call gets, or None when it is answered positively."""
    try:
        fn(*args)
    except NegativeResponseException as e:
        return e.response.code
    return None


def read(c: Client, did: int):
    """The DID's bytes, or the NRC (an int) when the module refuses."""
    try:
        return bytes(c.read_data_by_identifier(did).service_data.values[did])
    except NegativeResponseException as e:
        return e.response.code


def raw(conn, request: bytes, timeout=5.0) -> bytes:
    conn.empty_rxqueue()
    conn.send(request)
    return conn.wait_frame(timeout=timeout, exception=True)


def unlock(c: Client):
    c.change_session(3)
    c.unlock_security_access(1)


def wait_answering(c: Client, timeout=10.0):
    """Waits until the module answers again (after ECUReset)."""
    end = time.monotonic() + timeout
    while True:
        try:
            c.tester_present()
            return
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def d120(txid=0x7A0) -> bytes:
    with client(connection(txid)) as c:
        return read(c, DID_PROVISIONING_STATUS)


# --- the PKI and the EOL tester ---------------------------------------------------------------

def eol_tester(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPAAK_BIN_DIR": os.path.dirname(bin_path("spaak-pki"))}
    return subprocess.run([str(ROOT / "scripts" / "eol-tester"), "--interface", PEER_IFACE, "--no-progress",
                           "--p2-timeout", "10", *args],
                          capture_output=True, text=True, timeout=600, env=env)


def pki_dir(path) -> str:
    subprocess.run([bin_path("spaak-pki"), "init", str(path)], check=True, capture_output=True)
    return str(path)


def der(directory: str, name: str) -> bytes:
    with open(os.path.join(directory, f"{name}.der"), "rb") as f:
        return f.read()


def provision(out_dir, pki, ids):
    """The EOL tester on the modules of request ids ``ids``; it must succeed."""
    done = eol_tester("--pki", pki, "--out", str(out_dir), "--modules", ",".join(f"{t:X}:{t + 8:X}" for t in ids))
    assert done.returncode == 0, done.stdout + done.stderr
    return done


# --- the plant's work over UDS, for the cloud tests --------------------------------------------

@dataclass
class Plant:
    """What the session's plant run left: the PKI, the ECU certificates, a provisioned store."""
    pki: str
    out: str
    store: str
    serial: str
    vin: str
    ecu_cert: x509.Certificate
    extra: dict = field(default_factory=dict)

    def der(self, name: str) -> bytes:
        return Path(self.pki, f"{name}.der").read_bytes()

    def cert(self, name: str) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der(name))


def provision_plant(base: Path, serial: str, vin: str, txid: int = 0x7A0) -> Plant:
    """The plant's work done directly over UDS (faster than a second Python process in the VM):
    a new PKI, RP-01 (roots in chain order, VIN), RP-02 (0xD200, CSR 0xD100 signed by
    ``spaak-pki sign-csrs``, certificate into 0xD101) and the plant lock (0xD201), on a module
    started here; the module is stopped and its store kept."""
    pki, out, store = base / "pki", base / "out", base / "store"
    out.mkdir(parents=True, exist_ok=True)
    for args in (["init", str(pki)], ["register", str(pki), serial]):
        done = subprocess.run([bin_path("spaak-pki"), *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"spaak-pki {args[0]}: {done.stdout}{done.stderr}"
    extra = ["--uds-request-id", f"{txid:X}"] if txid != 0x7A0 else []
    module = Module(*extra, serial=serial, store=str(store))
    try:
        with uds(txid) as c:
            unlock(c)
            for name, did in ROOT_DIDS.items():
                c.write_data_by_identifier(did, (pki / f"{name}.der").read_bytes())
            c.write_data_by_identifier(DID_VIN, vin.encode())
            c.start_routine(RID_GENERATE_KEY)
            csr = read(c, DID_CSR)
            assert isinstance(csr, bytes), f"D100: NRC {csr:#x}"
        (out / f"{serial}.csr.der").write_bytes(csr)
        done = subprocess.run([bin_path("spaak-pki"), "sign-csrs", str(pki), str(out / f"{serial}.csr.der"), "--out", str(out)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"spaak-pki sign-csrs: {done.stdout}{done.stderr}"
        cert_der = (out / f"{serial}.crt.der").read_bytes()
        with uds(txid) as c:
            unlock(c)
            c.write_data_by_identifier(DID_ECU_CERTIFICATE, cert_der)
            c.start_routine(RID_LOCK_PLANT)
            status = read(c, DID_PROVISIONING_STATUS)
        assert isinstance(status, bytes) and status[0] & PLANT_DONE == PLANT_DONE and status[1:7] == bytes(6), \
            f"plant provisioning incomplete: D120 {status!r}"
    finally:
        alive = module.alive
        module.stop(keep_store=True)
    assert alive, "spaak-ecu died during plant provisioning:\n" + "\n".join(module.lines[-40:])
    return Plant(str(pki), str(out), str(store), serial, vin, x509.load_der_x509_certificate(cert_der))
