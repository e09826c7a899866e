"""``spaak-cloud tbm`` (one vehicle's TBM as its own process) against a GSDP peer written
here from the design (a WebSocket server with the Python ``websockets`` package, not the
project's VOS): TBM_Status bits follow the connection, V2C and C2V messages cross unchanged,
C2V messages are acked with their SHA-256.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time

import can
import isotp
from websockets.sync.server import serve

from cloudpeer import C2V_ID, TBM_ID, V2C_ID, send_isotp
from spaakbus import PEER_IFACE, Child, bin_path

PATH = "/gsdp/v1/spaak"
SERIAL = "SPK0000000042"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VOSPeer:
    """A GSDP server on ``port``: answers a hello with a welcome (after ``welcome_delay``),
    records every message, sends what the test queues, closes on demand."""

    def __init__(self, port: int, welcome_delay: float = 0.0):
        self.welcome_delay = welcome_delay
        self.received: queue.Queue = queue.Queue()
        self.hellos: list = []
        self.connection = None
        self.server = serve(self._handle, "127.0.0.1", port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, connection):
        if connection.request.path != PATH:
            connection.close(1008, "wrong path")
            return
        self.connection = connection
        for message in connection:
            if isinstance(message, str):
                parsed = json.loads(message)
                if "hello" in parsed:
                    self.hellos.append(parsed)
                    time.sleep(self.welcome_delay)
                    connection.send(json.dumps({"welcome": {"instance": "vos-py"}}))
                    continue
            self.received.put(message)

    def next(self, timeout: float = 10.0):
        return self.received.get(timeout=timeout)

    def close_connection(self):
        self.connection.close(1001, "instance going away")

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


class TBM(Child):
    error = AssertionError

    def __init__(self, urls: list, *args: str):
        self.sock = os.path.join(tempfile.mkdtemp(prefix="spaak-tbm-"), "control.sock")
        super().__init__("spaak-cloud tbm", [bin_path("spaak-cloud"), "tbm", "--interface", PEER_IFACE, "--vos", ",".join(urls),
                                             "--serial", SERIAL, "--name", "tbm-test", "--control", self.sock, *args],
                         ready_fd=True)
        self.wait_ready(timeout=30)

    def ctl(self, command: str) -> str:
        done = subprocess.run([bin_path("spaak-cloud"), "ctl", self.sock, *command.split()], capture_output=True, text=True,
                              timeout=10)
        assert done.returncode == 0, f"ctl {command}: {done.stdout}{done.stderr}"
        return done.stdout.strip()


_last_status_at = 0.0     # kernel timestamp of the last TBM_Status seen, for the failure message


def status_bits(bus: can.BusABC, timeout: float = 3.0) -> int:
    """Byte 2 of the next TBM_Status (bit 0 GsdpConnected, bit 1 SpaakTopicSubscribed).

    The TBM sends one every 100 ms; the 3 s wait covers an emulated CPU that one CI run
    starved for more than a second, and still fails a TBM that stopped sending."""
    global _last_status_at
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = bus.recv(max(0.0, end - time.monotonic()))
        if m is not None and m.arbitration_id == TBM_ID:
            _last_status_at = m.timestamp
            return m.data[2]
    last = f"the last one {time.time() - _last_status_at:.1f} s ago by its kernel timestamp" if _last_status_at else "none before"
    raise AssertionError(f"no TBM_Status within {timeout} s ({last})")


def wait_bits(bus: can.BusABC, wanted: int, timeout: float) -> list:
    """TBM_Status bits seen until ``wanted`` shows (AssertionError after ``timeout``)."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        bits = status_bits(bus)
        seen.append(bits)
        if bits == wanted:
            return seen
    raise AssertionError(f"TBM_Status bits {wanted:#x} not seen within {timeout} s: {seen[-20:]}")


def test_tbm_follows_the_gsdp_link_and_relays_both_ways():
    port = free_port()
    url = f"ws://127.0.0.1:{port}{PATH}"
    sniffer = can.Bus(interface="socketcan", channel=PEER_IFACE,
                      can_filters=[{"can_id": TBM_ID, "can_mask": 0x7FF, "extended": False}])
    tbm = TBM([url])
    peer = None
    try:
        # Nobody listens yet: offline (both bits 0), and it keeps trying.
        assert [status_bits(sniffer) for _ in range(5)] == [0, 0, 0, 0, 0]
        tbm.wait_for("next attempt in", timeout=10)

        # The VOS comes up and welcomes 1.5 s after the hello: bit 0 first, then bits 0+1.
        peer = VOSPeer(port, welcome_delay=1.5)
        seen = wait_bits(sniffer, 0x03, timeout=20)
        assert 0x01 in seen, seen
        assert peer.hellos == [{"hello": {"tbm": "tbm-test", "serials": [SERIAL]}}]
        tbm.wait_for(f"connected to vos-py at {url}", timeout=5)
        peer.welcome_delay = 0.0

        # V2C: an ISO-TP message on 0x6A0 from a kernel can-isotp socket arrives unchanged.
        v2c = bytes(range(256)) + bytes(range(44))
        send_isotp(v2c, txid=V2C_ID, rxid=C2V_ID)
        assert peer.next() == v2c

        # C2V: a binary message from the VOS arrives on 0x6A8; the ack names its SHA-256.
        rx = isotp.socket(timeout=10)
        rx.set_opts(txpad=0xCC)
        rx.bind(PEER_IFACE, isotp.Address(isotp.AddressingMode.Normal_11bits, txid=V2C_ID, rxid=C2V_ID))
        try:
            c2v = bytes([0x0A]) + bytes(range(1, 120))
            peer.connection.send(c2v)
            assert rx.recv() == c2v
        finally:
            rx.close()
        ack = json.loads(peer.next())
        assert ack == {"c2v": hashlib.sha256(c2v).hexdigest(), "outcome": "delivered"}

        # The VOS closes the connection: offline at once, online again after the reconnection.
        peer.close_connection()
        wait_bits(sniffer, 0x00, timeout=2)
        tbm.wait_for("disconnected from vos-py", timeout=5)
        wait_bits(sniffer, 0x03, timeout=15)
        assert len(peer.hellos) == 2

        # The control socket (through `spaak-cloud ctl`): the status line, the manual override.
        assert tbm.ctl("status").startswith("link online; state subscribed; instance vos-py")
        tbm.ctl("tbm offline")
        wait_bits(sniffer, 0x00, timeout=2)
        tbm.ctl("tbm online")
        wait_bits(sniffer, 0x03, timeout=10)
        assert len(peer.hellos) == 3
        assert tbm.alive
    finally:
        tbm.stop()
        print("\n".join(tbm.lines))  # shown by pytest when the test fails (or with -rP)
        if peer:
            peer.stop()
        sniffer.shutdown()
