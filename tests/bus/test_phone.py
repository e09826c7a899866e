"""spaak-phone (the project's phone and NFC reader simulator) against spaak-ecu on a real bus:
both phases, phase by phase from the key file, a removal that counts, the HU counter kept by
hu-start. The independent device of ICD 8 (tests/bus/nfcdevice.py) is tested in
test_pairing.py; these tests check the tool users run by hand and the demo runs.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from test_cloud import SERIAL, plant  # noqa: E402,F401
from test_pairing import (KEY_ACTIVE, KEY_PENDING, WINDOW_OPEN, bench, owner_status, prig, provisioned,  # noqa: E402,F401
                          byte7_path)

from spaakbus import PEER_IFACE, bin_path  # noqa: E402


def phone(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    p = subprocess.run([bin_path("spaak-phone"), *args], capture_output=True, text=True, timeout=timeout)
    print(f"$ spaak-phone {' '.join(args)}\n{p.stdout}{p.stderr}exit {p.returncode}", flush=True)
    return p


def hu(r, work: Path):
    mark = r.rec.mark()
    p = phone("hu-start", "--interface", PEER_IFACE, "--counter-file", str(work / "hu.counter"))
    assert p.returncode == 0
    return r.status(lambda s: s[7] == WINDOW_OPEN, 10, "pairing window open", start=mark)


def test_pair_both_phases(prig, plant, tmp_path):
    r = prig
    password = r.push_verifier()
    hu(r, tmp_path)
    # A second hu-start in a row takes the next counter: the module restarts the window.
    hu(r, tmp_path)
    assert any("restarted" in line for line in r.module.lines), "\n".join(r.module.lines[-20:])
    key = tmp_path / "phone.key"
    mark = r.rec.mark()
    p = phone("pair", "--interface", PEER_IFACE, "--password", password, "--pki", str(plant.pki), "--key", str(key),
              "--name", "Alice's phone")
    assert p.returncode == 0
    assert byte7_path(r.rec.statuses(mark))[-1] == KEY_ACTIVE
    st = owner_status()
    assert st.state == KEY_ACTIVE and st.name == "Alice's phone"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert "BEGIN CERTIFICATE" in key.read_text()


def test_phase_by_phase_and_remove_after(prig, plant, tmp_path):
    r = prig
    password = r.push_verifier()
    hu(r, tmp_path)
    key = tmp_path / "phone.key"
    base = ["pair", "--interface", PEER_IFACE, "--pki", str(plant.pki), "--key", str(key)]
    # Leaving after VERIFY: a failed attempt.
    mark = r.rec.mark()
    p = phone(*base, "--password", password, "--phase", "2", "--remove-after", "verify")
    assert p.returncode == 1
    r.attempts(1, mark)
    # Phase 2 alone: pending; [K] kept in the key file.
    p = phone(*base, "--password", password, "--phase", "2")
    assert p.returncode == 0 and owner_status().state == KEY_PENDING
    # Phase 3 alone, in another run, from the key file.
    p = phone(*base, "--phase", "3")
    assert p.returncode == 0 and owner_status().state == KEY_ACTIVE
    # Phase 3 again: no window any more, the module sends nothing.
    p = phone(*base, "--phase", "3", "--timeout", "2")
    assert p.returncode == 1 and "no SELECT" in p.stdout
