"""Issue 7, defect 7: no bad option ends the module late, and no bus error ends it at all.

- Identifiers are checked at start: ``--uds-request-id 7FA`` (response id 0x7FA + 8 = 0x802)
  is refused at once with a message naming the fix, instead of starting and dying on the
  first request.
- The interface going down (``ip link set vcan0 down``) or being deleted and created again
  does not end the module: it logs the outage once, reopens the interface every 500 ms,
  keeps its state (the same process: a VIN written before is read back) and resumes
  (SPAAK_Status again, UDS answers).

The VM runs the tests as root, so ``ip`` can change vcan0 (skipped otherwise).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from spaakbus import IFACE, Module, bin_path, bus, spaak_status
from plantpeer import VIN, client, connection, read, unlock

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="changing the interface needs root and iproute2 (the VM has both)")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, timeout=20)


def mtu() -> int:
    return int(Path(f"/sys/class/net/{IFACE}/mtu").read_text())


def write_vin(m: Module) -> None:
    with client(connection()) as c:
        unlock(c)
        c.write_data_by_identifier(0xF190, VIN)
        assert read(c, 0xF190) == VIN


def check_resumed(m: Module, since: int) -> None:
    """After an outage: logged once, reopened, the same process answers with its state."""
    m.wait_for("is back after", timeout=20, start=since)
    lost = [line for line in m.lines[since:] if f"{IFACE} lost" in line]
    assert len(lost) == 1, "\n".join(m.lines[since:])
    assert sum("ready" in line for line in m.lines) == 1, "the module started again"
    with bus() as b:
        spaak_status(b, timeout=3)
    with client(connection()) as c:
        assert read(c, 0xF190) == VIN                 # the VIN written before the outage
        assert read(c, 0xF18C) == m.serial.encode()
    assert m.alive


def test_derived_response_id_out_of_range_is_refused_at_start(tmp_path):
    cmd = [bin_path("spaak-ecu"), "--interface", IFACE, "--store", str(tmp_path / "store"), "--uds-request-id", "7FA"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"spaak-ecu started with a response id of 0x802: {e.stdout}")
    text = done.stdout + done.stderr
    assert done.returncode != 0, text
    assert "0x802" in text and "--uds-response-id" in text, text
    assert "ready" not in text, text


def test_shared_identifier_is_refused_at_start(tmp_path):
    cmd = [bin_path("spaak-ecu"), "--interface", IFACE, "--store", str(tmp_path / "store"),
           "--uds-functional-id", "7A0"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"spaak-ecu started with one id for two roles: {e.stdout}")
    assert done.returncode != 0 and "0x7A0" in done.stdout + done.stderr


def test_interface_down_and_up_the_module_resumes_with_its_state():
    m = Module()
    try:
        write_vin(m)
        since = len(m.lines)
        ip("link", "set", IFACE, "down")
        time.sleep(1.5)
        assert m.alive, "\n".join(m.lines[-20:])
        ip("link", "set", IFACE, "up")
        check_resumed(m, since)
    finally:
        ip("link", "set", IFACE, "up")
        m.stop()


@pytest.mark.vcan_only("it deletes the interface and creates it again as a vcan")
def test_interface_deleted_and_created_again_the_module_resumes_with_its_state():
    m = Module()
    size = mtu()
    try:
        write_vin(m)
        since = len(m.lines)
        ip("link", "delete", IFACE)
        time.sleep(1.5)
        assert m.alive, "\n".join(m.lines[-20:])
        ip("link", "add", "dev", IFACE, "type", "vcan")
        ip("link", "set", IFACE, "mtu", str(size))
        ip("link", "set", IFACE, "up")
        check_resumed(m, since)
    finally:
        if not Path(f"/sys/class/net/{IFACE}").exists():
            ip("link", "add", "dev", IFACE, "type", "vcan")
            ip("link", "set", IFACE, "mtu", str(size))
        ip("link", "set", IFACE, "up")
        m.stop()
    assert "bus outages 1" in "\n".join(m.lines), "\n".join(m.lines[-5:])
