"""scripts/demo's session, run non-interactively (2 modules, cheap verifiers), and its results:
every module provisioned at the plant, [K] installed, real owner pairing over NFC with
spaak-phone (vehicle 2: HU_Request, a wrong password 8 times -> PP-03 reason 2 without
routine 0xF011), the owners' passwords from the VOS's owner services over HTTP (vehicle 1
OP-01a: request + confirmation; vehicle 2 OP-01b: the e-mailed deep link redeemed), the
VOS's OwnerPairingModeRequest 0x0E opening the window, the owner's phone through phase 2 and
3 -> SPAAK_Status byte 7 = 3 and OwnerPairingStatus 0x0D accepted), the KTS's owner key
termination (byte 7 = 0, PP-03 reason 1), a verifier present at the end, the fleet view,
no password or deep-link token in the output or the logs, and the sequence diagram with the
expected messages in order.

The session needs vcan0 (plant line) and vcan1, vcan2 (one vehicle per module): missing ones
are created when the kernel allows it (root, vcan module: as in scripts/vcan-run's VM).
"""
from __future__ import annotations

import json
import os
import re
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
    for name in ("spaak-ecu", "spaak-pki", "spaak-cloud", "spaak-phone"):
        bin_path(name)  # FileNotFoundError: not built
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"),
           "SPAAK_BIN_DIR": os.path.dirname(bin_path("spaak-ecu"))}
    done = subprocess.run([sys.executable, "-m", "demo_session", "--modules", str(MODULES), "--quick",
                           "--out", str(out), "--timeout", "400"],
                          capture_output=True, text=True, timeout=450, env=env, cwd=ROOT)
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


def test_owner_paired_then_terminated(demo):
    """D124 right after the owner's phone paired: owner key active with its id and name; at the
    end (after the KTS): no owner key, no window. Vehicle 1 (OP-01a) had no wrong password:
    one PP-03 (reason 1, the KTS); vehicle 2 two (reason 2, then 1). Each delivery made the VOS
    send OwnerPairingModeRequest 0x0E, answered by 0x0D state 1 (window open) before the
    pairing's state 3."""
    status, output, summary, out = demo
    assert status == 0, output[-3000:]
    for k, r in enumerate(summary["modules"], start=1):
        paired = r["paired"]
        assert paired["state"] == 3 and paired["words"] == "owner key active", paired
        assert paired["name"] == f"Owner {k}'s phone"
        assert paired["key_id"] and len(paired["key_id"]) == 16 and paired["seconds_left"] == 0
        assert r["owner_pairing"] == {"state": 0, "words": "no owner key", "seconds_left": 0, "key_id": None,
                                      "name": ""}
        assert (out / "phones" / f"phone-{k}.key").exists()
        assert (out / "phones" / f"wrong-phone-{k}.key").exists() == (k != 1)
        assert (r["owner"], r["password_path"]) == (("alice", "OP-01a app") if k == 1 else ("bob", "OP-01b e-mail"))
    for k in range(1, MODULES + 1):
        trace = [json.loads(line) for line in (out / "cloud" / f"trace-{k}.jsonl").read_text().splitlines()]
        accepted = [e for e in trace if e.get("outcome") == "accepted" and e.get("direction") == "V2C"]
        reports = [e for e in accepted if e.get("type") == 0x0D]
        assert [re.search(r"\bstate (\d)", e["detail"]).group(1) for e in reports] == ["1", "3"], reports
        requests = [e for e in trace if e.get("type") == 0x0E and e.get("outcome") == "delivered"]
        assert len(requests) == 1 and requests[0]["ms"] <= reports[0]["ms"], requests
        reasons = [e["detail"].split(" ")[1] for e in accepted if e.get("type") == 0x09]
        # 8 failed attempts (not on vehicle 1), then the owner key termination
        assert reasons == (["1"] if k == 1 else ["2", "1"]), reasons
        assert any(e.get("type") == 0x0B for e in accepted if e["ms"] > reports[-1]["ms"])


