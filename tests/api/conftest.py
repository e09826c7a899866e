"""Host tests of the VOS owner API (OP-01a, OP-01b): no CAN bus, nothing built here.

Once per session: ``spaak-soak vos-fixture`` makes a VOS database with provisioned vehicles
(the last ``UNPROVISIONED`` of them without a verifier), then ``spaak-cloud serve --no-bus
--http 127.0.0.1:0`` runs on it (tests/api/apiserver.py). Tests claim vehicles of their own
(``claim``) so that no test sees another's state.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apiserver import SCRYPT_N, UNPROVISIONED, VEHICLES, VOSServer, binary  # noqa: E402


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vos-fixture")
    soak = binary("spaak-soak")
    result = subprocess.run([soak, "vos-fixture", "--out", str(out), "--vehicles", str(VEHICLES),
                             "--unprovisioned", str(UNPROVISIONED), "--scrypt-n", str(SCRYPT_N)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"spaak-soak vos-fixture failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    lines = [line for line in result.stdout.splitlines() if line.startswith("vehicle ")]
    assert len(lines) == VEHICLES, f"expected one line per vehicle:\n{result.stdout}"
    return out


@pytest.fixture(scope="session")
def fixture_vehicles(fixture_dir) -> list:
    return json.loads((fixture_dir / "vehicles.json").read_text())


@pytest.fixture(scope="session")
def server(tmp_path_factory, fixture_dir, fixture_vehicles):
    base = tmp_path_factory.mktemp("vos-server")
    vos = VOSServer(base, fixture_dir, fixture_vehicles)
    yield vos
    alive = vos.child.alive
    vos.stop()
    assert alive, "spaak-cloud serve died during the tests:\n" + vos.child.last_lines()


@pytest.fixture
def claim(server):
    return server.claim
