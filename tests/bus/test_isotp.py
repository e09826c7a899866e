"""ICD 4 against independent ISO-TP stacks: the kernel's can-isotp (isotpsend/isotprecv)
and python can-isotp's user-space stack, with the tester asking for BS=2, STmin=5 ms."""
import subprocess
import threading
import time

import can
import isotp
import pytest

from spaakbus import PEER_IFACE, bus, collect, tool

pytestmark = pytest.mark.realcan

READ_THREE = bytes.fromhex("22F18CF195F190")          # 7 bytes: single frame
READ_FOUR = bytes.fromhex("22F18CF195F190F18C")       # 9 bytes: multi-frame request


def kernel_exchange(request: bytes, bs: int, stmin: int) -> tuple[bytes, list[can.Message]]:
    """isotprecv (BS/STmin in its flow control) + isotpsend; returns the response and the trace."""
    trace: list[can.Message] = []
    with bus() as sniffer:
        grab = threading.Thread(target=lambda: trace.extend(collect(sniffer, 3.0, ids={0x7A0, 0x7A8})))
        grab.start()
        time.sleep(0.1)
        recv = subprocess.Popen([tool("isotprecv"), "-s", "7A0", "-d", "7A8", "-b", str(bs), "-m", f"{stmin:02x}",
                                 PEER_IFACE], stdout=subprocess.PIPE, text=True)
        time.sleep(0.2)
        subprocess.run([tool("isotpsend"), "-s", "7A0", "-d", "7A8", "-p", "CC:", PEER_IFACE],
                       input=request.hex(" "), text=True, check=True, timeout=10)
        out, _ = recv.communicate(timeout=10)
        grab.join()
    return bytes.fromhex(out.strip()), trace


def check_positive_read(response: bytes, module, vin: bytes | None):
    assert response[0] == 0x62, response.hex()
    assert response[1:3] == b"\xF1\x8C"
    assert response[3:3 + len(module.serial)] == module.serial.encode()


def test_kernel_isotp_multiframe_response_honours_bs_and_stmin(module_with_vin):
    response, trace = kernel_exchange(READ_THREE, bs=2, stmin=5)
    check_positive_read(response, module_with_vin, b"ZFA25000001234567")
    assert b"ZFA25000001234567" in response
    # Bytes on the bus: the module's frames are padded to 8 with 0xCC.
    mod = [m for m in trace if m.arbitration_id == 0x7A8]
    assert all(len(m.data) == 8 for m in mod)
    first, cfs = mod[0], [m for m in mod if m.data[0] >> 4 == 2]
    assert first.data[0] >> 4 == 1 and ((first.data[0] & 0xF) << 8 | first.data[1]) == len(response)
    assert len(cfs) == (len(response) - 6 + 6) // 7
    # STmin 5 ms between consecutive frames; a new FC before every third CF (BS = 2).
    gaps = [b.timestamp - a.timestamp for a, b in zip(cfs, cfs[1:])]
    assert min(gaps) >= 0.0045, gaps
    sequence = "".join("F" if m.arbitration_id == 0x7A0 and m.data[0] >> 4 == 3 else
                       "C" if m.arbitration_id == 0x7A8 and m.data[0] >> 4 == 2 else "." for m in trace)
    blocks = sequence.replace(".", "").split("F")[1:]
    assert all(len(block) <= 2 for block in blocks), sequence
    pad = len(response) - 6 - 7 * (len(cfs) - 1)
    assert bytes(cfs[-1].data[1 + pad:]) == b"\xCC" * (7 - pad)


def test_kernel_isotp_multiframe_request(module_with_vin):
    response, trace = kernel_exchange(READ_FOUR, bs=0, stmin=0)
    check_positive_read(response, module_with_vin, None)
    fc = [m for m in trace if m.arbitration_id == 0x7A8 and m.data[0] >> 4 == 3]
    assert fc and bytes(fc[0].data[:3]) == b"\x30\x00\x00" and len(fc[0].data) == 8


def test_python_can_isotp_stack(module_with_vin):
    with bus() as b:
        addr = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7A0, rxid=0x7A8)
        stack = isotp.CanStack(b, address=addr, params={"blocksize": 2, "stmin": 5, "tx_padding": 0xCC,
                                                                      "rx_flowcontrol_timeout": 1000,
                                                                      "rx_consecutive_frame_timeout": 1000})
        stack.start()
        try:
            for request in (READ_THREE, READ_FOUR):
                stack.send(request)
                response = stack.recv(block=True, timeout=5)
                assert response is not None
                check_positive_read(response, module_with_vin, None)
                assert response.count(b"ZFA25000001234567") == 1
        finally:
            stack.stop()
