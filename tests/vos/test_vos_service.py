"""``spaak-cloud vos`` twice on one PostgreSQL (scripts/pgtemp), a Python WebSocket client as
the TBM (GSDP, design of issue 12): hello -> welcome; a push-verifier issued on instance 1
for a serial whose TBM is connected to instance 2 arrives there (a binary message, ICD 7
type TLV 01 00 01 0A); the TBM acks it (``delivered``) and the module's answer, a signed
Spake2VerifierStatus 0x0B echoing the push's transaction id (written here from ICD 7.1), removes
it from the outbox; a second push is delivered but not answered; instance 2 killed (SIGKILL),
the TBM reconnects to instance 1 and gets the unanswered push again, not the answered one.

No CAN bus. Needs the pip package ``websockets`` and Debian's ``postgresql`` (scripts/pgtemp);
``SPAAK_TEST_POSTGRES_URL`` names a server to use instead; ``SPAAK_TEST_POSTGRES=0`` skips.
Binaries: $SPAAK_BIN_DIR, else .build/release, else .build/debug.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from spaaklib.process import Child, find_binary  # noqa: E402

websockets = pytest.importorskip("websockets", reason="pip package websockets (scripts/requirements.txt)")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SERIAL = "SPK0000000777"
GSDP_LINE = re.compile(r"GSDP on (ws://\S+)")


def binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        pytest.fail(f"{name} is not built: swift build", pytrace=False)
    return path


def run(*args, timeout=120) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[0]} {args[1]} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def ecu_key():
    """The ECU identity key of SERIAL (signs the module's answers)."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def pki(tmp_path_factory, ecu_key):
    """A PKI with SERIAL's ECU identity certificate in certs/ (as the plant leaves it)."""
    base = tmp_path_factory.mktemp("vos-pki")
    pki_tool = binary("spaak-pki")
    run(pki_tool, "init", base / "pki")
    run(pki_tool, "register", base / "pki", SERIAL)
    key = ecu_key
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERIAL)])).sign(key, hashes.SHA256()))
    (base / f"{SERIAL}.csr.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    run(pki_tool, "sign-csrs", base / "pki", base / f"{SERIAL}.csr.pem", "--out", base / "certs")
    return base


@pytest.fixture(scope="module")
def database():
    """A PostgreSQL URL: SPAAK_TEST_POSTGRES_URL, else a throw-away cluster of scripts/pgtemp."""
    if os.environ.get("SPAAK_TEST_POSTGRES") == "0":
        pytest.skip("SPAAK_TEST_POSTGRES=0")
    if os.environ.get("SPAAK_TEST_POSTGRES_URL"):
        yield os.environ["SPAAK_TEST_POSTGRES_URL"]
        return
    # Directly under /tmp: pytest's own folders are closed to the user `postgres` (pgtemp as root).
    folder = tempfile.mkdtemp(prefix="spaak-vos-pg-")
    done = subprocess.run([ROOT / "scripts" / "pgtemp", "start", folder], capture_output=True, text=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(f"scripts/pgtemp start failed ({done.returncode}):\n{done.stdout}{done.stderr}", pytrace=False)
    yield lines[-1].strip()
    subprocess.run([ROOT / "scripts" / "pgtemp", "stop", folder], capture_output=True, timeout=120)
    shutil.rmtree(folder, ignore_errors=True)


class VOS:
    """One ``spaak-cloud vos`` instance: its GSDP URL and control socket."""

    def __init__(self, name: str, pki: Path, database: str, folder: Path):
        self.name, self.control = name, str(folder / f"{name}.sock")
        self.child = Child(f"spaak-cloud vos {name}", [
            binary("spaak-cloud"), "vos", "--pki", pki / "pki", "--database", database, "--instance", name,
            "--gsdp", "127.0.0.1:0", "--control", self.control, "--ecu-certs", pki / "certs",
            "--trace", folder / f"{name}.jsonl", "--scrypt-n", "1024"], ready_fd=True,
            log_path=str(folder / f"{name}.log"), cwd=str(folder))
        self.child.wait_ready(120)
        self.url = GSDP_LINE.search(self.child.wait_for("GSDP on ws://", 5)).group(1)

    def ctl(self, *command: str) -> str:
        return run(binary("spaak-cloud"), "ctl", self.control, *command, timeout=30)

    def stats(self) -> dict:
        return json.loads(self.ctl("stats").strip().splitlines()[-1])


async def hello(url: str):
    """A TBM's connection to `url` after hello/welcome; returns (connection, welcome)."""
    connection = await websockets.connect(url, open_timeout=30)
    await connection.send(json.dumps({"hello": {"tbm": "tbm-test", "serials": [SERIAL]}}))
    welcome = json.loads(await asyncio.wait_for(connection.recv(), 30))
    return connection, welcome


async def next_binary(connection, timeout: float = 30.0) -> bytes:
    while True:
        message = await asyncio.wait_for(connection.recv(), timeout)
        if isinstance(message, bytes):
            return message


async def next_push(connection, timeout: float = 30.0) -> bytes:
    """The next Spake2VerifierProvisioning (type TLV 01 00 01 0A); answers (0x06) are skipped."""
    while True:
        message = await next_binary(connection, timeout)
        if message[:4] == bytes([0x01, 0x00, 0x01, 0x0A]):
            return message


def ack(message: bytes) -> str:
    return json.dumps({"c2v": hashlib.sha256(message).hexdigest(), "outcome": "delivered"})


def tlvs(message: bytes) -> dict[int, bytes]:
    """The TLVs of an ICD 7.1 message: tag (1), length (2, big-endian), value."""
    fields, at = {}, 0
    while at < len(message):
        tag, length = message[at], int.from_bytes(message[at + 1:at + 3], "big")
        fields[tag] = message[at + 3:at + 3 + length]
        at += 3 + length
    assert at == len(message), "truncated TLV"
    return fields


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + len(value).to_bytes(2, "big") + value


def verifier_status(push: bytes, counter: int, key) -> bytes:
    """The module's answer to a PP-02 push (ICD 7.6): Spake2VerifierStatus 0x0B, status 0,
    echoing the push's transaction id, signed with the ECU identity key (ICD 7.3)."""
    body = (tlv(0x01, b"\x0b") + tlv(0x02, b"\x01") + tlv(0x03, SERIAL.encode()) + tlv(0x05, tlvs(push)[0x05])
            + tlv(0x06, counter.to_bytes(4, "big")) + tlv(0x07, b"\x04") + tlv(0x13, b"\x00"))
    return body + tlv(0xFF, key.sign(body, ec.ECDSA(hashes.SHA256())))


def test_push_crosses_instances_and_survives_a_killed_instance(pki, ecu_key, database, tmp_path):
    one = VOS("vos-1", pki, database, tmp_path)
    two = VOS("vos-2", pki, database, tmp_path)
    try:
        asyncio.run(story(one, two, ecu_key))
    finally:
        for vos in (one, two):
            vos.child.stop()


async def story(one: VOS, two: VOS, key) -> None:
    connection, welcome = await hello(two.url)
    assert welcome == {"welcome": {"instance": "vos-2"}}
    # Issued on vos-1, the TBM is on vos-2: through the outbox and NOTIFY.
    reply = await asyncio.to_thread(one.ctl, "push-verifier", SERIAL)
    assert "queued for SPK0000000777 (connected to another instance" in reply, reply
    first = await next_push(connection)
    await connection.send(ack(first))
    for _ in range(50):
        if (await asyncio.to_thread(two.stats))["outbox_sent"] == 1:
            break
        await asyncio.sleep(0.1)
    assert (await asyncio.to_thread(two.stats))["outbox_sent"] == 1
    # The module answers it: the push is done.
    await connection.send(verifier_status(first, 1, key))
    completion = await next_binary(connection)
    assert tlvs(completion)[0x01] == b"\x06" and tlvs(completion)[0x05] == tlvs(first)[0x05], completion.hex()
    # A second push, delivered but not answered (the module lost it); then vos-2 dies.
    await asyncio.to_thread(one.ctl, "push-verifier", SERIAL)
    second = await next_push(connection)
    assert second != first
    await connection.send(ack(second))
    two.child.kill()
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(connection.recv(), 30)
    # The TBM reconnects to vos-1: the unanswered push comes again, the answered one does not.
    connection, welcome = await hello(one.url)
    assert welcome == {"welcome": {"instance": "vos-1"}}
    again = await next_push(connection)
    assert again == second
    await connection.send(ack(again))
    await connection.send(verifier_status(again, 2, key))
    completion = await next_binary(connection)
    assert tlvs(completion)[0x01] == b"\x06", completion.hex()
    with pytest.raises(asyncio.TimeoutError):
        await next_push(connection, timeout=2)
    await connection.close()
    stats = await asyncio.to_thread(one.stats)
    assert stats["instance"] == "vos-1" and stats["pushes"] == 2 and stats["outbox_sent"] == 1, stats
