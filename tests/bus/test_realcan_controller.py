"""The module's controller setup and state on a real CAN controller (QEMU's SJA1000 as can0,
scripts/vcan-run with VCAN_CONTROLLERS=kvaser; the command is in conftest.py's docstring):

- ``spaak-ecu --bitrate N --restart-ms N`` sets can0 up (``ip -d link show`` says so) and the
  module runs on it; without the options the controller is left as it is;
- ``--bitrate`` on a vcan, or without CAP_NET_ADMIN, fails at start with a clear line and
  exit status 1; out-of-range values are refused by the option check (status 64);
- DID 0xD130 reads the controller's state and bitrate on can0 (error-active, 500000) and
  0xFE (virtual) with bitrate 0 on vcan0;
- error frames injected on can0 (the SJA1000 driver echoes a frame sent with CAN_ERR_FLAG to
  the sockets whose CAN_RAW_ERR_FILTER matches) reach the module's CanSM: error-passive, then
  bus-off halts transmission; the status polled through libsocketcan at once says
  error-active, so it resumes after the quiet period; 0xD130 counts them.

QEMU's SJA1000 never goes bus-off by itself (no bit timing, no ACK or bit errors), and its
polled state stays error-active: the kernel's restart after a real bus-off and the module's
restart (--restart-ms 0) run in the unit tests (Tests/CanSMTests) only.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from cloudpeer import Cloud
from plantpeer import client, read, uds
from spaakbus import IFACE, ON_CONTROLLERS, PEER_IFACE, Module, bin_path, bus, collect, is_controller
from spaaklib.uds import DID_CAN_BUS, kernel_connection

pytestmark = [pytest.mark.realcan,
              pytest.mark.skipif(not ON_CONTROLLERS or not is_controller(IFACE),
                                 reason=f"{IFACE} is not a real CAN controller: run with "
                                        "VCAN_CONTROLLERS=kvaser SPAAK_IFACE=can0 SPAAK_PEER_IFACE=can1 "
                                        "scripts/vcan-run")]

BITRATE = int(os.environ.get("VCAN_BITRATE", "500000"))
RESTART_MS = int(os.environ.get("VCAN_RESTART_MS", "100"))
OTHER_BITRATE = 250000 if BITRATE != 250000 else 125000
IS_ROOT = os.geteuid() == 0


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=20).stdout


def details(name: str) -> str:
    return ip("-details", "link", "show", name)


def restore(name: str) -> None:
    """can0 as scripts/vcan-run left it: VCAN_BITRATE, VCAN_RESTART_MS, up."""
    ip("link", "set", name, "down")
    ip("link", "set", name, "type", "can", "bitrate", str(BITRATE), "restart-ms", str(RESTART_MS))
    ip("link", "set", name, "up")


def decode(raw: bytes) -> dict:
    """DID 0xD130 (docs/ICD-CHOICES.md)."""
    assert isinstance(raw, bytes) and len(raw) == 23, raw
    return {"state": raw[0], "tec": raw[1], "rec": raw[2], "bitrate": int.from_bytes(raw[3:7], "big"),
            "bus_offs": int.from_bytes(raw[7:9], "big"), "recoveries": int.from_bytes(raw[9:11], "big"),
            "error_frames": int.from_bytes(raw[11:15], "big")}


def run_ecu(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """spaak-ecu that is expected to stop at start (a throw-away store)."""
    store = tempfile.mkdtemp(prefix="spaak-store-")
    try:
        return subprocess.run([*prefix, bin_path("spaak-ecu"), "--serial", "SPK0000000001", "--store", store, *args],
                              capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(store, ignore_errors=True)
        counter = os.path.join(os.path.dirname(store), "." + os.path.basename(store) + ".counter")
        if os.path.exists(counter):
            os.remove(counter)


@pytest.fixture
def restored():
    """Puts IFACE and PEER_IFACE back to the VM's setup after a test that changed them."""
    yield
    for name in dict.fromkeys((IFACE, PEER_IFACE)):
        if is_controller(name):
            restore(name)


def test_the_state_did_reads_the_controller():
    """Without --bitrate the controller is left alone, and 0xD130 reads what it is."""
    before = details(IFACE)
    m = Module()
    try:
        with uds() as c:
            record = decode(read(c, DID_CAN_BUS))
        assert record["state"] == 0, record                      # error-active
        assert record["bitrate"] == BITRATE, record
        assert record["bus_offs"] == 0 and record["recoveries"] == 0, record
        assert m.alive
    finally:
        m.stop()
    assert re.search(rf"\bbitrate {BITRATE}\b", before) and re.search(rf"\bbitrate {BITRATE}\b", details(IFACE))


@pytest.mark.skipif(not IS_ROOT, reason="setting a controller up needs CAP_NET_ADMIN (the VM runs tests as root)")
def test_bitrate_option_sets_the_controller_up(restored):
    m = Module("--bitrate", str(OTHER_BITRATE), "--restart-ms", "0")
    try:
        out = details(IFACE)
        assert re.search(rf"\bbitrate {OTHER_BITRATE}\b", out), out
        assert "restart-ms 0" in out, out
        assert "can state ERROR-ACTIVE" in out, out
        assert "state UP" in out or ",UP" in out, out
        assert any(f"CAN controller set up at {OTHER_BITRATE} bit/s, restart-ms 0" in line for line in m.lines), m.lines
        with uds() as c:
            record = decode(read(c, DID_CAN_BUS))
        assert record["state"] == 0 and record["bitrate"] == OTHER_BITRATE, record
        assert m.alive
    finally:
        m.stop()


@pytest.mark.skipif(not IS_ROOT or shutil.which("setpriv") is None,
                    reason="dropping CAP_NET_ADMIN needs root and util-linux's setpriv")
