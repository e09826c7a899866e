"""Shared helpers for the bus tests: a running ``spaak-ecu`` process, and small wrappers
around python-can and can-utils. E2E (ICD 3), UDS and the process handling come from
scripts/spaaklib, the Python peer written from the ICD.

Nothing here imports the project's Swift code: these tests are the independent peer.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time

import can

from spaaklib.e2e import e2e_valid, tbm_status  # noqa: F401 (e2e_valid: used by the tests)
from spaaklib.process import ROOT, Child, binary_candidates, find_binary  # noqa: F401 (ROOT: used by the tests)

IFACE = os.environ.get("SPAAK_IFACE", "vcan0")
"""The module's interface (``spaak-ecu --interface``)."""
PEER_IFACE = os.environ.get("SPAAK_PEER_IFACE") or IFACE
"""Every peer's interface: testers, sniffers, the TBM, ``spaak-cloud``, ``spaak-phone``, can-utils.
The same as the module's on vcan; on real controllers (scripts/vcan-run with
VCAN_CONTROLLERS=kvaser) the module is on can0 and its peers on can1, across the emulated bus."""

ARPHRD_CAN = 280


def is_controller(name: str) -> bool:
    """True when ``name`` is a real CAN controller (a CAN link with a device behind it), not a
    vcan/vxcan (those live under /sys/devices/virtual)."""
    path = f"/sys/class/net/{name}"
    try:
        with open(f"{path}/type") as f:
            kind = int(f.read())
    except (OSError, ValueError):
        return False
    return kind == ARPHRD_CAN and not os.path.realpath(path).startswith("/sys/devices/virtual/")


ON_CONTROLLERS = is_controller(IFACE) or is_controller(PEER_IFACE)
"""The bus tests run on real CAN controllers (classic CAN only, two interfaces, one bus)."""


def bin_path(name: str) -> str:
    """Path of a built executable: $SPAAK_BIN_DIR, else .build/release, else .build/debug."""
    found = find_binary(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not built (looked in {', '.join(map(str, binary_candidates(name)))})")
    return found


# --- processes -----------------------------------------------------------------------------

class Module(Child):
    """A running spaak-ecu, ready (its READY=1 on --ready-fd) when the constructor returns;
    its output is collected, ``wait_for`` waits for a line."""

    error = AssertionError

    def __init__(self, *args: str, serial: str = "SPK0000000001", store: str | None = None, env=None):
        self.store = store or tempfile.mkdtemp(prefix="spaak-store-")
        self.serial = serial
        super().__init__("spaak-ecu", [bin_path("spaak-ecu"), "--interface", IFACE, "--serial", serial,
                                       "--store", self.store, *args], ready_fd=True, env=env)
        try:
            self.wait_ready(timeout=30)
        except BaseException:
            Child.stop(self)
            raise

    def wait_for(self, text: str, timeout: float = 10.0, start: int = 0) -> str:
        return super().wait_for(text, timeout, start)

    def stop(self, keep_store: bool = False):
        super().stop()
        if not keep_store:
            shutil.rmtree(self.store, ignore_errors=True)
            # The store's monotonic counter lives beside the folder (docs/RELIABILITY.md, section 2).
            folder = os.path.abspath(self.store)
            counter = os.path.join(os.path.dirname(folder), "." + os.path.basename(folder) + ".counter")
            if os.path.exists(counter):
                os.remove(counter)


def restart(module: Module, start, *args, txid=0x7A0) -> Module:
    """Stops ``module`` (its store kept) and starts it again through ``start`` (the ``modules`` fixture)."""
    module.stop(keep_store=True)
    return start(*args, serial=module.serial, store=module.store, txid=txid)


def bus(**kw) -> can.BusABC:
    """A python-can bus on the peers' interface (what a tester or another node sees)."""
    return can.Bus(interface="socketcan", channel=PEER_IFACE, **kw)


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
