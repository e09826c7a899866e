"""Issue 7, defect 14: every command line of the README is run by a test, so the README
cannot drift from what the tools do.

Every line of every ``sh`` code block of README.md must match one entry of ``CHECKS``
(an unknown line fails the test: add a check with it). Lines that run something on the bus
are run as written, in order, in one scenario against a running module, each with the
expectation the README states next to it:

- ``spaak-ecu … &`` prints its ready line;
- ``candump -n 20 vcan0`` shows SPAAK_Status (3A8);
- the two ``cansend 3A0#…`` make the TBM online: the next SPAAK_Status has byte 2 bit 7 set;
- the ``isotprecv … & …; echo 22 F1 8C | isotpsend …; wait $!`` line prints the serial
  (62 F1 8C + the ASCII serial) — started the old way round it often printed nothing.

Set-up lines are checked, not run: ``swift build -c release`` (its product, spaak-ecu, must
exist), ``scripts/demo`` and ``scripts/vm-shell`` (``--help`` answers, exit status 0),
``scripts/test`` (exists and is executable: it is the command running this test).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from spaakbus import IFACE, PEER_IFACE, ROOT, bin_path, bus, spaak_status

README = ROOT / "README.md"
SERIAL_HEX = " ".join(f"{b:02X}" for b in b"SPK0000000001")


def shell_lines(text: str) -> list[tuple[str, str]]:
    """(command, comment) of every line in a ```sh block, in order."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() in ("```sh", "```bash", "```shell") if not inside else False
            continue
        if inside and line.strip():
            command, _, comment = line.partition("   #")
            if command.lstrip().startswith("#"):
                continue
            out.append((command.strip(), comment.strip()))
    return out


