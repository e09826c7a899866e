"""Helpers for the cloud bus tests (tests/bus/test_cloud.py): a passive recorder of the bus
(SPAAK_Status frames, ISO-TP messages on 0x6A0/0x6A8 reassembled here), an independent
parser of the ICD 7.1 TLV encoding, a running ``spaak-cloud serve`` with its control socket
and trace, and a small UDS client.

Written from the ICD alone: nothing here imports or mirrors the project's Swift code.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import can
import isotp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from spaakbus import PEER_IFACE, bin_path
from spaaklib.process import Child

V2C_ID, C2V_ID, STATUS_ID, TBM_ID = 0x6A0, 0x6A8, 0x3A8, 0x3A0


# --- ICD 7.1 encoding ---------------------------------------------------------------------

FIXED_SIZES = {0x01: 1, 0x02: 1, 0x04: 17, 0x05: 16, 0x06: 4, 0x07: 1, 0x13: 1, 0x14: 16, 0x15: 121, 0x16: 1, 0x17: 1,
               0x18: 8, 0x19: 1}
MAX_SIZES = {0x03: 32, 0x10: 64}
KNOWN_TAGS = set(FIXED_SIZES) | set(MAX_SIZES) | {0x11, 0x12, 0x20, 0xFF}


class Malformed(ValueError):
    """A message that breaks ICD 7.1."""


@dataclass
class CloudMsg:
    """One decoded message: the fields by tag, the bytes the signature covers, the raw bytes."""
    fields: dict[int, bytes]
    signed: bytes
    raw: bytes
    can_id: int = 0
    timestamp: float = 0.0

    @property
    def type(self) -> int:
        return self.fields[0x01][0]

    @property
    def counter(self) -> int:
        return int.from_bytes(self.fields[0x06], "big")

    @property
    def txn(self) -> bytes:
        return self.fields[0x05]

    @property
    def use_case(self) -> int:
        return self.fields[0x07][0]

    @property
    def signature(self) -> bytes:
        return self.fields[0xFF]


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + len(value).to_bytes(2, "big") + value


def parse_tlvs(msg: bytes) -> CloudMsg:
    """Strict ICD 7.1 decoding: ascending tags, each once, sizes, 0xFF last and covering every
    byte before it, nothing after it, the mandatory fields of ICD 7.2 present."""
    fields: dict[int, bytes] = {}
    i, last = 0, -1
    while i < len(msg):
        if i + 3 > len(msg):
            raise Malformed(f"truncated TLV header at {i}")
        tag, n = msg[i], int.from_bytes(msg[i + 1:i + 3], "big")
        if tag <= last:
            raise Malformed(f"tag {tag:#04x} after {last:#04x}")
        if tag not in KNOWN_TAGS:
            raise Malformed(f"unknown tag {tag:#04x}")
        if i + 3 + n > len(msg):
            raise Malformed(f"tag {tag:#04x}: length {n} beyond the message")
        value = msg[i + 3:i + 3 + n]
        if tag in FIXED_SIZES and n != FIXED_SIZES[tag]:
            raise Malformed(f"tag {tag:#04x}: {n} bytes, expected {FIXED_SIZES[tag]}")
        if tag in MAX_SIZES and not 1 <= n <= MAX_SIZES[tag]:
            raise Malformed(f"tag {tag:#04x}: {n} bytes")
        fields[tag] = value
        if tag == 0xFF:
            if i + 3 + n != len(msg):
                raise Malformed("bytes after the signature")
            missing = {0x01, 0x02, 0x03, 0x05, 0x06, 0x07} - set(fields)
            if missing:
                raise Malformed(f"mandatory tags missing: {sorted(missing)}")
            if fields[0x02] != b"\x01":
                raise Malformed(f"protocol version {fields[0x02].hex()}")
            return CloudMsg(fields, msg[:i], bytes(msg))
        last, i = tag, i + 3 + n
    raise Malformed("no signature TLV")


def verify_signature(public_key: ec.EllipticCurvePublicKey, m: CloudMsg) -> None:
    """Raises InvalidSignature unless tag 0xFF is a valid ECDSA P-256/SHA-256 signature of
    every byte before it."""
    public_key.verify(m.signature, m.signed, ec.ECDSA(hashes.SHA256()))


def common_name(name: x509.Name) -> str:
    return name.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value


def same_key(a, b) -> bool:
    return a.public_numbers() == b.public_numbers()


# --- passive bus recorder -----------------------------------------------------------------

class _Reassembly:
    """ISO 15765-2 reception of one identifier, written here (normal addressing, classic or FD)."""

    def __init__(self):
        self.buffer: bytearray | None = None
        self.length = 0
        self.seq = 0
        self.started = 0.0
        self.error: str | None = None

    def feed(self, data: bytes, ts: float) -> bytes | None:
        if not data:
            return None
        kind = data[0] >> 4
        if kind == 0:                                            # single frame
            if self.buffer is not None:
                self.error = f"reception of {self.length} bytes broken off by a single frame"
            n, body = data[0] & 0x0F, data[1:]
            if n == 0 and len(data) > 8:
                n, body = data[1], data[2:]
            self.buffer = None
            return bytes(body[:n]) if 0 < n <= len(body) else None
        if kind == 1:                                            # first frame (restarts reception)
            if self.buffer is not None:
                self.error = f"reception of {self.length} bytes broken off by a new first frame"
            n, body = ((data[0] & 0x0F) << 8) | data[1], data[2:]
            if n == 0:
                n, body = int.from_bytes(data[2:6], "big"), data[6:]
            self.buffer, self.length, self.seq, self.started = bytearray(body), n, 1, ts
            return None
        if kind == 2 and self.buffer is not None:                # consecutive frame
            if data[0] & 0x0F != self.seq:
                self.error = f"sequence number {data[0] & 0x0F}, expected {self.seq}"
                self.buffer = None                               # wrong sequence number: abort
                return None
            self.buffer += data[1:]
            self.seq = (self.seq + 1) & 0x0F
            if len(self.buffer) >= self.length:
                done, self.buffer = bytes(self.buffer[:self.length]), None
                return done
        return None                                              # flow control, or a stray CF


class BusRecorder:
    """Records, from its own socket and thread, every SPAAK_Status frame, the arrival times of
    TBM_Status, and every complete ISO-TP message on 0x6A0 (V2C) and 0x6A8 (C2V), decoded once
    (``parse_tlvs``). Receptions that broke off (a lost frame) are listed in ``isotp_errors``."""

    def __init__(self):
        self.bus = can.Bus(interface="socketcan", channel=PEER_IFACE, fd=True,
                           can_filters=[{"can_id": i, "can_mask": 0x7FF, "extended": False}
                                        for i in (STATUS_ID, TBM_ID, V2C_ID, C2V_ID)])
        try:                                                     # a slow VM must not lose frames here
            self.bus.socket.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)          # SO_RCVBUFFORCE (root)
        except OSError:
            self.bus.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.status: list[tuple[float, bytes]] = []
        self.tbm_times: list[float] = []
        self.messages: list[tuple[int, float, bytes, CloudMsg | Exception]] = []
        self.isotp_errors: list[str] = []
        self._rx = {V2C_ID: _Reassembly(), C2V_ID: _Reassembly()}
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            m = self.bus.recv(timeout=0.1)
            if m is None or m.is_extended_id:
                continue
            data, can_id = bytes(m.data), m.arbitration_id
            if can_id == TBM_ID:
                self.tbm_times.append(m.timestamp)
                continue
            if can_id == STATUS_ID:
                with self._cv:
                    self.status.append((m.timestamp, data))
                    self._cv.notify_all()
                continue
            rx = self._rx[can_id]
            done = rx.feed(data, m.timestamp)
            if rx.error:
                self.isotp_errors.append(f"{can_id:#x} at {m.timestamp:.3f}: {rx.error}")
                rx.error = None
            if done is not None:
                try:
                    decoded: CloudMsg | Exception = parse_tlvs(done)
                    decoded.can_id, decoded.timestamp = can_id, m.timestamp
                except Malformed as e:
                    decoded = e
                with self._cv:
                    self.messages.append((can_id, m.timestamp, done, decoded))
                    self._cv.notify_all()

    def close(self):
        self._stop.set()
        self._t.join(timeout=5)
        self.bus.shutdown()

    def tbm_gap(self, since: float = 0.0) -> float:
        """The longest silence between two TBM_Status frames received after ``since`` (s)."""
        times = [t for t in self.tbm_times if t >= since]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    # status frames
    def mark(self) -> int:
        with self._cv:
            return len(self.status)

    def last_status(self, timeout: float = 2.0) -> bytes:
        start = self.mark()
        return self.wait_status(lambda s: True, timeout, start=start)

    def wait_status(self, predicate, timeout: float, start: int | None = None, what: str = "") -> bytes:
        """The first SPAAK_Status frame from index ``start`` (default: the next one) that
        satisfies ``predicate``."""
        end = time.monotonic() + timeout
        with self._cv:
            i = len(self.status) if start is None else start
            while True:
                while i < len(self.status):
                    if predicate(self.status[i][1]):
                        return self.status[i][1]
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    last = self.status[-1][1].hex() if self.status else "none"
                    raise AssertionError(f"SPAAK_Status never {what or 'matched'} within {timeout} s; last {last}")
                self._cv.wait(min(left, 0.2))

    def statuses(self, start: int = 0) -> list[bytes]:
        with self._cv:
            return [s for _, s in self.status[start:]]

    # messages
    def v2c(self) -> list[CloudMsg]:
        return self._decoded(V2C_ID)

    def c2v(self) -> list[CloudMsg]:
        return self._decoded(C2V_ID)

    def _decoded(self, can_id: int) -> list[CloudMsg]:
        with self._cv:
            decoded = [d for i, _, _, d in self.messages if i == can_id]
        for d in decoded:
            if isinstance(d, Exception):
                raise d
        return decoded

    def raw_messages(self, can_id: int) -> list[bytes]:
        with self._cv:
            return [b for i, _, b, _ in self.messages if i == can_id]

    def wait_message(self, can_id: int, predicate, timeout: float, what: str = "") -> CloudMsg:
        """The first complete message on ``can_id`` (decoded) that satisfies ``predicate``."""
        end = time.monotonic() + timeout
        while True:
            with self._cv:
                seen = len(self.messages)
            for m in self._decoded(can_id):
                if predicate(m):
                    return m
            with self._cv:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what or 'matching'} message on {can_id:#x} within {timeout} s")
                if len(self.messages) == seen:
                    self._cv.wait(min(left, 0.5))


def send_isotp(payload: bytes, txid: int = V2C_ID, rxid: int = C2V_ID, timeout: float = 5.0):
    """Sends one ISO-TP message with a kernel socket (padding 0xCC), as another node would."""
    s = isotp.socket(timeout=timeout)
    s.set_opts(txpad=0xCC)
    s.bind(PEER_IFACE, isotp.Address(isotp.AddressingMode.Normal_11bits, txid=txid, rxid=rxid))
    try:
        s.send(payload)
    finally:
        s.close()


# --- spaak-cloud serve --------------------------------------------------------------------

class Cloud(Child):
    """A running ``spaak-cloud serve`` (TBM + VOS); stdout collected, trace read on demand."""

    error = AssertionError
    tail = 30

    def __init__(self, work: Path, pki: str, db: Path, *args: str, ecu_certs: str | None = None,
                 scrypt_n: int = 1024, tag: str = "", wait: bool = True):
        work.mkdir(parents=True, exist_ok=True)
        # a short path outside the test folder: sun_path is 108 bytes, and 9p mounts refuse sockets
        self.sock = os.path.join(tempfile.mkdtemp(prefix="spaak-cloud-"), "control.sock")
        self.trace_path = work / f"trace{tag}.jsonl"
        self._trace_offset, self._events = 0, []
        self.db = db
        cmd = [bin_path("spaak-cloud"), "serve", "--interface", PEER_IFACE, "--pki", pki, "--db", str(db),
               "--control", self.sock, "--trace", str(self.trace_path), "--scrypt-n", str(scrypt_n), *args]
        if ecu_certs:
            cmd += ["--ecu-certs", ecu_certs]
        super().__init__("spaak-cloud", cmd, ready_fd=True)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60.0):
        """READY=1 on its --ready-fd (the CAN and control sockets are open)."""
        super().wait_ready(timeout)

    def wait_line(self, text: str, timeout: float) -> str:
        return self.wait_for(text, timeout)

    def ctl(self, command: str, timeout: float = 10.0) -> str:
        """One control command through the Unix socket (the protocol of `ctl`): the reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode().strip()

    def ok(self, command: str) -> str:
        reply = self.ctl(command)
        assert reply == "ok" or reply.startswith("ok"), f"ctl {command!r} refused: {reply}"
        return reply

    def ctl_cli(self, *words: str) -> subprocess.CompletedProcess:
        """The same through the `spaak-cloud ctl` command line."""
        return subprocess.run([bin_path("spaak-cloud"), "ctl", self.sock, *words], capture_output=True, text=True,
                              timeout=60)

    def trace(self) -> list[dict]:
        """The trace events so far (the file is read incrementally, complete lines only)."""
        if not self.trace_path.exists():
            return []
        with open(self.trace_path, "rb") as f:
            f.seek(self._trace_offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        for line in chunk[:end].splitlines():
            if line.strip():
                self._events.append(json.loads(line))
        self._trace_offset += end
        return list(self._events)

    def wait_event(self, predicate, timeout: float, what: str = "", start: int = 0) -> dict:
        """The first trace event (from index ``start``) that satisfies ``predicate``."""
        end = time.monotonic() + timeout
        while True:
            for e in self.trace()[start:]:
                if predicate(e):
                    return e
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"spaak-cloud trace: no {what or 'matching'} event within {timeout} s:\n"
                                     + "\n".join(self.lines[-30:]))
            self.wait_output(min(left, 0.2))                    # every event is also a stdout line

    def stop(self) -> int:
        return super().stop(timeout=20)


def c2v_event(e: dict, type_: int, outcome: str) -> bool:
    return e.get("direction") == "C2V" and e.get("type") == type_ and e.get("outcome") == outcome


def v2c_event(e: dict, type_: int, outcome: str = "accepted") -> bool:
    return e.get("direction") == "V2C" and e.get("type") == type_ and e.get("outcome") == outcome


def kill_pid(proc: subprocess.Popen):
    """SIGKILL one process we started."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
