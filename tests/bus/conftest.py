"""Bus tests need a SocketCAN interface: run them through scripts/vcan-run.

Without one they are skipped as a whole, with the reason printed, never silently passed.
"""
import os
import socket
import pytest

from spaakbus import IFACE, Module


def _iface_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def pytest_collection_modifyitems(config, items):
    reason = None
    if not hasattr(socket, "AF_CAN"):
        reason = "python has no AF_CAN"
    elif not _iface_exists(IFACE):
        reason = f"{IFACE} does not exist: run the bus tests through scripts/vcan-run"
    if reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def module():
    m = Module(*os.environ.get("SPAAK_ECU_ARGS", "").split())
    yield m
    alive = m.alive
    m.stop()
    assert alive, "spaak-ecu died during the test:\n" + "\n".join(m.lines[-40:])


@pytest.fixture
def module_with_vin():
    m = Module("--vin", "ZFA25000001234567")
    yield m
    alive = m.alive
    m.stop()
    assert alive, "spaak-ecu died during the test:\n" + "\n".join(m.lines[-40:])