def test_fleet_view(demo):
    """GET /v1/fleet (as a hotline agent) at the end: each vehicle's state at its VOS, after the
    KTS terminated the owner key and PP-03 brought a new verifier and password."""
    status, output, summary, out = demo
    assert status == 0, output[-3000:]
    fleet = {v["serial"]: v for v in summary["fleet"]}
    assert sorted(fleet) == [f"SPK{k:010d}" for k in range(1, MODULES + 1)]
    for k, r in enumerate(summary["modules"], start=1):
        v = fleet[r["serial"]]
        assert v["vin"] == r["vin"] and v["owner"] == r["owner"]
        assert v["vehicleIdentity"]["state"] == "installed" and v["verifier"]["state"] == "installed", v
        assert v["serviceProvisioned"] is True and v["password"]["state"] == "available", v  # PP-03's new one
        assert v["ownerPairing"]["state"] == "no-owner-key", v
        assert v["lastUseCase"] and v["lastUseCase"]["outcome"] == "accepted", v
    assert "Fleet view of the VOS" in output


def test_no_token_in_the_output_or_the_logs(demo):
    """The e-mailed deep link's token and the bearer tokens (JWTs) never appear in the demo's
    output or its logs (the phones' command lines are logged without them); the phone says how
    many digits the password has, not the password."""
    status, output, summary, out = demo
    assert status == 0, output[-3000:]
    mails = list((out / "mail-2" / "new").iterdir())
    assert len(mails) == 1, mails
    link = next(line for line in mails[0].read_text().splitlines() if line.startswith("spaak://pair?"))
    token = link.split("token=")[1]
    assert len(token) == 43
    for text, where in [(output, "the demo's output")] + [(f.read_text(errors="replace"), f.name)
                                                          for f in (out / "logs").iterdir() if f.suffix == ".log"]:
        assert token not in text, f"the deep link's token in {where}"
        assert "eyJ" not in text, f"a bearer token (JWT) in {where}"
    assert "password received (" in output and "digits)" in output


def test_no_routine_f011(demo):
    """The failed attempts are real: the demo never sends RoutineControl 0xF011."""
    status, output, _, out = demo
    assert status == 0, output[-3000:]
    assert "F011" not in output and "F011" not in (out / "sequence.mmd").read_text()
    candump = (out / "logs" / "candump.log").read_text()
    assert "#043101F011" not in candump and "3101F011" not in candump.replace("#", "")


def test_output_tells_the_story(demo):
    status, output, _, _ = demo
    assert status == 0, output[-3000:]
    for text in ("EOL tester", "TBM_Status GSDP connected", "SPAAK_Status", "+[K]", "-verifier",
                 "VehicleIdentityCSRRequest", "Spake2VerifierRequest", "Sequence diagram",
                 "byte 7 = 1 pairing window open", "8 failed pairing(s)", "byte 7 = 2 owner key pending",
                 "byte 7 = 3 owner key active", "accepted 0x0D OwnerPairingStatus", "pairing=3 (",
                 "D124: 3 owner key active", "byte 7 = 0 no owner key", "terminatedKey=",
                 "register-owner", "OP-01a: asking the VOS", "confirming receipt", "OwnerPairingModeRequest",
                 "pairing-link/email", "redeeming the deep link spaak://pair?vin=", "token=<43 characters>",
                 "owner-key-active", "Fleet view"):
        assert text in output, text