def test_bitrate_without_cap_net_admin_fails_clearly():
    before = details(IFACE)
    done = run_ecu("--interface", IFACE, "--bitrate", str(OTHER_BITRATE),
                   prefix=("setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin", "--"))
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert (f"--bitrate: setting up {IFACE} needs CAP_NET_ADMIN (run as root or give the binary cap_net_admin)"
            in out), out
    assert details(IFACE) == before, "the controller was touched"


@pytest.mark.skipif(not os.path.exists("/sys/class/net/vcan0"), reason="no vcan0 next to the controllers")
def test_bitrate_on_vcan_fails_clearly():
    done = run_ecu("--interface", "vcan0", "--bitrate", str(OTHER_BITRATE), "--restart-ms", "0")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "--bitrate: vcan0 is not a CAN controller (a virtual interface has no bitrate)" in out, out


@pytest.mark.parametrize("args, text", [
    (("--bitrate", "5000"), "--bitrate 5000 is out of range"),
    (("--bitrate", "2000000"), "--bitrate 2000000 is out of range"),
    (("--bitrate", "500000", "--restart-ms", "60001"), "--restart-ms 60001 is out of range"),
    (("--restart-ms", "100"), "--restart-ms needs --bitrate"),
])
def test_out_of_range_setup_is_refused_before_anything(args, text):
    before = details(IFACE)
    done = run_ecu("--interface", IFACE, *args)
    out = done.stdout + done.stderr
    assert done.returncode == 64, out                      # ArgumentParser's validation error
    assert text in out, out
    assert details(IFACE) == before


@pytest.mark.skipif(not os.path.exists("/sys/class/net/vcan0"), reason="no vcan0 next to the controllers")
def test_the_state_did_reads_virtual_on_vcan0():
    m = Module("--interface", "vcan0")                     # the last --interface wins
    try:
        with client(kernel_connection("vcan0", 0x7A0)) as c:
            record = decode(read(c, DID_CAN_BUS))
        assert record["state"] == 0xFE, record
        assert record["tec"] == 0 and record["rec"] == 0 and record["bitrate"] == 0, record
        assert m.alive
    finally:
        m.stop()


@pytest.mark.skipif(not IS_ROOT or not is_controller(PEER_IFACE), reason="needs root and a controller as the peers' interface")
def test_cloud_bitrate_option_sets_its_controller_up(restored, pkis, tmp_path):
    cloud = Cloud(tmp_path / "cloud", pkis[0], tmp_path / "vos.sqlite", "--bitrate", str(OTHER_BITRATE), "--restart-ms", "0")
    try:
        out = details(PEER_IFACE)
        assert re.search(rf"\bbitrate {OTHER_BITRATE}\b", out) and "restart-ms 0" in out, out
        assert any(f"{PEER_IFACE}: CAN controller set up at {OTHER_BITRATE} bit/s" in line for line in cloud.lines), cloud.lines
        assert cloud.alive
    finally:
        cloud.stop()


@pytest.mark.skipif(not os.path.exists("/sys/class/net/vcan0"), reason="no vcan0 next to the controllers")
def test_cloud_bitrate_on_vcan_fails_clearly(tmp_path):
    done = subprocess.run([bin_path("spaak-cloud"), "serve", "--interface", "vcan0", "--bitrate", str(OTHER_BITRATE),
                           "--pki", str(tmp_path / "no-pki"), "--db", str(tmp_path / "vos.sqlite")],
                          capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "spaak-cloud: --bitrate: vcan0 is not a CAN controller (a virtual interface has no bitrate)" in out, out
    assert not (tmp_path / "vos.sqlite").exists(), "the VOS started before the setup failed"


CAN_ERR_FLAG = 0x20000000
STATUS_ID = 0x3A8


def inject(classes: int, data: bytes = bytes(8)) -> None:
    """An error frame as the controller's driver delivers it: written on IFACE with CAN_ERR_FLAG,
    the SJA1000 driver sends it (a data frame with the class bits as id on the wire) and echoes it,
    flag and all, to the sockets on IFACE whose CAN_RAW_ERR_FILTER matches."""
    with socket.socket(socket.PF_CAN, socket.SOCK_RAW, socket.CAN_RAW) as s:
        s.bind((IFACE,))
        s.send(struct.pack("=IB3x8s", CAN_ERR_FLAG | classes, 8, data))


def test_injected_error_frames_reach_the_state_manager(module):
    start = len(module.lines)
    # CAN_ERR_CRTL | CAN_ERR_CNT, data[1] CAN_ERR_CRTL_TX_PASSIVE, TEC 128
    inject(0x204, bytes([0, 0x20, 0, 0, 0, 0, 128, 0]))
    module.wait_for("CAN controller error-passive (was error-active; TEC 128", timeout=10, start=start)
    # the poll that follows reads the driver's real state
    module.wait_for("CAN controller error-active (was error-passive", timeout=10, start=start)
    time.sleep(0.2)                                          # past CanSM's 100 ms gap between triggered polls
    off = len(module.lines)
    inject(0x040)                                            # CAN_ERR_BUSOFF
    module.wait_for("bus-off: transmission halted; the kernel restarts the controller after", timeout=10, start=off)
    module.wait_for("back on the bus (error-active)", timeout=10, start=off)
    module.wait_for("transmission resumed", timeout=10, start=off)
    with bus() as peer:
        assert len(collect(peer, 1.0, ids={STATUS_ID})) >= 5, "SPAAK_Status did not resume"
    with uds() as c:
        record = decode(read(c, DID_CAN_BUS))
    assert record["state"] == 0, record
    assert record["error_frames"] == 2 and record["bus_offs"] == 1 and record["recoveries"] == 1, record
    assert module.alive
