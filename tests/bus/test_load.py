"""Diagnostics under load (issue 7, defect 10): certificate writes run their KeyM checks and
store commits off the module's event loop, so SPAAK_Status keeps its 100 ms grid while the
store works, and a write answers NRC 0x78 before its final response.
"""
from __future__ import annotations

import threading
import time

from spaakbus import bus
from plantpeer import client, connection, der, unlock
from spaaklib.uds import ROOT_DIDS

STATUS_ID = 0x3A8
PENDING = bytes.fromhex("7F2E78")


def test_status_keeps_its_grid_during_certificate_writes(modules, pkis):
    a, _ = pkis
    modules()
    conn = connection()
    stamps: list[float] = []
    stop = threading.Event()
    with bus() as b, client(conn) as c:
        def listen():
            while not stop.is_set():
                m = b.recv(timeout=0.1)
                if m is not None and m.arbitration_id == STATUS_ID:
                    stamps.append(m.timestamp)               # the kernel's receive time

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        unlock(c)
        first_answers = []
        for _ in range(3):                                   # a batch: the five roots, three times
            for name, did in ROOT_DIDS.items():
                conn.empty_rxqueue()
                conn.send(bytes([0x2E, did >> 8, did & 0xFF]) + der(a, name))
                answer = conn.wait_frame(timeout=10, exception=True)
                first_answers.append(answer)
                while answer == PENDING:
                    answer = conn.wait_frame(timeout=10, exception=True)
                assert answer == bytes([0x6E, did >> 8, did & 0xFF]), answer.hex()
        time.sleep(0.3)
        stop.set()
        listener.join()
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    print(f"SPAAK_Status: {len(stamps)} frames, largest gap {max(gaps, default=0) * 1000:.0f} ms")
    assert len(stamps) > 10 and max(gaps) < 0.3, f"largest SPAAK_Status gap {max(gaps) * 1000:.0f} ms"
    assert PENDING in first_answers                          # the store work outlasted P2
