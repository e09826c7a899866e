"""scripts/demo's session, run non-interactively (2 modules, cheap verifiers), and its results:
every module provisioned at the plant, [K] installed, a verifier present again after PP-03
(8 failed pairings, then the KTS's owner key termination), and the sequence diagram with the
expected messages in order.

The session needs vcan0 (plant line) and vcan1, vcan2 (one vehicle per module): missing ones
are created when the kernel allows it (root, vcan module: as in scripts/vcan-run's VM).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from spaakbus import ROOT, bin_path

MODULES = 2
IFACES = [f"vcan{k}" for k in range(MODULES + 1)]


@pytest.fixture(scope="module")
def interfaces():
    created = []
    for name in IFACES:
        if os.path.exists(f"/sys/class/net/{name}"):
            continue
        add = subprocess.run(["ip", "link", "add", "dev", name, "type", "vcan"], capture_output=True, text=True)
        if add.returncode != 0:
            pytest.skip(f"{name} missing and cannot be created ({add.stderr.strip()}): run through scripts/vcan-run "
                        f"with VCAN_IFACES=\"{' '.join(IFACES)}\"")
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        created.append(name)
    yield IFACES
    for name in created:
        subprocess.run(["ip", "link", "del", name], capture_output=True)


@pytest.fixture(scope="module")
def demo(interfaces, tmp_path_factory):
    """Runs the session once; (exit status, output, summary, out dir)."""
    for name in ("spaak-ecu", "spaak-pki", "spaak-cloud"):
        bin_path(name)  # FileNotFoundError: not built
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"),
           "SPAAK_BIN_DIR": os.path.dirname(bin_path("spaak-ecu"))}
    done = subprocess.run([sys.executable, "-m", "demo_session", "--modules", str(MODULES), "--quick",
                           "--out", str(out), "--timeout", "280"],
                          capture_output=True, text=True, timeout=320, env=env, cwd=ROOT)
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return done.returncode, done.stdout + done.stderr, summary, out


def test_demo_runs_to_the_end(demo):
    status, output, summary, _ = demo
    assert status == 0, output[-6000:]
    assert summary is not None
    assert "demo finished in" in output


def test_every_module_provisioned_with_k_and_a_verifier(demo):
    status, output, summary, out = demo
    assert status == 0, output[-3000:]
    rows = summary["modules"]
    assert [r["serial"] for r in rows] == [f"SPK{k:010d}" for k in range(1, MODULES + 1)]
    for k, r in enumerate(rows, start=1):
        assert r["plant"] == "provisioned"
        assert r["bus"] == f"vcan{k}"
        flags = bytes.fromhex(r["d120"])[0]
        # roots, ECU key+CSR, ECU cert, locked, drmUUID, [K], verifier, TBM online
        assert flags == 0xFF, r
        assert set(r["flags"]) >= {"plant locked", "drmUUID", "[K]", "verifier"}
        assert r["certificates"] == {s: "VALID" for s in ("J", "J1", "J_PhysicalKey", "Z1", "ZZ2", "ECU", "K")}
        assert (out / "plant" / f"{r['serial']}.crt.der").exists()
        assert (out / "cloud" / f"trace-{k}.jsonl").stat().st_size > 0
    assert summary["bus"]["e2e_errors"] == 0


def test_output_tells_the_story(demo):
    status, output, _, _ = demo
    assert status == 0, output[-3000:]
    for text in ("EOL tester", "TBM_Status GSDP connected", "SPAAK_Status", "+[K]", "-verifier",
                 "VehicleIdentityCSRRequest", "Spake2VerifierRequest", "Sequence diagram"):
        assert text in output, text


def test_sequence_diagram_in_order(demo):
    status, output, summary, out = demo
    assert status == 0, output[-3000:]
    mmd = (out / "sequence.mmd").read_text()
    assert mmd.startswith("sequenceDiagram\n")
    expected = ["RP-01 write roots", "RP-02 generate ECU identity key pair", "read CSR",
                "RP-02 CSR batch (sign-csrs)", "ECU identity certificates",
                "write ECU identity certificate", "lock plant provisioning",
                "TBM_Status", "RemoteServiceProvisioningRequest", "RemoteServiceProvisioningResponse",
                "VehicleSubjectIdRequest", "VehicleSubjectIdResponse", "VehicleIdentityCSRRequest",
                "VehicleIdentityCSRResponse", "VehicleIdentityCertStatus", "C2VUsecaseCompletionAck",
                "Spake2VerifierProvisioning", "Spake2VerifierStatus",
                "failed owner pairing (31 01 F011) x8", "Spake2VerifierRequest", "Spake2VerifierProvisioning",
                "Spake2VerifierStatus", "C2VUsecaseCompletionAck",
                "K->>S: OwnerKeyTermination", "Spake2VerifierRequest", "Spake2VerifierProvisioning",
                "Spake2VerifierStatus", "C2VUsecaseCompletionAck"]
    position = 0
    for name in expected:
        found = mmd.find(name, position)
        assert found >= 0, f"'{name}' missing after position {position} in:\n{mmd}"
        position = found + len(name)
    for participant in ("SpaaK module", "SGW/TBM", "VOS", "KTS", "PKI"):
        assert f"as {participant}" in mmd
    text = (out / "sequence.txt").read_text()
    assert "VehicleIdentityCSRResponse" in text and "(both)" in text
    assert "x refused" not in mmd


# --- the session's own pieces, without a bus ------------------------------------------------

def test_e2e_and_status_decoding_of_the_live_trace():
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_session.bus import Status, e2e_ok, flag_words

    assert e2e_ok(0x3A0, bytes.fromhex("9B00030000000000"))          # ICD 3 examples
    assert e2e_ok(0x3A0, bytes.fromhex("C601030000000000"))
    assert not e2e_ok(0x3A0, bytes.fromhex("9C00030000000000"))      # CRC off by one
    assert not e2e_ok(0x3A8, bytes.fromhex("9B00030000000000"))      # data id is the CAN id
    assert flag_words(0x61) == ["roots", "[K]", "verifier"]
    before = Status(0x0F, 0, 0, 0, 0, 0.0)
    after = Status(0x3F, 3, 15, 0, 2, 1.0)
    assert after.describe(before) == "+drmUUID +[K] · PP-01 step 15, 2 failed pairing(s)"
    assert Status(0x3F, 0, 0, 6, 0, 2.0).describe(after) == "idle, last error 6"


def test_diagram_merges_modules_and_renders_every_form(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_session import diagram
    from demo_session.bus import UdsFrame

    frames = [UdsFrame(1.0, 1, True, bytes.fromhex("2E D1 10 30 82")), UdsFrame(1.1, 2, True, bytes.fromhex("2ED111")),
              UdsFrame(1.2, 1, True, bytes.fromhex("3101D200")), UdsFrame(1.3, 1, False, bytes.fromhex("7F3178")),
              UdsFrame(1.4, 1, False, bytes.fromhex("7101D20000")), UdsFrame(1.5, 2, False, bytes.fromhex("7F2E31"))]
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(json.dumps(e) for e in [
        {"ms": 5000, "from": "SpaaK", "to": "VOS", "outcome": "accepted", "direction": "V2C", "type": 1,
         "name": "VehicleSubjectIdRequest"},
        {"ms": 5001, "from": "VOS", "to": "SpaaK", "outcome": "queued", "direction": "C2V", "type": 2,
         "name": "VehicleSubjectIdResponse"},
        {"ms": 5010, "from": "SGW/TBM", "to": "SpaaK", "outcome": "delivered", "direction": "C2V", "type": 2,
         "name": "VehicleSubjectIdResponse"},
        {"ms": 6000, "from": "SGW/TBM", "to": "SpaaK", "outcome": "delivered", "direction": "C2V", "type": 12,
         "name": "OwnerKeyTermination"}]) + "\n")
    arrows = diagram.plant_arrows(frames, 0, 2) + diagram.trace_arrows(str(trace), 1, lambda t: 1)
    items = diagram.merge(arrows)
    labels = [(m.src, m.dst, m.text(2)) for m in items]
    assert labels == [
        ("T", "S", "RP-01 write roots [J] [J1] [J_PhysicalKey] [Z1] [ZZ2] (2E D110-D114) (both)"),
        ("T", "S", "RP-02 generate ECU identity key pair + CSR (31 01 D200) (module 1)"),
        ("S", "T", "key pair + CSR generated (71 01 D200) (module 1)"),
        ("S", "T", "NRC 0x31 to 0x2E (module 2)"),
        ("S", "V", "VehicleSubjectIdRequest (0x01) (module 1)"),
        ("V", "S", "VehicleSubjectIdResponse (0x02) (module 1)"),
        ("K", "S", "OwnerKeyTermination (0x0C) (module 1)")]
    phases = ["plant", "vehicle"]
    mmd = diagram.mermaid(items, phases, 2)
    assert mmd.splitlines()[0] == "sequenceDiagram" and "    S-xT: NRC 0x31 to 0x2E (module 2)" in mmd
    assert "    Note over P,K: vehicle" in mmd and "    K->>S: OwnerKeyTermination (0x0C) (module 1)" in mmd
    msc = diagram.msc(items, phases, 2)
    assert msc.startswith("msc {") and 'S-xT [label="NRC 0x31 to 0x2E (module 2)", linecolor="red"' in msc
    text = diagram.ascii_art(items, phases, 2)
    assert "OwnerKeyTermination (0x0C) (module 1)" in text
    assert [line.split(" ")[1] for line in text.splitlines() if line.startswith("==== ")] == phases
    assert all(len(line) < 140 for line in text.splitlines())