#: One owner's pairing in the diagram: phase 2, then phase 3, then phase 4 (0x0D to the VOS),
#: then the VOS's view of it (GET /v1/vehicles/{vin}).
OWNER_PAIRS = ["N->>S: tap: phone in the field (NFC_Status)", "S->>N: SELECT", "S->>N: SPAKE2+ REQUEST",
               "S->>N: SPAKE2+ VERIFY", "N-->>S: confirmP (58)", "S->>N: WRITE DATA", "N-->>S: [K] accepted",
               "S->>N: GET DATA", "N-->>S: endpoint key + name", "byte 7 = 2: owner key pending",
               "N->>S: phone leaves the field", "N->>S: tap: phone in the field (NFC_Status)", "S->>N: SELECT",
               "S->>N: AUTH0", "N-->>S: device ephemeral key (86)", "S->>N: AUTH1", "N-->>S: device signature (9E)",
               # the activation commit sends 0x0D at once and shows byte 7 = 3 in the next cyclic
               # SPAAK_Status (up to 100 ms later): the VOS's ack of the 0x0D may come before or
               # after that status frame, so the three are in any order in the trace
               ("byte 7 = 3: owner key active", "S->>V: OwnerPairingStatus (0x0D) state 3",
                "V->>S: C2VUsecaseCompletionAck"),
               "A->>V: GET /v1/vehicles/{vin} (owner token)",
               "V-->>A: 200: password paired, owner key active"]


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
                "register-owner",
                # vehicle 2: OP-02, then a wrong password 8 times
                "N->>S: HU_Request 0x01", "byte 7 = 1: pairing window open",
                # (8 taps; a session the module ended early, e.g. the reader silent for 1 s, is
                # followed by one more while the phone is still in the field: SELECT may count more)
                "V-->>N: pairing password", "N->>S: tap: phone in the field (NFC_Status) x8 ",
                "S->>N: SELECT (AID) x", "N-->>S: versions (5C)", "S->>N: SPAKE2+ REQUEST",
                "N-->>S: shareP X (50)", "S->>N: SPAKE2+ VERIFY (shareV Y, confirmV) x",
                "N-xS: 69 82 security status not satisfied x", "8 failed attempts: verifier deleted, PP-03",
                "Spake2VerifierRequest (0x09) reason 2", "Spake2VerifierProvisioning", "Spake2VerifierStatus",
                "C2VUsecaseCompletionAck",
                # vehicle 1, OP-01a: the app gets the password, confirms; the VOS's 0x0E opens the window
                "A->>V: POST /v1/vehicles/{vin}/pairing-password (owner token)",
                "V-->>A: 200: the password + a delivery id",
                "A->>V: POST .../pairing-password/confirmation (delivery id)",
                ("V-->>A: 200: delivered, 0x0E sent", "V->>S: OwnerPairingModeRequest (0x0E)"),
                ("byte 7 = 1: pairing window open", "S->>V: OwnerPairingStatus (0x0D) state 1"),
                *OWNER_PAIRS,
                # vehicle 2, OP-01b: the portal has the link e-mailed; the app redeems it
                "A->>V: POST /v1/vehicles/{vin}/pairing-link/email (portal token)",
                "V-->>A: 202: the e-mail is in the outbox", "V->>A: e-mail to the owner (Maildir)",
                "A->>V: POST /v1/pairing-links/redemption (the link's token)",
                ("V-->>A: 200: the password, delivered, 0x0E sent", "V->>S: OwnerPairingModeRequest (0x0E)",
                 "S->>V: OwnerPairingStatus (0x0D) state 1"),
                *OWNER_PAIRS,
                # the KTS
                # SPAAK_Status is cyclic: its byte 7 = 0 may reach the monitor after the VOS logged the 0x09.
                "K->>S: OwnerKeyTermination", ("byte 7 = 0: owner key deleted", "Spake2VerifierRequest (0x09) reason 1"),
                "Spake2VerifierProvisioning", "Spake2VerifierStatus", "C2VUsecaseCompletionAck",
                # the fleet view
                "A->>V: GET /v1/fleet (hotline token)", "V-->>A: 200: every vehicle's state (both)"]
    position = 0
    for step in expected:
        names = step if isinstance(step, tuple) else (step,)
        end = position
        for name in names:  # a tuple: all of them after `position`, in any order
            found = mmd.find(name, position)
            assert found >= 0, f"'{name}' missing after position {position} in:\n{mmd}"
            end = max(end, found + len(name))
        position = end
    for participant in ("SpaaK module", "SGW/TBM", "VOS", "KTS", "PKI", "Phone + NFC reader (HU)", "App / portal (HTTP)"):
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
    before = Status(0x0F, 0, 0, 0, 0, 0, 0.0)
    after = Status(0x3F, 3, 15, 0, 2, 0, 1.0)
    assert after.describe(before) == "+drmUUID +[K] · PP-01 step 15, 2 failed pairing(s)"
    assert Status(0x3F, 0, 0, 6, 0, 0, 2.0).describe(after) == "idle, last error 6"
    paired = Status(0xFF, 0, 0, 0, 0, 3, 3.0)
    assert paired.describe(Status(0xFF, 0, 0, 0, 0, 2, 2.5)) == "byte 7 = 3 owner key active · idle"
    assert Status(0xBF, 5, 1, 0, 0, 0, 4.0).describe(paired) == "-verifier byte 7 = 0 no owner key · PP-03 step 1"
    assert paired.describe(None) == ("flags: roots, ECU key+CSR, ECU cert, plant locked, drmUUID, [K], verifier, "
                                     "TBM online, byte 7 = 3 owner key active · idle")


