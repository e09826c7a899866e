"""What only a real CAN controller shows: the module on can0 and its peers on can1, two SJA1000s
(QEMU's kvaser_pci) on one emulated CAN bus (scripts/vcan-run with VCAN_CONTROLLERS=kvaser,
SPAAK_IFACE=can0, SPAAK_PEER_IFACE=can1; the command is in conftest.py's docstring).

- the controller: ``ip -d link show`` reports the SJA1000, the bitrate, the CAN state;
- the module's SPAAK_Status frames leave can0 and arrive on can1 with their period and in
  their order (each one seen on both sides);
- back-pressure: a tbf qdisc on can0 (QEMU's controller sends at once, so only a rate limit
  makes its queue fill) turns a long ISO-TP answer into ENOBUFS for the module's socket;
  the answer still arrives complete and in order at the tester on can1, and the qdisc
  really dropped frames (the test would prove nothing otherwise).

Skipped on vcan: there is no controller there.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import threading

import can
import pytest

from plantpeer import unlock, uds
from spaakbus import IFACE, ON_CONTROLLERS, PEER_IFACE, bus, collect, e2e_valid
from spaaklib.uds import ROOT_DIDS, kernel_connection

pytestmark = [pytest.mark.realcan,
              pytest.mark.skipif(not ON_CONTROLLERS,
                                 reason=f"{IFACE}/{PEER_IFACE} are not real CAN controllers: run with "
                                        "VCAN_CONTROLLERS=kvaser SPAAK_IFACE=can0 SPAAK_PEER_IFACE=can1 "
                                        "scripts/vcan-run")]

BITRATE = int(os.environ.get("VCAN_BITRATE", "500000"))
STATUS_ID = 0x3A8
#: A slow bus behind the module (root qdisc on its interface): 125 kbit/s for 16-byte frames
#: is ~1000 frames/s, burst 4 frames, queue 10 frames: a 3 kB answer overflows it many times.
TBF = ["rate", "125kbit", "burst", "64", "limit", "160"]


def ip_details(name: str) -> str:
    return subprocess.run(["ip", "-details", "-statistics", "link", "show", name], capture_output=True, text=True,
                          check=True, timeout=20).stdout


def tc(*args: str) -> str:
    return subprocess.run(["tc", *args], capture_output=True, text=True, check=True, timeout=20).stdout


@pytest.mark.parametrize("name", sorted({IFACE, PEER_IFACE}))
def test_controller_is_an_sja1000_at_the_bitrate(name):
    out = ip_details(name)
    assert "sja1000:" in out, out
    assert re.search(rf"\bbitrate {BITRATE}\b", out), out
    assert "can state ERROR-ACTIVE" in out, out
    assert re.search(r"berr-counter tx \d+ rx \d+", out), out
    with open(f"/sys/class/net/{name}/mtu") as f:
        assert f.read().strip() == "16"                       # classic CAN only


def test_status_frames_cross_the_bus_in_order_with_their_period(module):
    """Every SPAAK_Status the module's controller sent (its echo on can0) arrives on can1, in order,
    at once, and 100 ms apart."""
    with can.Bus(interface="socketcan", channel=IFACE) as own, bus() as peer:
        sent: list[can.Message] = []
        grab = threading.Thread(target=lambda: sent.extend(collect(own, 2.0, ids={STATUS_ID})))
        grab.start()
        received = collect(peer, 2.0, ids={STATUS_ID})
        grab.join()
    assert len(received) >= 15, len(received)
    assert all(e2e_valid(STATUS_ID, bytes(m.data)) for m in received)
    data_sent, data_received = [bytes(m.data) for m in sent], [bytes(m.data) for m in received]
    # the two windows start a little apart: compare the frames both saw
    first = data_sent.index(data_received[1])
    common = data_received[1:-1]
    assert data_sent[first:first + len(common)] == common
    lags = [r.timestamp - s.timestamp for s, r in zip(sent[first:], received[1:-1])]
    assert max(abs(lag) for lag in lags) < 0.05, lags
    periods = [b.timestamp - a.timestamp for a, b in zip(received, received[1:])]
    assert 0.08 <= statistics.median(periods) <= 0.12, periods


def install_roots(pki: str) -> dict[int, bytes]:
    """RP-01's five roots written over UDS (chain order); their DER by DID."""
    roots = {did: open(os.path.join(pki, f"{name}.der"), "rb").read() for name, did in ROOT_DIDS.items()}
    with uds() as c:
        unlock(c)
        for did, der in roots.items():
            c.write_data_by_identifier(did, der)
    return roots


def qdisc_drops(name: str) -> int:
    m = re.search(r"dropped (\d+)", tc("-s", "qdisc", "show", "dev", name))
    assert m, tc("-s", "qdisc", "show", "dev", name)
    return int(m.group(1))


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("tc") is None, reason="a qdisc needs root and tc (the VM has both)")
def test_long_answer_complete_and_in_order_behind_a_rate_limit(module, pkis):
    roots = install_roots(pkis[0])
    request = b"\x22" + b"".join(did.to_bytes(2, "big") for did in roots)
    expected = b"\x62" + b"".join(did.to_bytes(2, "big") + der for did, der in roots.items())
    assert 2000 < len(expected) <= 4095, len(expected)        # one classic ISO-TP message, hundreds of frames
    tc("qdisc", "replace", "dev", IFACE, "root", "tbf", *TBF)
    try:
        before = qdisc_drops(IFACE)
        with bus() as sniffer:
            trace: list[can.Message] = []
            grab = threading.Thread(target=lambda: trace.extend(collect(sniffer, 8.0, ids={0x7A8})))
            grab.start()
            conn = kernel_connection(PEER_IFACE, 0x7A0)               # flow control BS 0, STmin 0: no pause
            with conn.open():
                conn.empty_rxqueue()
                conn.send(request)
                answer = conn.wait_frame(timeout=10, exception=True)
            grab.join()
        dropped = qdisc_drops(IFACE) - before
    finally:
        tc("qdisc", "del", "dev", IFACE, "root")
    assert answer == expected, f"{len(answer)} bytes, expected {len(expected)}"
    assert dropped > 0, "the rate limit never pushed back (no frame dropped by the qdisc): the test proved nothing"
    # on the wire: one first frame, then every consecutive frame once, sequence numbers 1, 2, ... 15, 0, 1 ...
    frames = [bytes(m.data) for m in trace]
    first = next(i for i, d in enumerate(frames) if d[0] >> 4 == 1)
    cfs = [d for d in frames[first + 1:] if d[0] >> 4 == 2]
    assert len(cfs) == (len(expected) - 6 + 6) // 7, len(cfs)
    assert [d[0] & 0x0F for d in cfs] == [(k + 1) % 16 for k in range(len(cfs))]
    assert module.alive
