"""1. ISO-TP transfers on vcan: the module's ISO-TP (user space, spaak-ecu) against the
kernel's CAN ISO-TP, both answering the same request/response pattern in the same run.

- reception: a kernel ISO-TP socket sends 4095-byte requests (`3E 00` + 4093 bytes) to the
  module's 0x7A0; the module receives them and answers `7F 3E 13` (wrong length). Peer: the
  same to a kernel ISO-TP socket on 0x700/0x708 that answers the same three bytes.
- transmission: a tester reads certificates (one ~500-byte root, then a multi-DID read of
  certificates up to ~4 KB); the module transmits them. Peer: a kernel ISO-TP socket that
  answers a 3-byte request with a message of the same size.
"""
from __future__ import annotations

import os
import threading
import time

from .canbus import Module, UDS, UDSError, isotp_socket
from .common import IFACE, Table, human, ratio, require_bins, skipped
from .plant import ROOTS, generate_identity, install_roots

TITLE = "1. ISO-TP transfer (module user-space ISO-TP vs kernel CAN ISO-TP, vcan)"
PEER_REQ, PEER_RESP = 0x700, 0x708


def _measure(client: UDS, request: bytes, check, count: int, budget: float, timeout: float) -> dict:
    """``count`` request→answer round trips (or until ``budget`` s, or 3 losses in a row):
    answers checked, losses counted, time summed over the answered ones."""
    ok = lost = streak = 0
    busy = 0.0
    t_start = time.perf_counter()
    while ok + lost < count and time.perf_counter() - t_start < budget and streak < 3:
        t0 = time.perf_counter()
        try:
            answer = client.request(request, timeout=timeout)
        except UDSError:
            lost, streak = lost + 1, streak + 1
            continue
        busy += time.perf_counter() - t0
        check(answer)
        ok, streak = ok + 1, 0
    return {"ok": ok, "lost": lost, "seconds": busy}


def _rate(m: dict, size: int):
    return m["ok"] * size / m["seconds"] if m["ok"] and m["seconds"] > 0 else None


class KernelPeer:
    """A kernel ISO-TP socket on 0x700/0x708 answering every request with ``answer``."""

    def __init__(self, answer: bytes, iface: str = IFACE):
        self.answer = answer
        self.sock = isotp_socket(PEER_RESP, PEER_REQ, timeout=0.2, iface=iface)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                request = self.sock.recv()
            except (TimeoutError, OSError):
                continue
            if request:
                self.sock.send(self.answer)

    def close(self):
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def _kernel(request: bytes, answer: bytes, count: int, paced: bool = False, iface: str = IFACE,
            client_iface: str = IFACE, budget: float = 120, timeout: float = 5) -> dict:
    """The same round trips against the kernel peer (on ``iface``; the client on ``client_iface``)."""
    peer = KernelPeer(answer, iface=iface)
    client = UDS(PEER_REQ, PEER_RESP, timeout=timeout, paced=paced, iface=client_iface)
    try:
        client.request(request)
        return _measure(client, request, lambda a: None, count, budget=budget, timeout=timeout)
    finally:
        client.close()
        peer.close()


def _multi_did_request(sizes: dict) -> tuple:
    """The DIDs of a multi-DID read (certificates, repeated) whose response stays ≤ 4095 bytes."""
    dids, total = [], 1
    order = sorted(sizes, key=lambda d: -sizes[d])
    while True:
        added = False
        for did in order:
            if total + 2 + sizes[did] <= 4095:
                dids.append(did)
                total += 2 + sizes[did]
                added = True
        if not added:
            break
    return dids, total


def throughput_row(table: Table, label: str, size: int, ours: dict, peer: dict) -> None:
    """One row: messages answered (and lost), the module's and the kernel's bytes per second, the ratio."""
    lost = f" ({ours['lost']} lost)" if ours["lost"] else ""
    r_ours, r_peer = _rate(ours, size), _rate(peer, size)
    table.add(label, f"{ours['ok']}{lost}", human(r_ours, "B/s") if r_ours else "none answered",
              human(r_peer, "B/s"), ratio(r_ours, r_peer) if r_ours else "0")


def nrc13(answer: bytes) -> None:
    """The answer to a 4095-byte `3E 00 …`: 7F 3E 13 (wrong length)."""
    if answer != b"\x7F\x3E\x13":
        raise RuntimeError(f"unexpected answer {answer[:8].hex()}")


def bench(count: int = 40, budget: float = 60.0) -> None:
    missing = require_bins("spaak-ecu", "spaak-pki")
    if missing:
        return skipped(TITLE, missing)
    table = Table(TITLE, ["transfer", "msgs", "module B/s", "kernel B/s", "module/kernel"])
    module = Module()
    notes = []

    def row(label: str, size: int, ours: dict, peer: dict) -> None:
        throughput_row(table, label, size, ours, peer)

    try:
        # Reception: 4095-byte requests, short negative answers; the sender first back to
        # back (what the module's FC with BS 0 / STmin 0 allows), then with the kernel's
        # default N_As pacing (50 µs per frame).
        request = b"\x3E\x00" + os.urandom(4093)

        for paced, label in ((False, "receive 4095 B, sender back to back"),
                             (True, "receive 4095 B, sender paced 50 µs/frame")):
            with UDS(0x7A0, 0x7A8, timeout=10, paced=paced) as uds:
                ours = _measure(uds, request, nrc13, count, budget, timeout=3)
            peer = _kernel(request, b"\x7F\x3E\x13", max(ours["ok"] + ours["lost"], 3), paced=paced)
            row(label, len(request), ours, peer)

        # Transmission: certificates from the store, read by a kernel ISO-TP tester.
        with UDS(0x7A0, 0x7A8, timeout=10) as uds:
            install_roots(uds)
            generate_identity(uds)
            sizes = {did: len(uds.read(did)) - 2 for did in [d for _, d in ROOTS] + [0xD100]}
            big = max(sizes, key=sizes.get)
            dids, _ = _multi_did_request(sizes)
            multi = b"\x22" + b"".join(d.to_bytes(2, "big") for d in dids)
            if uds.request(multi)[0] != 0x62:  # repeated DIDs refused: each certificate once
                dids = sorted(sizes)
                multi = b"\x22" + b"".join(d.to_bytes(2, "big") for d in dids)
            for req, what in ((b"\x22" + big.to_bytes(2, "big"), "1 certificate"), (multi, f"{len(dids)} DIDs")):
                answer = uds.positive(req)

                def same(a, expected=len(answer)):
                    if len(a) != expected or a[0] != 0x62:
                        raise RuntimeError(f"unexpected answer {a[:8].hex()} ({len(a)} B)")

                ours = _measure(uds, req, same, count, budget, timeout=5)
                row(f"transmit {what} ({len(answer)} B)", len(answer), ours, _kernel(req, answer, ours["ok"] + ours["lost"]))
        notes.append("certificate sizes: " + ", ".join(f"{d:04X} {s} B" for d, s in sorted(sizes.items()))
                     + f"; multi-DID read: {' '.join(f'{d:04X}' for d in dids)}")
    finally:
        counters = module.stop()
    for line in notes:
        table.note(line)
    table.note("throughput = message bytes × answered messages / their request→answer time (one at a time); "
               "goal module/kernel ≥ 1.0; lost = no answer in 3 s (frames dropped before the module read them)")
    if counters.get("line"):
        table.note(f"module counters: {counters['line'][:160]}")
    table.print()
