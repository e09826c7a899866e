"""Bad input on the bus: the module answers with the right NRC or ignores, and keeps running."""
import random
import subprocess
import time

import can

from spaakbus import PEER_IFACE, bus, collect, tool


def send(b, can_id, hexdata):
    b.send(can.Message(arbitration_id=can_id, data=bytes.fromhex(hexdata), is_extended_id=False))


def read_serial(b, module) -> bytes:
    """A single-frame read of 0xF18C answered with a multi-frame response (FC sent by us)."""
    send(b, 0x7A0, "0322F18C")
    frames = collect(b, 0.3, ids={0x7A8})
    assert frames, "no response"
    first = bytes(frames[0].data)
    assert first[0] >> 4 == 1 and first[2:5] == b"\x62\xF1\x8C", first.hex()
    send(b, 0x7A0, "3000000000000000")
    rest = collect(b, 0.3, ids={0x7A8})
    assert rest, "no consecutive frames after our flow control"
    return first


def test_malformed_isotp_frames_are_ignored(module):
    with bus() as b:
        for data in ["", "00", "08220102", "0F22F18C", "1000", "2122F18C", "3000", "31", "32",
                     "40FFFFFFFF"]:
            if data:
                send(b, 0x7A0, data)
            else:
                b.send(can.Message(arbitration_id=0x7A0, data=b"", is_extended_id=False))
        # Unexpected flow control and stray consecutive frames produce nothing on 0x7A8.
        assert collect(b, 0.3, ids={0x7A8}) == []
        read_serial(b, module)


def test_wrong_sequence_number_aborts_reception(module):
    with bus() as b:
        send(b, 0x7A0, "100922F18CF195F1")       # first frame of 9 bytes
        fc = collect(b, 0.3, ids={0x7A8})
        assert fc and bytes(fc[0].data[:3]) == b"\x30\x00\x00"
        send(b, 0x7A0, "22908C")                 # SN 2 instead of 1
        assert collect(b, 0.5, ids={0x7A8}) == []
        read_serial(b, module)


def test_oversize_first_frame_gets_overflow(module):
    with bus() as b:
        send(b, 0x7A0, "1000000010002233")       # FD escape on classic CAN: 4096 bytes
        frames = collect(b, 0.3, ids={0x7A8})
        assert frames and frames[0].data[0] == 0x32, [bytes(f.data).hex() for f in frames]
        read_serial(b, module)


def test_truncated_uds_request_gets_length_nrc(module):
    with bus() as b:
        send(b, 0x7A0, "0222F1")
        frames = collect(b, 0.3, ids={0x7A8})
        assert frames and bytes(frames[0].data[:4]) == bytes.fromhex("037F2213")


def test_unrelated_ids_and_random_flood(module):
    rng = random.Random(7)
    with bus() as b:
        for _ in range(3000):
            can_id = rng.choice([0x123, 0x7A0, 0x7DF, 0x6A8, 0x3A0, rng.randrange(0x800)])
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(9)))
            b.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
        gen = subprocess.Popen([tool("cangen"), PEER_IFACE, "-g", "0", "-n", "20000"])
        gen.wait(timeout=120)
    time.sleep(1.5)   # any reception the flood started times out (N_Cr)
    # A new socket: the flood's socket still holds a backlog of cangen's random frames, some of
    # them on 0x7A8 (random ids), which a short drain in the slow VM does not always empty.
    with bus() as b:
        read_serial(b, module)
    assert module.alive
