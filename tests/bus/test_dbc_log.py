"""The DBC decodes a candump -L log of the running module with no error (cantools): the
module's SPAAK_Status next to its peers' TBM_Status, NFC_Status and HU_Request (ICD 2, 3, 8.1).

The APDU channels 0x6B0 / 0x6B8 carry frames only inside an owner pairing session; their
frames are decoded by test_pairing.py's peers, not here.
"""
import subprocess
import time

import cantools

from nfcdevice import HeadUnit, NFCReader
from spaakbus import PEER_IFACE, ROOT, TBMSender, tool

#: candump filters: exactly the E2E frames (TBM_Status, SPAAK_Status, NFC_Status, HU_Request).
E2E_IDS = (0x3A0, 0x3A8, 0x3B0, 0x3C0)


def test_cantools_decodes_candump_log(module, tmp_path):
    tbm, reader, hu = TBMSender(), NFCReader(ready=True), HeadUnit()
    filters = ",".join(f"{i:03X}:7FF" for i in E2E_IDS)
    dump = subprocess.Popen([tool("candump"), "-L", "-n", "60", f"{PEER_IFACE},{filters}"],
                            stdout=subprocess.PIPE, text=True)
    try:
        # HU_Request is an event frame: one per 200 ms until candump has its 60 frames. The
        # module is not plant locked, so it ignores them (ICD 8.2) and byte 7 stays 0.
        deadline = time.monotonic() + 20
        while dump.poll() is None and time.monotonic() < deadline:
            hu.start_pairing()
            time.sleep(0.2)
        log, _ = dump.communicate(timeout=5)
    finally:
        if dump.poll() is None:
            dump.kill()
        tbm.stop()
        reader.close()
        hu.close()
    db = cantools.database.load_file(str(ROOT / "can-dbc" / "spaak.dbc"), strict=True)
    decoded = {"TBM_Status": 0, "SPAAK_Status": 0, "NFC_Status": 0, "HU_Request": 0}
    for line in log.splitlines():
        _, _, frame = line.split()
        can_id, data = frame.split("#")
        msg = db.get_message_by_frame_id(int(can_id, 16))
        signals = msg.decode(bytes.fromhex(data), decode_choices=True)
        decoded[msg.name] += 1
        if msg.name == "TBM_Status":
            assert signals["GsdpConnected"] == 1
        elif msg.name == "SPAAK_Status":
            assert signals["OwnerPairingState"] == "NoOwnerKey", line
        elif msg.name == "NFC_Status":
            assert (signals["ReaderReady"], signals["DevicePresent"]) == (1, 0), line
        elif msg.name == "HU_Request":
            assert signals["RequestCode"] == "StartOwnerPairing", line
    assert decoded["SPAAK_Status"] >= 10 and decoded["TBM_Status"] >= 10, decoded
    assert decoded["NFC_Status"] >= 10 and decoded["HU_Request"] >= 3, decoded
