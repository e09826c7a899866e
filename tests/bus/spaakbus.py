"""Shared helpers for the bus tests: an independent E2E implementation (ICD section 3),
a running ``spaak-ecu`` process, and small wrappers around python-can and can-utils.

Nothing here imports the project's Swift code: these tests are the independent peer.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import can

ROOT = Path(__file__).resolve().parents[2]
IFACE = os.environ.get("SPAAK_IFACE", "vcan0")


def bin_path(name: str) -> str:
    """Path of a built executable: $SPAAK_BIN_DIR, else .build/release, else .build/debug."""
    candidates = []
    if os.environ.get("SPAAK_BIN_DIR"):
        candidates.append(Path(os.environ["SPAAK_BIN_DIR"]) / name)
    candidates += [ROOT / ".build" / "release" / name, ROOT / ".build" / "debug" / name]
    for c in candidates:
        if c.exists():
            return str(c)
    raise FileNotFoundError(f"{name} is not built (looked in {', '.join(map(str, candidates))})")


# --- E2E (ICD 3), written independently of the Swift code ---------------------------------

def crc8_sae_j1850(data: bytes) -> int:
    crc = 0xFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1D) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0xFF


def e2e_crc(can_id: int, payload7: bytes) -> int:
    return crc8_sae_j1850(bytes([can_id & 0xFF, (can_id >> 8) & 0xFF]) + payload7)


def e2e_frame(can_id: int, counter: int, signals: bytes) -> bytes:
    """An 8-byte protected frame: CRC, counter, six signal bytes."""
    body = bytes([counter & 0x0F]) + signals.ljust(6, b"\0")[:6]
    return bytes([e2e_crc(can_id, body)]) + body


def e2e_valid(can_id: int, data: bytes) -> bool:
    return len(data) == 8 and data[0] == e2e_crc(can_id, data[1:]) and (data[1] & 0x0F) != 15 and data[1] >> 4 == 0


def tbm_status(counter: int, connected: bool = True, subscribed: bool = True) -> bytes:
    return e2e_frame(0x3A0, counter % 15, bytes([(1 if connected else 0) | (2 if subscribed else 0)]))


# --- processes -----------------------------------------------------------------------------

class Module:
    """A running spaak-ecu; its output is collected, ``wait_for`` waits for a line."""

    def __init__(self, *args: str, serial: str = "SPK0000000001", store: str | None = None, env=None):
        self.store = store or tempfile.mkdtemp(prefix="spaak-store-")
        self.serial = serial
        cmd = [bin_path("spaak-ecu"), "--interface", IFACE, "--serial", serial, "--store", self.store, *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("ready", timeout=30)

    def _read(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()

    def wait_for(self, text: str, timeout: float = 10.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.lines[start:]:
                    if text in line:
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"spaak-ecu exited ({self.proc.returncode}) before '{text}':\n" + "\n".join(self.lines))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no '{text}' within {timeout}s:\n" + "\n".join(self.lines[-40:]))
                self._cv.wait(min(left, 0.2))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL (a power loss for the module): no clean-up runs; the store is kept."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)

    def stop(self, keep_store: bool = False):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        if not keep_store:
            shutil.rmtree(self.store, ignore_errors=True)
            # The store's monotonic counter lives beside the folder (docs/RELIABILITY.md, section 2).
            folder = os.path.abspath(self.store)
            counter = os.path.join(os.path.dirname(folder), "." + os.path.basename(folder) + ".counter")
            if os.path.exists(counter):
                os.remove(counter)


def bus(**kw) -> can.BusABC:
    return can.Bus(interface="socketcan", channel=IFACE, **kw)


def collect(b: can.BusABC, seconds: float, ids=None) -> list[can.Message]:
    """Every frame (on ``ids`` if given) received during ``seconds``."""
    out, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        m = b.recv(timeout=left)
        if m is not None and (ids is None or m.arbitration_id in ids):
            out.append(m)
    return out


class TBMSender:
    """Sends TBM_Status every 100 ms from a thread, like the telematics box."""

    def __init__(self, connected=True, subscribed=True, corrupt_crc=False):
        self.connected, self.subscribed, self.corrupt_crc = connected, subscribed, corrupt_crc
        self._stop = threading.Event()
        self._bus = bus()
        self._t = threading.Thread(target=self._run, daemon=True)
        self.sent = 0
        self._t.start()

    def _run(self):
        counter = 0
        while not self._stop.is_set():
            data = bytearray(tbm_status(counter, self.connected, self.subscribed))
            if self.corrupt_crc:
                data[0] ^= 0x55
            self._bus.send(can.Message(arbitration_id=0x3A0, data=bytes(data), is_extended_id=False))
            self.sent += 1
            counter = (counter + 1) % 15
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._t.join()
        self._bus.shutdown()


def spaak_status(b: can.BusABC, timeout: float = 1.0) -> bytes:
    """The data of the next SPAAK_Status frame."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        m = b.recv(timeout=left)
        if m is not None and m.arbitration_id == 0x3A8:
            return bytes(m.data)
    raise AssertionError("no SPAAK_Status frame")


def wait_status(b: can.BusABC, predicate, timeout: float) -> bytes:
    """Waits until a SPAAK_Status frame satisfies ``predicate``; returns it."""
    end = time.monotonic() + timeout
    last = b""
    while time.monotonic() < end:
        last = spaak_status(b, timeout=max(0.05, end - time.monotonic()))
        if predicate(last):
            return last
    raise AssertionError(f"SPAAK_Status never matched; last {last.hex()}")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} not installed (can-utils)")
    return path
