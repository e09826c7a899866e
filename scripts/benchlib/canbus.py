"""Bus-side helpers: a running spaak-ecu, kernel ISO-TP sockets, a small UDS client,
frame sniffers and the can-utils load generators. Nothing here imports the Swift code."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from typing import Callable, Optional

import can
import isotp

from spaaklib.process import Child
from spaaklib.uds import DEFAULT_PLANT_KEY, PADDING, security_key

from .common import IFACE, adopt, bin_path, bus_packets, scratch, spawn, stop, tool
#: The ids the module's socket filter lets through (ICD 2), for a module on 0x7A0.
MODULE_RX_IDS = (0x3A0, 0x6A8, 0x7A0, 0x7DF)


# --- the module ---------------------------------------------------------------------------

class Module(Child):
    """One spaak-ecu process (spaaklib's ``Child``, started with --ready-fd); its output goes
    to a log file in its scratch folder. Stopped at exit with the other children."""

    error = RuntimeError

    def __init__(self, serial: str = "SPK0000000001", request_id: int = 0x7A0, store: Optional[str] = None,
                 log_level: str = "notice", extra: tuple = (), wait_ready: bool = True, iface: str = IFACE):
        self.serial, self.request_id, self.iface = serial, request_id, iface
        self.dir = scratch("ecu")
        self.store = store or os.path.join(self.dir, "store")
        self.log_path = os.path.join(self.dir, "ecu.log")
        cmd = [bin_path("spaak-ecu"), "--interface", iface, "--serial", serial, "--store", self.store,
               "--log-level", log_level, "--uds-request-id", f"{request_id:X}", *extra]
        self.started_wall = time.time()
        self.started = time.perf_counter()
        super().__init__("spaak-ecu", cmd, ready_fd=True, log_path=self.log_path, log_header=False)
        adopt(self.proc)
        if wait_ready:
            self.wait_ready(timeout=60)

    @property
    def response_id(self) -> int:
        return self.request_id + 8

    def stop(self) -> dict:
        """SIGTERM; the counters it logs at exit (empty when it logs none)."""
        stop(self.proc)
        super().stop()
        return parse_counters(self.text())


_COUNTER = re.compile(r"([A-Za-z][A-Za-z_ -]*?) (\d+)")


def parse_counters(text: str) -> dict:
    """The `counters: frames received N, sent N, dropped N; ...` line spaak-ecu logs at exit."""
    for line in reversed(text.splitlines()):
        if "counters:" in line:
            body = line.split("counters:", 1)[1]
            out = {}
            m = re.search(r"frames received (\d+), sent (\d+), dropped (\d+)", body)
            if m:
                out.update(received=int(m.group(1)), sent=int(m.group(2)), dropped=int(m.group(3)))
            for key, pattern in (("tbm_bad_crc", r"bad CRC (\d+)"), ("uds_rx", r"UDS ISO-TP rx (\d+)"),
                                 ("uds_tx", r"UDS ISO-TP rx \d+ tx (\d+)"), ("uds_errors", r"UDS ISO-TP .*?errors (\d+)")):
                m = re.search(pattern, body)
                if m:
                    out[key] = int(m.group(1))
            out["line"] = body.strip()
            return out
    return {}


# --- ISO-TP and UDS -----------------------------------------------------------------------

#: ``frame_txtime`` value meaning "no gap" (0 selects the kernel's default, 50 µs per frame).
FRAME_TXTIME_ZERO = 0xFFFFFFFF


def isotp_socket(txid: int, rxid: int, timeout: float = 2.0, bs: int = 0, stmin: int = 0,
                 paced: bool = False, iface: str = IFACE) -> isotp.socket:
    """A kernel ISO-TP socket (classic CAN, 0xCC padding, FC BS/STmin as given). Unless
    ``paced``, consecutive frames go out back to back, as the module sends them with STmin 0
    (the kernel's default adds N_As = 50 µs of simulated bus time before each one)."""
    s = isotp.socket(timeout=timeout)
    s.set_opts(txpad=PADDING, frame_txtime=None if paced else FRAME_TXTIME_ZERO)
    s.set_fc_opts(bs=bs, stmin=stmin)
    s.bind(iface, isotp.Address(isotp.AddressingMode.Normal_11bits, txid=txid, rxid=rxid))
    return s


class UDSError(Exception):
    pass


class UDS:
    """A minimal UDS client on a kernel ISO-TP socket: one request, its final answer
    (waiting through NRC 0x78), answers that do not belong to the request are skipped."""

    def __init__(self, request_id: int = 0x7A0, response_id: Optional[int] = None, timeout: float = 2.0,
                 paced: bool = False, iface: str = IFACE):
        self.sock = isotp_socket(request_id, response_id if response_id is not None else request_id + 8, timeout,
                                 paced=paced, iface=iface)
        self.timeout = timeout
        self.skipped = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, payload: bytes, timeout: Optional[float] = None, pending_timeout: float = 10.0) -> bytes:
        sid = payload[0]
        self.sock.send(payload)
        end = time.monotonic() + (timeout or self.timeout)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise UDSError(f"no answer to {payload[:4].hex()}")
            self.sock.settimeout(left)
            try:
                answer = self.sock.recv()
            except (socket.timeout, TimeoutError):
                raise UDSError(f"no answer to {payload[:4].hex()}") from None
            if not answer:
                continue
            if answer[0] == 0x7F and len(answer) >= 3 and answer[1] == sid:
                if answer[2] == 0x78:
                    end = time.monotonic() + pending_timeout
                    continue
                return answer
            if answer[0] == sid + 0x40:
                return answer
            self.skipped += 1

    def positive(self, payload: bytes, timeout: Optional[float] = None) -> bytes:
        answer = self.request(payload, timeout)
        if answer[0] == 0x7F:
            raise UDSError(f"{payload[:4].hex()}: NRC 0x{answer[2]:02X}")
        return answer

    def unlock(self, plant_key: bytes = DEFAULT_PLANT_KEY) -> None:
        """Extended session and security access (ICD 5.3)."""
        self.positive(b"\x10\x03")
        seed = self.positive(b"\x27\x01")[2:]
        if any(seed):
            self.positive(b"\x27\x02" + security_key(plant_key, seed))

    def read(self, *dids: int) -> bytes:
        return self.positive(b"\x22" + b"".join(d.to_bytes(2, "big") for d in dids))[1:]


# --- sniffing -----------------------------------------------------------------------------

class Sniffer:
    """Receives frames (kernel-filtered to ``ids`` if given) with kernel timestamps in a
    thread; ``frames`` is a list of (timestamp, id, data)."""

    def __init__(self, ids=None):
        filters = [{"can_id": i, "can_mask": 0x7FF | 0x80000000, "extended": False} for i in ids] if ids else None
        self.bus = can.Bus(interface="socketcan", channel=IFACE, can_filters=filters, receive_own_messages=False)
        self.frames: list = []
        self._stop = threading.Event()
        self._hooks: list = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def on_frame(self, hook: Callable) -> None:
        self._hooks.append(hook)

    def _run(self):
        while not self._stop.is_set():
            m = self.bus.recv(timeout=0.1)
            if m is None or m.is_error_frame:
                continue
            item = (m.timestamp, m.arbitration_id, bytes(m.data))
            self.frames.append(item)
            for hook in self._hooks:
                hook(item)

    def wait(self, predicate: Callable, timeout: float, start: int = 0):
        """The first frame from index ``start`` on that satisfies ``predicate``, or None."""
        end = time.monotonic() + timeout
        i = start
        while time.monotonic() < end:
            while i < len(self.frames):
                if predicate(self.frames[i]):
                    return self.frames[i]
                i += 1
            time.sleep(0.005)
        return None

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.bus.shutdown()


class Candump:
    """`candump -L` (optionally filtered) into a file; counts after it stopped."""

    def __init__(self, filters: str = ""):
        self.path = os.path.join(scratch("candump"), "log")
        self._out = open(self.path, "w", encoding="utf-8")
        spec = IFACE + (f",{filters}" if filters else "")
        self.proc = spawn([tool("candump"), "-L", "-d", spec], stdout=self._out, stderr=self._out)
        time.sleep(0.3)

    def stop(self) -> dict:
        stop(self.proc, signal.SIGINT)
        self._out.close()
        total, by_id, dropped = 0, {}, 0
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and "#" in parts[2]:
                    ident, _, data = parts[2].partition("#")
                    if data.startswith("R") or len(ident) != 3:
                        total += 1
                        continue
                    total += 1
                    key = int(ident, 16)
                    by_id[key] = by_id.get(key, 0) + 1
                elif "DROPCOUNT" in line or "dropped" in line.lower():
                    m = re.search(r"(\d+)", line.split("DROPCOUNT")[-1]) if "DROPCOUNT" in line else None
                    if m:
                        dropped = max(dropped, int(m.group(1)))
        return {"total": total, "by_id": by_id, "dropped": dropped}


# --- load ---------------------------------------------------------------------------------

def cangen(*args: str):
    """A cangen process (stopped with stop())."""
    return spawn([tool("cangen"), IFACE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure_rate(args: tuple, seconds: float = 1.5) -> float:
    """Frames per second on the bus while `cangen ARGS` runs alone."""
    gen = cangen(*args)
    time.sleep(0.3)
    n0, t0 = bus_packets(), time.monotonic()
    time.sleep(seconds)
    n1, t1 = bus_packets(), time.monotonic()
    stop(gen)
    time.sleep(0.2)
    return (n1 - n0) / (t1 - t0)


def calibrate_load(share: float = 0.5, extra: tuple = ()) -> tuple:
    """(max rate, cangen args, achieved rate): bursts every 2 ms sized to reach about
    ``share`` of the rate `cangen -g 0` reaches here (a per-frame gap below the timer
    resolution of a VM would not), adjusted from a few measurements."""
    full = measure_rate(("-g", "0", "-i", *extra))
    target = full * share
    gap_ms = 2.0
    burst = max(1, round(target * gap_ms / 1000))
    best = None
    for _ in range(4):
        args = ("-g", f"{gap_ms:g}", "-c", str(burst), "-i", *extra)
        rate = measure_rate(args, 1.0)
        if best is None or abs(rate - target) < abs(best[1] - target):
            best = (args, rate)
        if rate <= 0 or abs(rate - target) / target < 0.08:
            break
        burst = max(1, round(burst * target / rate))
    return full, best[0], best[1]
