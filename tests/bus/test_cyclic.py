"""ICD 3: SPAAK_Status every 100 ms with a valid E2E header; TBM_Status supervision."""
import statistics
import subprocess
import time

import can
import pytest

from spaakbus import PEER_IFACE, TBMSender, bus, collect, e2e_valid, spaak_status, tbm_status, tool, wait_status

ONLINE = 0x80

pytestmark = pytest.mark.realcan


def test_spaak_status_seen_by_candump(module):
    out = subprocess.run([tool("candump"), "-L", "-n", "12", f"{PEER_IFACE},3A8:7FF"],
                         capture_output=True, text=True, timeout=20).stdout
    frames = []
    for line in out.splitlines():
        ts, _, frame = line.split()
        can_id, data = frame.split("#")
        frames.append((float(ts[1:-1]), int(can_id, 16), bytes.fromhex(data)))
    assert len(frames) >= 10, out
    assert all(cid == 0x3A8 and e2e_valid(0x3A8, data) for _, cid, data in frames), out
    counters = [data[1] & 0x0F for _, _, data in frames]
    assert all(b == (a + 1) % 15 for a, b in zip(counters, counters[1:])), counters
    periods = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
    assert 0.08 <= statistics.median(periods) <= 0.12, periods


def test_cansend_tbm_status_sets_online_and_timeout_clears_it(module):
    with bus() as b:
        assert spaak_status(b)[2] & ONLINE == 0
        # The ICD's own example frames, sent with cansend, in counter order.
        for frame in ("9B00030000000000", "C601030000000000", "2102030000000000"):
            subprocess.run([tool("cansend"), PEER_IFACE, f"3A0#{frame}"], check=True)
        status = wait_status(b, lambda d: d[2] & ONLINE, timeout=0.6)
        assert e2e_valid(0x3A8, status)
        sent = time.monotonic()
        # No further TBM frame: offline again 1000 ms after the last valid one.
        wait_status(b, lambda d: not d[2] & ONLINE, timeout=2.0)
        assert time.monotonic() - sent >= 0.85


def test_invalid_tbm_frames_never_set_online(module):
    with bus() as b:
        bad = bytearray(tbm_status(0))
        bad[0] ^= 0xFF
        frames = [bytes(bad),                    # wrong CRC
                  tbm_status(1)[:7],             # wrong DLC
                  tbm_status(2, subscribed=False),  # valid, not subscribed
                  tbm_status(3, connected=False)]   # valid, not connected
        for _ in range(8):
            for data in frames:
                b.send(can.Message(arbitration_id=0x3A0, data=data, is_extended_id=False))
            time.sleep(0.05)
        for m in collect(b, 0.5, ids={0x3A8}):
            assert m.data[2] & ONLINE == 0, bytes(m.data).hex()


def test_cleared_bit_goes_offline_at_once(module):
    with bus() as b:
        tbm = TBMSender()
        try:
            wait_status(b, lambda d: d[2] & ONLINE, timeout=1.0)
            tbm.subscribed = False
            start = time.monotonic()
            wait_status(b, lambda d: not d[2] & ONLINE, timeout=1.0)
            assert time.monotonic() - start < 0.6
        finally:
            tbm.stop()