def test_nfc_lane_one_event_per_apdu():
    """The bus monitor's NFC decoding: ISO-TP reassembly (single, first + consecutive frames,
    out of sequence dropped), a tap's session phase from byte 7, the labels of ICD 8.3."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import cantools
    from demo_session.nfc import IsoTpReassembler, NfcTrace
    from spaaklib.e2e import e2e_frame

    r = IsoTpReassembler()
    assert r.feed(bytes.fromhex("0390000055555555"), 1.0) == (bytes.fromhex("900000"), 1.0)
    assert r.feed(bytes.fromhex("100A0102030405 06".replace(" ", "")), 2.0) is None
    assert r.feed(bytes.fromhex("2107080910AAAAAA"), 2.1) == (bytes.fromhex("01020304050607080910"), 2.0)
    assert r.feed(bytes.fromhex("1010010203040506"), 3.0) is None
    assert r.feed(bytes.fromhex("2207080910111213"), 3.1) is None    # sequence 2 where 1 is due: dropped
    assert r.feed(bytes.fromhex("2107080910111213"), 3.2) is None    # nothing to continue
    assert r.feed(bytes.fromhex("300000"), 3.3) is None               # flow control

    def frames(apdu: bytes) -> list:
        if len(apdu) <= 7:
            return [bytes([len(apdu)]) + apdu]
        out, sequence = [bytes([0x10 | len(apdu) >> 8, len(apdu) & 0xFF]) + apdu[:6]], 1
        for i in range(6, len(apdu), 7):
            out.append(bytes([0x20 | sequence]) + apdu[i:i + 7])
            sequence = (sequence + 1) & 0x0F
        return out

    trace = NfcTrace(cantools.database.load_file(str(ROOT / "can-dbc" / "spaak.dbc"), strict=True))
    trace.watch("vcan1", 1)
    feed = lambda can_id, data, t, owner=1: trace.feed("vcan1", can_id, data, t, owner)  # noqa: E731
    assert feed(0x3B0, e2e_frame(0x3B0, 0, b"\x02"), 0.0) is None                   # reader ready, field empty
    assert feed(0x3C0, e2e_frame(0x3C0, 0, b"\x01"), 0.1).label.startswith("HU_Request 0x01")
    assert feed(0x3C0, bytes(8), 0.15) is None                                      # bad CRC
    assert feed(0x3C0, e2e_frame(0x3C0, 1, b"\x02"), 0.16) is None                  # no such request
    tap = feed(0x3B0, e2e_frame(0x3B0, 1, b"\x03"), 0.2)
    assert (tap.src, tap.dst, tap.label, tap.session) == ("N", "S", "tap: phone in the field (NFC_Status)", 2)
    assert feed(0x3B0, e2e_frame(0x3B0, 2, b"\x03"), 0.3) is None                   # still there
    request = bytes.fromhex("8030000000") + bytes([0, 44]) + bytes(44) + bytes(2)
    events = [feed(0x6B0, f, 0.4 + i / 100) for i, f in enumerate(frames(request))]
    assert events[:-1] == [None] * (len(events) - 1)
    assert (events[-1].src, events[-1].label, events[-1].t) == ("S", "SPAKE2+ REQUEST (salt, N, r, p, VIN)", 0.4)
    share = bytes.fromhex("5041") + bytes(65) + bytes.fromhex("9000")
    answer = [feed(0x6B8, f, 0.6) for f in frames(share)][-1]
    assert (answer.src, answer.dst, answer.label, answer.kind) == ("N", "S", "shareP X (50), 90 00", "reply")
    verify = bytes.fromhex("8032000000") + bytes([0, 103]) + bytes(103) + bytes(2)
    assert [feed(0x6B0, f, 0.7) for f in frames(verify)][-1].label == "SPAKE2+ VERIFY (shareV Y, confirmV)"
    refusal = feed(0x6B8, frames(bytes.fromhex("6982"))[0], 0.8)
    assert (refusal.label, refusal.kind, refusal.session) == ("69 82 security status not satisfied", "bad", 2)
    leave = feed(0x3B0, e2e_frame(0x3B0, 3, b"\x02"), 0.9)
    assert (leave.label, leave.session) == ("phone leaves the field", 2)
    assert feed(0x3B0, e2e_frame(0x3B0, 4, b"\x03"), 1.0, owner=2).session == 3  # owner key pending: phase 3
    assert [feed(0x6B0, f, 1.2) for f in frames(bytes.fromhex("80800000") + bytes(90))][-1].label == (
        "AUTH0 (vehicle ephemeral key, transaction id)")
    assert feed(0x6B8, frames(bytes.fromhex("6985"))[0], 1.3).label == "69 85 conditions not satisfied"
    assert len(trace.events) == 10
    assert feed(0x3B0, e2e_frame(0x3B0, 5, b"\x03"), 1.4) is None
    assert trace.feed("vcan9", 0x3B0, e2e_frame(0x3B0, 0, b"\x03"), 1.5, 1) is None  # not watched


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
    assert "    Note over P,A: vehicle" in mmd and "    K->>S: OwnerKeyTermination (0x0C) (module 1)" in mmd
    msc = diagram.msc(items, phases, 2)
    assert msc.startswith("msc {") and 'S-xT [label="NRC 0x31 to 0x2E (module 2)", linecolor="red"' in msc
    text = diagram.ascii_art(items, phases, 2)
    assert "OwnerKeyTermination (0x0C) (module 1)" in text
    assert [line.split(" ")[1] for line in text.splitlines() if line.startswith("==== ")] == phases
    assert all(len(line) < 140 for line in text.splitlines())


def test_diagram_of_owner_pairing(tmp_path):
    """The NFC lane (sessions of phase 2 and 3 kept apart, repeated taps merged), the notes of
    SPAAK_Status byte 7 and of the 8th failed attempt, the password handed out, 0x09 with its
    reason and 0x0D with its state from the trace."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_session import diagram
    from demo_session.bus import Status
    from demo_session.nfc import NfcEvent

    phase_of = lambda t: 0 if t < 10 else 1  # noqa: E731
    events = []
    for attempt in range(8):  # module 1: a wrong password 8 times
        t = 1 + attempt / 10
        events += [NfcEvent(t, 1, "N", "S", "tap", session=2), NfcEvent(t + 0.01, 1, "S", "N", "SELECT", session=2),
                   NfcEvent(t + 0.02, 1, "N", "S", "69 82", "bad", 2)]
    for k in (1, 2):  # the owners
        events += [NfcEvent(10 + k / 100, k, "N", "S", "tap", session=2),
                   NfcEvent(10.1 + k / 100, k, "S", "N", "SELECT", session=2),
                   NfcEvent(11 + k / 100, k, "N", "S", "tap", session=3),
                   NfcEvent(11.1 + k / 100, k, "S", "N", "SELECT", session=3),
                   NfcEvent(11.2 + k / 100, k, "S", "N", "AUTH0", session=3)]
    s = lambda flags, failed, owner, t: Status(flags, 0, 0, 0, failed, owner, t)  # noqa: E731
    transitions = [(0.5, 1, s(0xFF, 0, 0, 0.4), s(0xFF, 0, 1, 0.5)), (1.7, 1, s(0xFF, 7, 1, 1.6), s(0xBF, 8, 1, 1.7)),
                   (10.5, 1, s(0xFF, 0, 1, 10.4), s(0xBF, 0, 2, 10.5)), (11.5, 1, s(0xBF, 0, 2, 11), s(0xBF, 0, 3, 11.5)),
                   (12.0, 2, s(0xFF, 0, 1, 11.9), s(0xFF, 0, 0, 12.0))]
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(json.dumps(e) for e in [
        {"ms": 900, "from": "control", "to": "VOS", "outcome": "info", "detail": "password SPK1 → ok (password handed out)"},
        {"ms": 950, "from": "control", "to": "VOS", "outcome": "info", "detail": "password SPK1 → error already delivered"},
        {"ms": 1800, "from": "SpaaK", "to": "VOS", "outcome": "info", "direction": "V2C", "type": 9,
         "name": "Spake2VerifierRequest", "detail": "waiting for a verifier (scrypt running)"},
        {"ms": 2500, "from": "SpaaK", "to": "VOS", "outcome": "accepted", "direction": "V2C", "type": 9,
         "name": "Spake2VerifierRequest", "detail": "reason 2 (verifier deleted after failed pairings), verifier salt 00"},
        {"ms": 11600, "from": "SpaaK", "to": "VOS", "outcome": "accepted", "direction": "V2C", "type": 13,
         "name": "OwnerPairingStatus", "detail": "state 3 (owner key active), owner key 5A11223344556677, status 0 (ok)"}
    ]) + "\n")
    arrows = (diagram.nfc_arrows(events, phase_of) + diagram.status_notes(transitions, phase_of)
              + diagram.trace_arrows(str(trace), 1, phase_of))
    labels = [(m.phase, m.src, m.dst, m.text(2)) for m in diagram.merge(arrows)]
    assert labels == [
        (0, "S", "S", "byte 7 = 1: pairing window open (module 1)"),
        (0, "V", "N", "pairing password (to the owner, once) (module 1)"),
        (0, "N", "S", "tap x8 (module 1)"), (0, "S", "N", "SELECT x8 (module 1)"), (0, "N", "S", "69 82 x8 (module 1)"),
        (0, "S", "S", "8 failed attempts: verifier deleted, PP-03 (module 1)"),
        (0, "S", "V", "Spake2VerifierRequest (0x09) reason 2 (module 1)"),
        (0, "V", "V", "VOS: waiting for a verifier (scrypt running) (module 1)"),
        (1, "N", "S", "tap (both)"), (1, "S", "N", "SELECT (both)"),
        (1, "S", "S", "byte 7 = 2: owner key pending, verifier deleted (module 1)"),
        (1, "N", "S", "tap (both)"), (1, "S", "N", "SELECT (both)"), (1, "S", "N", "AUTH0 (both)"),
        (1, "S", "S", "byte 7 = 3: owner key active, window closed (module 1)"),
        (1, "S", "V", "OwnerPairingStatus (0x0D) state 3 (module 1)"),
        (1, "S", "S", "byte 7 = 0: pairing window closed (module 2)")]
    items = diagram.merge(arrows)
    mmd = diagram.mermaid(items, ["wrong password", "owner"], 2)
    assert "    participant N as Phone + NFC reader (HU)" in mmd and "    N-xS: 69 82 x8 (module 1)" in mmd
    assert "    V-->>N: pairing password (to the owner, once) (module 1)" in mmd
    text = diagram.ascii_art(items, ["wrong password", "owner"], 2)
    assert all(len(line) < 140 for line in text.splitlines()), text
    assert "Phone + NFC reader" in text.splitlines()[0]


