"""Table rendering, summary and the plain-text progress bar."""
import io

from eol.model import ALREADY, FAILED, PROVISIONED, STEPS, ModuleAddress, ModuleResult, StepError
from eol.report import ProgressBar, bar_line, render_summary, render_table
from eol.status import ProvisioningStatus


def results():
    ok = ModuleResult(ModuleAddress(0x7A0, 0x7A8), serial="SPK0000000001", vin="ZFA250007TS000001",
                      steps_done=list(STEPS), csr_path="/out/SPK0000000001.csr.pem",
                      cert_path="/out/SPK0000000001.crt.pem", locked=True,
                      status=ProvisioningStatus.decode(bytes.fromhex("0F000000000000 04")), outcome=PROVISIONED)
    bad = ModuleResult(ModuleAddress(0x7B0, 0x7B8), serial="SPK0000000002", steps_done=["identify", "session"])
    bad.fail(StepError("unlock", "security access (27 01/02)", nrc=0x35))
    again = ModuleResult(ModuleAddress(0x7C0, 0x7C8), serial="SPK0000000003", steps_done=["identify"], locked=True,
                         status=ProvisioningStatus.decode(bytes.fromhex("0F000000000000 04")), outcome=ALREADY)
    return [ok, bad, again]


def test_table():
    lines = render_table(results()).splitlines()
    assert lines[0].split() == ["serial", "ids", "steps", "VIN", "CSR", "certificate", "lock", "D120", "result"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 5
    row1, row2, row3 = lines[2:]
    assert row1.split()[:8] == ["SPK0000000001", "7A0/7A8", "11/11", "ZFA250007TS000001", "SPK0000000001.csr.pem",
                                "SPK0000000001.crt.pem", "locked", "locked"]
    assert row1.endswith("provisioned") and "VALID: J J1 J_PhysicalKey Z1 ZZ2 ECU" in row1
    assert row2.split()[:8] == ["SPK0000000002", "7B0/7B8", "2/11", "-", "-", "-", "-", "-"]
    assert row2.endswith("FAILED at unlock: security access (27 01/02): NRC 0x35 InvalidKey "
                         "(invalid key: wrong K_plant (--plant-key)?)")
    assert row3.endswith(ALREADY)
    # every column starts at the same offset on every row
    start = lines[0].index("steps")
    assert all(line[start:start + 1] in "0123456789-" for line in lines[1:])


def test_summary():
    text = render_summary(results(), 4.25, 4)
    assert text == "3 modules: 1 provisioned, 1 already provisioned, 1 failed in 4.2 s (parallel 4)"
    assert FAILED not in text


def test_bar_line():
    assert bar_line(0, 10, width=10) == "[----------]  0/10   0%"
    assert bar_line(5, 10, width=10, label="SPK1 roots") == "[#####-----]  5/10  50%  SPK1 roots"
    assert bar_line(99, 10, width=10) == "[##########] 10/10 100%"


def test_progress_without_tty_prints_a_line_per_segment():
    out = io.StringIO()
    bar = ProgressBar(100, stream=out, width=10)
    for i in range(100):
        bar.advance(f"step {i}")
    bar.finish()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 11 + 1          # one per segment (0..10 filled), the last at 100/100, then finish
    assert lines[-2].startswith("[##########] 100/100 100%")
    assert lines[-1].startswith("[##########] 100/100 100%  done (")


def test_progress_disabled_is_silent():
    out = io.StringIO()
    bar = ProgressBar(3, stream=out, enabled=False)
    bar.advance()
    bar.finish()
    assert out.getvalue() == ""
