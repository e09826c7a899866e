"""The DBC decodes a candump -L log of the running module with no error (cantools)."""
import subprocess

import cantools

from spaakbus import IFACE, ROOT, TBMSender, tool


def test_cantools_decodes_candump_log(module, tmp_path):
    tbm = TBMSender()
    try:
        log = subprocess.run([tool("candump"), "-L", "-n", "30", f"{IFACE},3A0:7F0"],
                             capture_output=True, text=True, timeout=20).stdout
    finally:
        tbm.stop()
    db = cantools.database.load_file(str(ROOT / "can-dbc" / "spaak.dbc"), strict=True)
    decoded = {"TBM_Status": 0, "SPAAK_Status": 0}
    for line in log.splitlines():
        _, _, frame = line.split()
        can_id, data = frame.split("#")
        msg = db.get_message_by_frame_id(int(can_id, 16))
        signals = msg.decode(bytes.fromhex(data), decode_choices=False)
        decoded[msg.name] += 1
        if msg.name == "TBM_Status":
            assert signals["GsdpConnected"] == 1
    assert decoded["SPAAK_Status"] >= 10 and decoded["TBM_Status"] >= 10, decoded
