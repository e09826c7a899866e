"""Checks can-dbc/spaak.dbc against ICD sections 2, 3 and 8.1.

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
OWNER_PAIRING_STATES = {0: "NoOwnerKey", 1: "PairingWindowOpen", 2: "OwnerKeyPending", 3: "OwnerKeyActive"}
HU_REQUESTS = {1: "StartOwnerPairing"}

#: The E2E frames of ICD 3 and 8.1 (the data id is the CAN id): id -> (name, CRC, alive counter).
E2E_FRAMES = {
    0x3A0: ("TBM_Status", "TBM_CRC", "TBM_AliveCounter"),
    0x3A8: ("SPAAK_Status", "SPAAK_CRC", "SPAAK_AliveCounter"),
    0x3B0: ("NFC_Status", "NFC_CRC", "NFC_AliveCounter"),
    0x3C0: ("HU_Request", "HU_CRC", "HU_AliveCounter"),
}
#: The ISO-TP channels of ICD 2: id -> (sender, receiver); one raw 64-bit signal each.
ISOTP_CHANNELS = {
    0x6A0: ("SPAAK", "TBM"), 0x6A8: ("TBM", "SPAAK"),
    0x6B0: ("SPAAK", "NFC"), 0x6B8: ("NFC", "SPAAK"),
    0x7A0: ("TESTER", "SPAAK"), 0x7A8: ("SPAAK", "TESTER"), 0x7DF: ("TESTER", "SPAAK"),
}


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
    assert sorted(n.name for n in db.nodes) == ["HU", "NFC", "SPAAK", "TBM", "TESTER"]
    assert all(n.comment for n in db.nodes)
    ids = {m.frame_id: m for m in db.messages}
    assert sorted(ids) == sorted([*E2E_FRAMES, *ISOTP_CHANNELS])
    for m in db.messages:
        assert m.length == 8 and not m.is_extended_frame and m.comment
        assert all(s.comment for s in m.signals), m.name
    for frame_id, (name, _, _) in E2E_FRAMES.items():
        assert ids[frame_id].name == name
    assert ids[0x3A0].senders == ["TBM"] and ids[0x3A8].senders == ["SPAAK"]
    assert ids[0x3B0].senders == ["NFC"] and ids[0x3C0].senders == ["HU"]
    for frame_id in (0x3B0, 0x3C0):
        assert all(s.receivers == ["SPAAK"] for s in ids[frame_id].signals)


@pytest.mark.parametrize("frame_id", sorted(ISOTP_CHANNELS))
def test_isotp_channels(db, frame_id):
    """ICD 2: sender and receiver; not a signal frame, one raw big-endian 64-bit signal."""
    msg = db.get_message_by_frame_id(frame_id)
    sender, receiver = ISOTP_CHANNELS[frame_id]
    (signal,) = msg.signals
    assert msg.senders == [sender] and signal.receivers == [receiver]
    assert signal.name.endswith("_Raw") and signal.byte_order == "big_endian"
    assert (signal.start, signal.length) == (7, 64) and not signal.is_signed


def test_cycle_times(db):
    for frame_id in (0x3A0, 0x3A8, 0x3B0):
        msg = db.get_message_by_frame_id(frame_id)
        assert msg.cycle_time == 100 and msg.send_type == "Cyclic", msg.name
    for frame_id in (0x3C0, *ISOTP_CHANNELS):
        msg = db.get_message_by_frame_id(frame_id)
        assert not msg.cycle_time and msg.send_type == "Event", msg.name


def choices(msg, signal):
    return {int(k): str(v) for k, v in msg.get_signal_by_name(signal).choices.items()}


def test_value_tables(db):
    msg = db.get_message_by_name("SPAAK_Status")
    assert choices(msg, "LastErrorCode") == ERROR_CODES
    # Owner pairing is not a value of byte 3 (ICD 3: it shows in byte 7 only).
    assert choices(msg, "ActiveUseCase") == USE_CASES
    assert choices(msg, "OwnerPairingState") == OWNER_PAIRING_STATES
    assert choices(db.get_message_by_name("HU_Request"), "RequestCode") == HU_REQUESTS
    with_tables = {(m.name, s.name) for m in db.messages for s in m.signals if s.choices}
    assert with_tables == {("SPAAK_Status", "LastErrorCode"), ("SPAAK_Status", "ActiveUseCase"),
                           ("SPAAK_Status", "OwnerPairingState"), ("HU_Request", "RequestCode")}


def test_value_table_ranges(db):
    """The range of a signal with a value table is the table's range."""
    for name, table in (("ActiveUseCase", USE_CASES), ("LastErrorCode", ERROR_CODES),
                        ("OwnerPairingState", OWNER_PAIRING_STATES)):
        s = db.get_message_by_name("SPAAK_Status").get_signal_by_name(name)
        assert (s.minimum, s.maximum) == (min(table), max(table)), name
    s = db.get_message_by_name("HU_Request").get_signal_by_name("RequestCode")
    assert (s.minimum, s.maximum) == (min(HU_REQUESTS), max(HU_REQUESTS))