def run(command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """One README line as a user types it, in bash, from the project folder (VM: as root)."""
    return subprocess.run(["bash", "-c", localise(command)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def localise(command: str) -> str:
    """`.build/release/` stands for the binaries under test ($SPAAK_BIN_DIR when set)."""
    return (command.replace(".build/release/spaak-ecu", bin_path("spaak-ecu"))
            .replace(".build/release/spaak-phone", bin_path("spaak-phone")))


class Scenario:
    """The README's hand session, line after line, with what each line promises."""

    def __init__(self):
        self.module: subprocess.Popen | None = None
        self.lines: list[str] = []

    def setup_build(self, command, comment):
        assert Path(bin_path("spaak-ecu")).exists(), "swift build -c release gives .build/release/spaak-ecu"

    def setup_help(self, command, comment):
        script = ROOT / command.split()[0]
        assert os.access(script, os.X_OK), f"{script} is not executable"
        done = subprocess.run([str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and done.stdout.strip(), f"{command} --help: {done.stderr}"

    def setup_exists(self, command, comment):
        assert os.access(ROOT / command.split()[0], os.X_OK), f"{command} is not executable"

    def start_module(self, command, comment):
        store = re.search(r"--store (\S+)", command)
        if store:
            shutil.rmtree(store.group(1), ignore_errors=True)
        self.module = subprocess.Popen(["bash", "-c", "exec " + localise(command.rstrip("& "))], cwd=ROOT,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=lambda: self.lines.extend(self.module.stdout), daemon=True).start()
        end = time.monotonic() + 30
        while not any("ready" in line for line in self.lines):
            assert self.module.poll() is None and time.monotonic() < end, f"{command}: no ready line: {self.lines}"
            time.sleep(0.1)

    def candump(self, command, comment):
        assert "SPAAK_Status 3A8" in comment
        done = run(command, timeout=20)
        assert done.returncode == 0, done.stderr
        assert re.search(rf"{IFACE}\s+3A8\s+\[8\]", done.stdout), done.stdout

    def cansend(self, command, comment):
        with bus() as b:                               # listening before the frame goes out
            done = run(command)
            assert done.returncode == 0, done.stderr
            if "TBM-online bit (byte 2, bit 7) is set" in comment:
                # The TBM stays online 1000 ms after the frame: look at the status frames sent
                # after it (buffered since before the cansend), not at one read later.
                seen = [spaak_status(b, timeout=1.0) for _ in range(5)]
                assert any(data[2] & 0x80 for data in seen), \
                    f"SPAAK_Status {[d.hex() for d in seen]} does not show the TBM online"

    def read_serial(self, command, comment):
        assert "62 F1 8C" in comment
        for attempt in range(5):                       # the answer must come every time
            done = run(command, timeout=20)
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip().startswith(f"62 F1 8C {SERIAL_HEX}"), \
                f"attempt {attempt}: isotprecv printed {done.stdout!r}"

    def hu_request(self, command, comment):
        """A HU_Request line (cansend or spaak-phone hu-start): the module takes it (E2E ok, a
        new counter) and logs it; the unprovisioned module of this scenario opens no window."""
        assert "HU_Request" in comment or "same request" in comment
        before = sum("HU_Request: start owner pairing" in line for line in self.lines)
        done = run(command, timeout=20)
        assert done.returncode == 0, done.stderr
        end = time.monotonic() + 5
        while sum("HU_Request: start owner pairing" in line for line in self.lines) <= before:
            assert time.monotonic() < end, f"{command}: the module did not log the request: {self.lines[-5:]}"
            time.sleep(0.1)

    def phone_pair(self, command, comment):
        """spaak-phone pair needs a provisioned module and its password: checked, not run —
        the binary exists and takes every option the line uses (a bus test pairs for real:
        tests/bus/test_pairing.py and test_demo.py)."""
        done = subprocess.run([bin_path("spaak-phone"), "pair", "--help"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        for option in re.findall(r"(--[a-z-]+)", command):
            assert option in done.stdout, f"spaak-phone pair has no {option}"

    def owner_services_session(self, command, comment):
        """A line of the OP-01a curl session (HTTP on the host, no bus): run as written, with
        each shown answer compared, by tests/api/test_readme_curl.py; here only checked to be
        covered there."""
        runner = ROOT / "tests" / "api" / "test_readme_curl.py"
        assert runner.exists(), f"{runner} runs the owner services' curl session"
        assert "The owner services over HTTP" in runner.read_text(), "test_readme_curl.py no longer reads that section"

    def fleet(self, command, comment):
        """scripts/fleet: checked, not run here — `--help` answers and names every option of the
        line; tests/bus/test_fleet.py runs a fleet for real (vehicles, two instances, one killed)."""
        done = subprocess.run(["scripts/fleet", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        for option in re.findall(r"(--[a-z-]+)", command):
            assert option in done.stdout, f"scripts/fleet has no {option}"
        runner = ROOT / "tests" / "bus" / "test_fleet.py"
        assert "--kill-instance-at" in runner.read_text(), f"{runner} no longer runs a fleet with an instance killed"

    def stop(self):
        if self.module and self.module.poll() is None:
            self.module.terminate()
            self.module.wait(timeout=10)


CHECKS = [
    (r"^swift build -c release$", Scenario.setup_build),
    (r"^scripts/(demo|vm-shell)$", Scenario.setup_help),
    (r"^scripts/test$", Scenario.setup_exists),
    (r"^scripts/fleet( --[a-z-]+( [0-9.]+)?)*$", Scenario.fleet),
    (r"^\.build/release/spaak-ecu .* &$", Scenario.start_module),
    (r"^candump -n \d+ vcan0$", Scenario.candump),
    (r"^cansend vcan0 3A0#[0-9A-F]{16}$", Scenario.cansend),
    (r"^cansend vcan0 3C0#[0-9A-F]{16}$", Scenario.hu_request),
    (r"^\.build/release/spaak-phone hu-start --interface vcan0( --counter \d+)?$", Scenario.hu_request),
    (r"^\.build/release/spaak-phone pair .*$", Scenario.phone_pair),
    (r"^isotprecv .*& sleep [0-9.]+; echo 22 F1 8C \| isotpsend .*; wait \$!$", Scenario.read_serial),
    # The owner services' curl session (README "The owner services over HTTP"): tests/api/test_readme_curl.py.
    (r"^\.build/release/spaak-(soak|cloud) .*$", Scenario.owner_services_session),
    (r"^--idp-key \S+ --http 127\.0\.0\.1:8080 &$", Scenario.owner_services_session),
    (r"^TOKEN=\$\(\.build/release/spaak-cloud token .*\)$", Scenario.owner_services_session),
    (r"^curl .*$", Scenario.owner_services_session),
    (r"^(-d '.*' )?http://127\.0\.0\.1:8080/\S+$", Scenario.owner_services_session),
]


def check_for(command: str):
    for pattern, check in CHECKS:
        if re.match(pattern, command):
            return check
    return None


def test_every_readme_command_has_a_check():
    lines = shell_lines(README.read_text())
    assert any(c.startswith(".build/release/spaak-ecu") for c, _ in lines), "the hand session block is gone"
    unknown = [c for c, _ in lines if check_for(c) is None]
    assert not unknown, f"README lines no test runs (add them to CHECKS in {Path(__file__).name}): {unknown}"


@pytest.mark.skipif(shutil.which("isotprecv") is None, reason="can-utils missing")
def test_readme_commands_run_as_documented():
    if IFACE != "vcan0" or PEER_IFACE != IFACE:
        pytest.skip("the README's lines name vcan0, for the module and its peers alike")
    scenario = Scenario()
    try:
        for command, comment in shell_lines(README.read_text()):
            check = check_for(command)
            assert check is not None, command
            check(scenario, command, comment)
        assert scenario.module is not None and scenario.module.poll() is None, "spaak-ecu died"
    finally:
        scenario.stop()
