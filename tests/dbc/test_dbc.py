"""Checks can-dbc/spaak.dbc against ICD sections 2 and 3.

Run: /work/main/.venv/bin/python -m pytest tests/dbc
The CRC here is an independent bitwise implementation (the Swift code is table-driven);
fixtures.txt holds frames that the Swift test DBCFixtureTests rebuilds from the same values.
"""

from pathlib import Path

import cantools
import pytest

ROOT = Path(__file__).resolve().parents[2]
DBC = ROOT / "can-dbc" / "spaak.dbc"
FIXTURES = Path(__file__).resolve().parent / "fixtures.txt"

ICD_EXAMPLES = ["3A0#9B00030000000000", "3A0#C601030000000000", "3A0#2102030000000000"]

ERROR_CODES = {
    0: "Ok", 1: "Malformed", 2: "SignatureInvalid", 3: "ChainOfTrustInvalid",
    4: "CertificateKeyMismatch", 5: "StoreFailure", 6: "Timeout", 7: "ReplayedCounter",
    8: "UnexpectedMessage", 9: "RejectedByCloud",
}
USE_CASES = {0: "None", 1: "RP_01", 2: "RP_02", 3: "PP_01", 4: "PP_02", 5: "PP_03", 6: "SP_02"}


def crc8_sae_j1850(data):
    """CRC-8/SAE-J1850, bitwise: poly 0x1D, init 0xFF, xorout 0xFF."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1D) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0xFF


def e2e_crc(data_id, payload):
    """The E2E CRC of ICD 3: data id low byte, high byte, then payload bytes 1..7."""
    return crc8_sae_j1850([data_id & 0xFF, data_id >> 8] + list(payload[1:8]))


def parse(text):
    frame_id, payload = text.split("#")
    return int(frame_id, 16), bytes.fromhex(payload)


def fixtures():
    for line in FIXTURES.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        frame, *fields = line.split()
        yield frame, {k: int(v) for k, v in (f.split("=") for f in fields)}


@pytest.fixture(scope="module")
def db():
    return cantools.database.load_file(str(DBC), strict=True)


def test_crc_check_value():
    assert crc8_sae_j1850(b"123456789") == 0x4B


def test_loads_strictly_with_nodes_and_messages(db):
    assert sorted(n.name for n in db.nodes) == ["SPAAK", "TBM", "TESTER"]
    ids = {m.frame_id: m for m in db.messages}
    assert sorted(ids) == [0x3A0, 0x3A8, 0x6A0, 0x6A8, 0x7A0, 0x7A8, 0x7DF]
    for m in db.messages:
        assert m.length == 8 and not m.is_extended_frame and m.comment
    assert ids[0x3A0].senders == ["TBM"] and ids[0x3A8].senders == ["SPAAK"]
    assert ids[0x7A0].senders == ["TESTER"] and ids[0x7DF].senders == ["TESTER"]
    assert ids[0x6A0].senders == ["SPAAK"] and ids[0x6A8].senders == ["TBM"]
    assert ids[0x7A8].senders == ["SPAAK"]


def test_cycle_times(db):
    assert db.get_message_by_frame_id(0x3A0).cycle_time == 100
    assert db.get_message_by_frame_id(0x3A8).cycle_time == 100
    for frame_id in (0x6A0, 0x6A8, 0x7A0, 0x7A8, 0x7DF):
        assert not db.get_message_by_frame_id(frame_id).cycle_time


def test_value_tables(db):
    msg = db.get_message_by_name("SPAAK_Status")
    assert {int(k): str(v) for k, v in msg.get_signal_by_name("LastErrorCode").choices.items()} == ERROR_CODES
    assert {int(k): str(v) for k, v in msg.get_signal_by_name("ActiveUseCase").choices.items()} == USE_CASES


def test_signal_layout(db):
    """Byte/bit positions of ICD 3 (little-endian bit numbering, Intel)."""
    tbm = db.get_message_by_name("TBM_Status")
    assert [(s.name, s.start, s.length) for s in tbm.signals] == [
        ("TBM_CRC", 0, 8), ("TBM_AliveCounter", 8, 4), ("GsdpConnected", 16, 1), ("SpaakTopicSubscribed", 17, 1)]
    spaak = db.get_message_by_name("SPAAK_Status")
    layout = {s.name: (s.start, s.length) for s in spaak.signals}
    flags = ["AllRootCertificatesInstalled", "EcuIdentityKeyAndCsrPresent", "EcuIdentityCertificateInstalled",
             "PlantLocked", "DrmUuidPresent", "VehicleIdentityCertificateKInstalled", "Spake2PlusVerifierPresent",
             "TbmOnline"]
    for bit, name in enumerate(flags):
        assert layout[name] == (16 + bit, 1), name
    assert layout["SPAAK_CRC"] == (0, 8) and layout["SPAAK_AliveCounter"] == (8, 4)
    assert layout["ActiveUseCase"] == (24, 8) and layout["UseCaseStep"] == (32, 8)
    assert layout["LastErrorCode"] == (40, 8) and layout["FailedPairingAttempts"] == (48, 8)
    for s in tbm.signals + spaak.signals:
        assert s.byte_order == "little_endian" and not s.is_signed


@pytest.mark.parametrize("counter,text", list(enumerate(ICD_EXAMPLES)))
def test_icd_examples_decode(db, counter, text):
    frame_id, payload = parse(text)
    assert frame_id == 0x3A0
    assert payload[0] == e2e_crc(0x03A0, payload)
    decoded = db.decode_message(frame_id, payload)
    assert decoded == {"TBM_CRC": payload[0], "TBM_AliveCounter": counter,
                       "GsdpConnected": 1, "SpaakTopicSubscribed": 1}


@pytest.mark.parametrize("counter,text", list(enumerate(ICD_EXAMPLES)))
def test_icd_examples_encode(db, counter, text):
    """Encode with cantools, CRC computed here: must give the ICD bytes."""
    msg = db.get_message_by_name("TBM_Status")
    signals = {"TBM_CRC": 0, "TBM_AliveCounter": counter, "GsdpConnected": 1, "SpaakTopicSubscribed": 1}
    unprotected = msg.encode(signals, strict=True)
    signals["TBM_CRC"] = e2e_crc(0x03A0, unprotected)
    assert msg.encode(signals, strict=True) == parse(text)[1]


def test_counter_15_out_of_range(db):
    msg = db.get_message_by_name("TBM_Status")
    with pytest.raises(cantools.database.EncodeError):
        msg.encode({"TBM_CRC": 0, "TBM_AliveCounter": 15, "GsdpConnected": 1, "SpaakTopicSubscribed": 1})


@pytest.mark.parametrize("text,expected", list(fixtures()))
def test_swift_fixtures(db, text, expected):
    frame_id, payload = parse(text)
    crc_name = "TBM_CRC" if frame_id == 0x3A0 else "SPAAK_CRC"
    assert payload[0] == e2e_crc(frame_id, payload), "CRC"
    assert payload[1] >> 4 == 0 and payload[7] == 0
    decoded = db.decode_message(frame_id, payload, decode_choices=False)
    want = {name: expected.get(name, 0) for name in decoded}
    assert decoded == want
    assert expected[crc_name] == payload[0]
    # Round trip: encoding the values gives the same bytes.
    assert db.encode_message(frame_id, want, strict=True) == payload


def test_isotp_raw_signal(db):
    msg = db.get_message_by_frame_id(0x7A0)
    payload = bytes.fromhex("0322F18CCCCCCCCC")
    (name,) = [s.name for s in msg.signals]
    assert db.decode_message(0x7A0, payload) == {name: int.from_bytes(payload, "big")}
