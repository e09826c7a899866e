"""Bus tests need a SocketCAN interface: run them through scripts/vcan-run.

Without one they are skipped as a whole, with the reason printed, never silently passed.
The Python peer of the module (E2E, UDS, starting the binaries) is scripts/spaaklib.

The module runs on ``SPAAK_IFACE`` (default vcan0), every peer on ``SPAAK_PEER_IFACE``
(default: the same). On real CAN controllers (QEMU's SJA1000s: scripts/vcan-run with
VCAN_CONTROLLERS=kvaser) the module is on can0 and its peers on can1; the tests marked
``realcan`` are the subset that makes sense there, and one command runs them:

    VCAN_CONTROLLERS=kvaser SPAAK_IFACE=can0 SPAAK_PEER_IFACE=can1 \
        scripts/vcan-run .venv/bin/python -m pytest -q -rs -m realcan tests/bus

Tests marked ``vcan_only(reason)`` (they delete or recreate vcan interfaces, need CAN FD,
...) are skipped with that reason on real controllers; test_realcan.py is skipped on vcan.
"""
import os
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from spaakbus import IFACE, ON_CONTROLLERS, PEER_IFACE, Module  # noqa: E402 (after the path to spaaklib)
from plantpeer import pki_dir  # noqa: E402


def _iface_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def pytest_configure(config):
    config.addinivalue_line("markers", "realcan: in the subset of bus tests run on real CAN controllers "
                                       "(module on SPAAK_IFACE=can0, peers on SPAAK_PEER_IFACE=can1)")
    config.addinivalue_line("markers", "vcan_only(reason): cannot make sense on real CAN controllers "
                                       "(skipped there with the reason)")


def pytest_collection_modifyitems(config, items):
    reason = None
    if not hasattr(socket, "AF_CAN"):
        reason = "python has no AF_CAN"
    else:
        missing = [i for i in dict.fromkeys((IFACE, PEER_IFACE)) if not _iface_exists(i)]
        if missing:
            reason = f"{' and '.join(missing)} does not exist: run the bus tests through scripts/vcan-run"
    if reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    if ON_CONTROLLERS:
        for item in items:
            marker = item.get_closest_marker("vcan_only")
            if marker is not None:
                why = marker.args[0] if marker.args else "needs vcan"
                item.add_marker(pytest.mark.skip(reason=f"not on real CAN controllers ({IFACE}, {PEER_IFACE}): {why}"))


def _running(*args: str):
    """A module for one test; it must still run at the end (then it is stopped)."""
    m = Module(*args)
    yield m
    alive = m.alive
    m.stop()
    assert alive, "spaak-ecu died during the test:\n" + "\n".join(m.lines[-40:])


@pytest.fixture
def module():
    yield from _running(*os.environ.get("SPAAK_ECU_ARGS", "").split())


@pytest.fixture
def module_with_vin():
    yield from _running("--vin", "ZFA25000001234567")


@pytest.fixture
def modules():
    """Starts modules on demand; stops every one of them (and removes their stores) at the end."""
    started = []

    def start(*args, serial="SPK0000000001", store=None, txid=0x7A0):
        m = Module("--uds-request-id", f"{txid:X}", *args, serial=serial, store=store)
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


@pytest.fixture(scope="module")
def pkis(tmp_path_factory):
    """Two independent hierarchies: A (used for provisioning) and B (other keys)."""
    base = tmp_path_factory.mktemp("pki")
    return pki_dir(base / "A"), pki_dir(base / "B")