def test_diagram_puts_a_late_cause_before_its_effect():
    """SPAAK_Status is cyclic: the frame that shows the verifier deleted by the 8th failed attempt
    can reach the monitor after the VOS logged the 0x09 it caused. The note goes before that 0x09
    (up to CAUSE_LAG later), never before one of another module or one long before."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_session import diagram

    note = "8 failed attempts: verifier deleted, PP-03"
    request = "Spake2VerifierRequest (0x09) reason 2"
    arrows = [diagram.Arrow(2.50, "S", "V", request, 1, 0), diagram.Arrow(2.58, "S", "S", note, 1, 0, "note"),
              diagram.Arrow(5.00, "S", "V", request, 2, 0), diagram.Arrow(5.09, "S", "S", note, 3, 0, "note"),
              diagram.Arrow(7.00, "S", "V", request, 4, 0), diagram.Arrow(8.00, "S", "S", note, 4, 0, "note")]
    labels = [(m.label, dict(m.counts)) for m in diagram.merge(arrows)]
    assert labels == [(note, {1: 1, 3: 1, 4: 1}), (request, {1: 1, 2: 1, 4: 1})], labels
    moved = diagram.causes_first(arrows)
    assert [a.t for a in moved] == [2.50, 2.4995, 5.00, 5.09, 7.00, 8.00]
