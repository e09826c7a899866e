"""The README's "On a real CAN adapter" lines (its ```sh can0 block), run as written on QEMU's
SJA1000 (scripts/vcan-run with VCAN_CONTROLLERS=kvaser; module and commands on can0, the way a
user with one adapter types them): the controller set up by hand and shown by ``ip``, the
module started with ``--bitrate``/``--restart-ms``, ``candump -e`` seeing SPAAK_Status, and DID
0xD130 read with the kernel's ISO-TP tools saying error-active at 500 kbit/s.

Each line must have a check here, so the block cannot drift from what runs.
"""
from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from spaakbus import IFACE, ROOT, bin_path

pytestmark = pytest.mark.realcan

README = ROOT / "README.md"


def can0_lines(text: str) -> list[tuple[str, str]]:
    """(command, comment) of every line in a ```sh can0 block, in order."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh can0" if not inside else False
            continue
        if inside and line.strip():
            command, _, comment = line.partition("   #")
            out.append((command.strip(), comment.strip()))
    return out


def localise(command: str) -> str:
    return command.replace(".build/release/spaak-ecu", bin_path("spaak-ecu"))


def run(command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", localise(command)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


class Session:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.module: subprocess.Popen | None = None

    def setup_by_hand(self, command, comment):
        result = run(command)
        assert result.returncode == 0, result.stderr

    def ip_show(self, command, comment):
        result = run(command)
        assert result.returncode == 0, result.stderr
        text = result.stdout
        assert re.search(r"can state ERROR-ACTIVE \(berr-counter tx \d+ rx \d+\) restart-ms 100", text), text
        assert "bitrate 500000" in text, text

    def start_module(self, command, comment):
        line = localise(command).rstrip("&").strip().replace("/tmp/spk1", str(self.tmp_path / "spk1"))
        self.module = subprocess.Popen(["bash", "-c", "exec " + line], cwd=ROOT, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = self.module.stdout.readline()
            assert ready or self.module.poll() is None, "spaak-ecu ended before it was ready"
            if "ready" in ready:
                return
        pytest.fail("spaak-ecu was not ready within 60 s")

    def candump(self, command, comment):
        result = run(command, timeout=30)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 10 and all(re.search(r"\bcan0\s+3A8\s+\[8\]", l) for l in lines), result.stdout

    def read_d130(self, command, comment):
        result = run(command, timeout=30)
        assert result.returncode == 0, result.stderr
        answer = result.stdout.split()
        # 62 D1 30, then state 00 (error-active), TEC, REC, bitrate 00 07 A1 20 (500000): 23 bytes.
        assert answer[:4] == ["62", "D1", "30", "00"], result.stdout
        assert answer[6:10] == ["00", "07", "A1", "20"], result.stdout
        assert len(answer) == 3 + 23, result.stdout
        shown = comment.split(":")[0].split()
        assert shown[:4] == answer[:4] and shown[6:10] == answer[6:10], comment

    def stop(self):
        if self.module and self.module.poll() is None:
            self.module.send_signal(signal.SIGTERM)
            try:
                self.module.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.module.kill()


CHECKS = [
    (r"^ip link set can0 down; ip link set can0 type can bitrate 500000 restart-ms 100; ip link set can0 up$",
     Session.setup_by_hand),
    (r"^ip -details link show can0$", Session.ip_show),
    (r"^\.build/release/spaak-ecu --interface can0 --bitrate 500000 --restart-ms 100 .* &$", Session.start_module),
    (r"^candump -e -n 10 can0$", Session.candump),
    (r"^isotprecv .* can0 & sleep [0-9.]+; echo 22 D1 30 \| isotpsend .* can0; wait \$!$", Session.read_d130),
]


def check_for(command: str):
    return next((check for pattern, check in CHECKS if re.match(pattern, command)), None)


def test_every_adapter_line_has_a_check():
    lines = can0_lines(README.read_text())
    assert len(lines) == len(CHECKS), lines
    assert [c for c, _ in lines if check_for(c) is None] == []


def test_adapter_lines_run_as_documented(tmp_path):
    if not IFACE.startswith("can"):
        pytest.skip("the README's adapter lines need a real controller as can0 "
                    "(VCAN_CONTROLLERS=kvaser SPAAK_IFACE=can0 scripts/vcan-run …)")
    session = Session(tmp_path)
    try:
        for command, comment in can0_lines(README.read_text()):
            check_for(command)(session, command, comment)
        assert session.module is not None and session.module.poll() is None, "spaak-ecu died"
    finally:
        session.stop()
