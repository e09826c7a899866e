"""The NFC lane of the demo, as the bus monitor sees it on each vehicle bus (ICD 8):
``HU_Request`` (0x3C0), the taps of ``NFC_Status`` (0x3B0: DevicePresent set or cleared) and
the APDUs of owner pairing, command APDUs on ISO-TP 0x6B0 and response APDUs on 0x6B8,
reassembled from their CAN frames: one event per APDU, never one per frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from spaaklib.e2e import e2e_valid

NFC_STATUS, HU_REQUEST, COMMAND, RESPONSE = 0x3B0, 0x3C0, 0x6B0, 0x6B8
IDS = (NFC_STATUS, HU_REQUEST, COMMAND, RESPONSE)

#: INS of the command APDUs (ICD 8.3): (name, what the data carries).
COMMANDS = {0xA4: ("SELECT", "AID"), 0x30: ("SPAKE2+ REQUEST", "salt, N, r, p, VIN"),
            0x32: ("SPAKE2+ VERIFY", "shareV Y, confirmV"), 0xD4: ("WRITE DATA", "[K] [J1], encrypted"),
            0xCA: ("GET DATA", ""), 0x80: ("AUTH0", "vehicle ephemeral key, transaction id"),
            0x81: ("AUTH1", "vehicle signature")}
#: What a ``90 00`` answer to each command carries.
ANSWERS = {0xA4: "versions (5C)", 0x30: "shareP X (50)", 0x32: "confirmP (58)", 0xD4: "[K] accepted",
           0xCA: "endpoint key + name (70, encrypted)", 0x80: "device ephemeral key (86)",
           0x81: "device signature (9E)"}
#: Status words other than 90 00.
REFUSALS = {0x6982: "security status not satisfied", 0x6A80: "wrong data", 0x6985: "conditions not satisfied"}


@dataclass(frozen=True)
class NfcEvent:
    """One arrow of the NFC lane: ``src``/``dst`` are diagram lanes (N the phone and reader, S
    the module); ``session`` is the pairing phase (2 or 3) of the NFC session it belongs to,
    0 outside one; ``kind`` msg, reply or bad."""

    t: float
    module: int
    src: str
    dst: str
    label: str
    kind: str = "msg"
    session: int = 0


class IsoTpReassembler:
    """ISO-TP messages (classic CAN, ISO 15765-2) from the frames of one identifier: single
    frames and first frame + consecutive frames in sequence; a frame out of sequence drops the
    message (a monitor does not guess). Flow control frames carry no data."""

    def __init__(self):
        self.partial: Optional[tuple] = None  # (length, data, next sequence number, time of the first frame)

    def feed(self, data: bytes, t: float) -> Optional[tuple]:
        """(message, time of its first frame) when ``data`` completes one, else None."""
        if not data:
            return None
        pci = data[0] >> 4
        if pci == 0:
            length = data[0] & 0x0F
            self.partial = None
            return (bytes(data[1:1 + length]), t) if 0 < length <= len(data) - 1 else None
        if pci == 1 and len(data) >= 2:
            length = ((data[0] & 0x0F) << 8) | data[1]
            start = 2
            if length == 0 and len(data) >= 6:  # escape: 32-bit length
                length, start = int.from_bytes(data[2:6], "big"), 6
            self.partial = (length, bytearray(data[start:]), 1, t)
            return None
        if pci == 2 and self.partial is not None:
            length, buffer, sequence, first = self.partial
            if data[0] & 0x0F != sequence:
                self.partial = None
                return None
            buffer.extend(data[1:])
            if len(buffer) >= length:
                self.partial = None
                return bytes(buffer[:length]), first
            self.partial = (length, buffer, (sequence + 1) & 0x0F, first)
        return None


def command_label(apdu: bytes) -> str:
    """``SPAKE2+ REQUEST (salt, N, r, p, VIN)`` for a command APDU."""
    if len(apdu) < 4:
        return f"command APDU ({len(apdu)} bytes)"
    name, carries = COMMANDS.get(apdu[1], (f"INS {apdu[1]:02X}", ""))
    return f"{name} ({carries})" if carries else name


def answer_label(apdu: bytes, ins: Optional[int]) -> tuple:
    """(label, kind) of a response APDU, ``ins`` the command it answers (None: unknown)."""
    if len(apdu) < 2:
        return f"response APDU ({len(apdu)} bytes)", "bad"
    sw = int.from_bytes(apdu[-2:], "big")
    if sw == 0x9000:
        what = ANSWERS.get(ins, f"{len(apdu) - 2} bytes") if ins is not None else f"{len(apdu) - 2} bytes"
        return f"{what}, 90 00", "reply"
    return f"{sw >> 8:02X} {sw & 0xFF:02X} {REFUSALS.get(sw, 'refused')}", "bad"


class NfcTrace:
    """The NFC lanes of all vehicle buses: ``feed`` every frame of a watched identifier.
    ``NFC_Status`` and ``HU_Request`` are decoded with the DBC (``db``, cantools)."""

    def __init__(self, db):
        self.nfc_status = db.get_message_by_frame_id(NFC_STATUS)
        self.hu_request = db.get_message_by_frame_id(HU_REQUEST)
        self.modules: dict = {}     # iface -> module number
        self.present: dict = {}     # iface -> DevicePresent of the last valid NFC_Status
        self.session: dict = {}     # iface -> pairing phase of the current NFC session
        self.last_ins: dict = {}    # iface -> INS of the last command APDU
        self.isotp: dict = {}       # (iface, can id) -> IsoTpReassembler
        self.events: list = []      # NfcEvent

    def watch(self, iface: str, module: int) -> None:
        """Decode the NFC frames of ``iface`` as those of ``module``."""
        self.modules[iface] = module

    def feed(self, iface: str, can_id: int, data: bytes, t: float, owner_state: int) -> Optional[NfcEvent]:
        """Takes one frame; the event it completes, if any. ``owner_state`` is SPAAK_Status byte 7
        on that bus right now: a tap while an owner key is pending (2) starts a phase 3 session."""
        module = self.modules.get(iface)
        if module is None or can_id not in IDS:
            return None
        event = None
        if can_id == NFC_STATUS:
            if len(data) != 8 or not e2e_valid(can_id, data):
                return None
            present = bool(self.nfc_status.decode(data, decode_choices=False)["DevicePresent"])
            if present != self.present.get(iface, False):
                if present:
                    self.session[iface] = 3 if owner_state == 2 else 2
                    event = NfcEvent(t, module, "N", "S", "tap: phone in the field (NFC_Status)",
                                     session=self.session[iface])
                else:
                    event = NfcEvent(t, module, "N", "S", "phone leaves the field", session=self.session.get(iface, 0))
            self.present[iface] = present
        elif can_id == HU_REQUEST:
            if (len(data) == 8 and e2e_valid(can_id, data)
                    and self.hu_request.decode(data, decode_choices=False)["RequestCode"] == 1):  # StartOwnerPairing
                event = NfcEvent(t, module, "N", "S", "HU_Request 0x01: start owner pairing (head unit)")
        else:
            done = self.isotp.setdefault((iface, can_id), IsoTpReassembler()).feed(data, t)
            if done is None:
                return None
            apdu, first = done
            session = self.session.get(iface, 0)
            if can_id == COMMAND:
                self.last_ins[iface] = apdu[1] if len(apdu) >= 2 else None
                event = NfcEvent(first, module, "S", "N", command_label(apdu), session=session)
            else:
                label, kind = answer_label(apdu, self.last_ins.get(iface))
                event = NfcEvent(first, module, "N", "S", label, kind, session)
        if event is not None:
            self.events.append(event)
        return event