def test_no_stale_comments(db):
    """Byte 7 of SPAAK_Status is a signal now; no comment may still call it 0."""
    spaak = db.get_message_by_name("SPAAK_Status")
    assert "Byte 7 is 0" not in spaak.comment
    assert "8.1" in db.version


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
    assert layout["OwnerPairingState"] == (56, 8)
    nfc = db.get_message_by_name("NFC_Status")
    assert [(s.name, s.start, s.length) for s in nfc.signals] == [
        ("NFC_CRC", 0, 8), ("NFC_AliveCounter", 8, 4), ("DevicePresent", 16, 1), ("ReaderReady", 17, 1)]
    hu = db.get_message_by_name("HU_Request")
    assert [(s.name, s.start, s.length) for s in hu.signals] == [
        ("HU_CRC", 0, 8), ("HU_AliveCounter", 8, 4), ("RequestCode", 16, 8)]
    for s in tbm.signals + spaak.signals + nfc.signals + hu.signals:
        assert s.byte_order == "little_endian" and not s.is_signed


@pytest.mark.parametrize("frame_id", sorted(E2E_FRAMES))
def test_e2e_header(db, frame_id):
    """ICD 3 bytes 0 and 1 of every E2E frame; the comments name the frame's data id."""
    msg = db.get_message_by_frame_id(frame_id)
    _, crc, counter = E2E_FRAMES[frame_id]
    assert (msg.signals[0].name, msg.signals[0].start, msg.signals[0].length) == (crc, 0, 8)
    assert (msg.signals[1].name, msg.signals[1].start, msg.signals[1].length) == (counter, 8, 4)
    assert msg.signals[1].maximum == 14
    assert f"data id 0x{frame_id:04X}" in msg.comment
    assert f"0x{frame_id & 0xFF:02X}, 0x{frame_id >> 8:02X}, bytes 1..7" in msg.signals[0].comment


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


@pytest.mark.parametrize("frame_id", sorted(E2E_FRAMES))
def test_counter_15_out_of_range(db, frame_id):
    msg = db.get_message_by_frame_id(frame_id)
    _, crc, counter = E2E_FRAMES[frame_id]
    signals = {s.name: (s.minimum or 0) for s in msg.signals}
    msg.encode(signals, strict=True)
    with pytest.raises(cantools.database.EncodeError):
        msg.encode({**signals, counter: 15}, strict=True)


def test_unknown_hu_request_out_of_range(db):
    msg = db.get_message_by_name("HU_Request")
    with pytest.raises(cantools.database.EncodeError):
        msg.encode({"HU_CRC": 0, "HU_AliveCounter": 0, "RequestCode": 0}, strict=True)


@pytest.mark.parametrize("text,expected", list(fixtures()))
def test_swift_fixtures(db, text, expected):
    frame_id, payload = parse(text)
    _, crc_name, _ = E2E_FRAMES[frame_id]
    assert payload[0] == e2e_crc(frame_id, payload), "CRC"
    assert payload[1] >> 4 == 0
    decoded = db.decode_message(frame_id, payload, decode_choices=False)
    want = {name: expected.get(name, 0) for name in decoded}
    assert decoded == want
    assert expected[crc_name] == payload[0]
    # Round trip: encoding the values gives the same bytes.
    assert db.encode_message(frame_id, want, strict=True) == payload


def test_fixtures_cover_every_e2e_frame_and_state():
    """Each E2E frame has fixtures; byte 7 of SPAAK_Status shows every owner pairing state."""
    lines = list(fixtures())
    assert {parse(text)[0] for text, _ in lines} == set(E2E_FRAMES)
    states = {parse(text)[1][7] for text, _ in lines if parse(text)[0] == 0x3A8}
    assert states == set(OWNER_PAIRING_STATES)
    nfc = {parse(text)[1][2] for text, _ in lines if parse(text)[0] == 0x3B0}
    assert nfc == {0, 1, 2, 3}


def test_isotp_raw_signal(db):
    msg = db.get_message_by_frame_id(0x7A0)
    payload = bytes.fromhex("0322F18CCCCCCCCC")
    (name,) = [s.name for s in msg.signals]
    assert db.decode_message(0x7A0, payload) == {name: int.from_bytes(payload, "big")}
