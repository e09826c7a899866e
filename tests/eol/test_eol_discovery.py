"""The sans-I/O part of discovery: frames in, flow controls out, serials collected."""
from eol.discovery import DiscoveryCollector, functional_request, pad
from eol.model import ModuleAddress


def answer_frames(serial: str) -> list:
    """How a module sends 62 F18C <serial> on classic CAN (FF + CFs, padded)."""
    payload = bytes([0x62, 0xF1, 0x8C]) + serial.encode()
    frames = [bytes([0x10 | (len(payload) >> 8), len(payload) & 0xFF]) + payload[:6]]
    rest, sn = payload[6:], 1
    while rest:
        frames.append(pad(bytes([0x20 | sn]) + rest[:7]))
        rest, sn = rest[7:], (sn + 1) & 0x0F
    return frames


def test_functional_request_frame():
    assert functional_request() == bytes.fromhex("0322F18CCCCCCCCC")


def test_interleaved_answers_of_three_modules():
    c = DiscoveryCollector()
    serials = {0x7A8: "SPK0000000001", 0x7B8: "SPK0000000002", 0x7C8: "SPK0000000003"}
    frames = {rid: answer_frames(s) for rid, s in serials.items()}
    sent = []
    for rid in serials:                                   # all first frames first
        sent += c.feed(rid, frames[rid][0])
    assert sent == [(rid - 8, bytes.fromhex("300000CCCCCCCCCC")) for rid in serials]
    for i in range(1, len(frames[0x7A8])):                # then the consecutive frames, interleaved
        for rid in reversed(list(serials)):
            assert c.feed(rid, frames[rid][i]) == []
    assert c.modules() == [(ModuleAddress(rid - 8, rid), s) for rid, s in serials.items()]


def test_single_frame_answer_and_negative_answer():
    c = DiscoveryCollector()
    c.feed(0x7A8, pad(bytes.fromhex("0662F18C41424300")[:7]))   # 62 F18C "ABC" in a single frame
    c.feed(0x7B8, pad(bytes.fromhex("037F2222")))
    assert c.answers == {0x7A8: b"ABC"}
    assert c.negatives == {0x7B8: 0x22}


def test_unrelated_traffic_gets_no_flow_control():
    c = DiscoveryCollector()
    assert c.feed(0x7DF, functional_request()) == []              # our own request
    assert c.feed(0x7E8, bytes.fromhex("1014620123456789")) == []  # another DID
    assert c.feed(0x7A8, bytes.fromhex("10")) == []               # truncated first frame
    assert c.feed(0x7A8, bytes.fromhex("21AABBCCDDEEFF00")) == []  # CF without FF
    assert c.feed(0x003, bytes.fromhex("101062F18C414243")) == []  # request id would be negative
    assert c.modules() == []


def test_wrong_sequence_number_drops_the_answer():
    c = DiscoveryCollector()
    frames = answer_frames("SPK0000000001")
    c.feed(0x7A8, frames[0])
    c.feed(0x7A8, bytes([0x22]) + frames[1][1:])
    for f in frames[1:]:
        c.feed(0x7A8, f)
    assert c.modules() == []


def test_custom_response_offset():
    c = DiscoveryCollector(request_id_for=lambda r: r - 0x10)
    out = []
    for f in answer_frames("SPK0000000007"):
        out += c.feed(0x7B0, f)
    assert out[0][0] == 0x7A0
    assert c.modules() == [(ModuleAddress(0x7A0, 0x7B0), "SPK0000000007")]
