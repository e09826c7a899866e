"""Module discovery: functional ``22 F1 8C`` on 0x7DF; every module answers with its serial
on its own response id (ICD 2). The answer is 16+ bytes, so each module sends a first frame
and waits for a flow control on its physical request id (response id - 8 by default).

``DiscoveryCollector`` is the sans-I/O part (frames in, flow controls out); ``discover``
drives it with python-can.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .model import ModuleAddress

FUNCTIONAL_ID = 0x7DF
PADDING = 0xCC
SERIAL_DID = 0xF18C


def pad(data: bytes) -> bytes:
    """A classic CAN frame's data padded to 8 bytes with 0xCC (ICD 4)."""
    return bytes(data) + bytes([PADDING]) * (8 - len(data))


def functional_request(did: int = SERIAL_DID) -> bytes:
    """The single frame ``03 22 F1 8C CC CC CC CC``."""
    return pad(bytes([0x03, 0x22, did >> 8, did & 0xFF]))


@dataclass
class _Reception:
    length: int
    data: bytearray
    next_sn: int = 1


@dataclass
class DiscoveryCollector:
    """Collects the answers to a functional ReadDataByIdentifier, one ISO-TP reception per
    response id. Flow controls are only sent for first frames that start with the expected
    positive response, so unrelated traffic never gets one."""

    did: int = SERIAL_DID
    request_id_for: Callable[[int], int] = lambda response_id: response_id - 8
    ignore_ids: frozenset = frozenset({FUNCTIONAL_ID})
    answers: dict = field(default_factory=dict)    # response id -> payload after 62 DID
    negatives: dict = field(default_factory=dict)  # response id -> NRC
    _receptions: dict = field(default_factory=dict)

    @property
    def _positive(self) -> bytes:
        return bytes([0x62, self.did >> 8, self.did & 0xFF])

    def feed(self, can_id: int, data: bytes) -> list:
        """One received frame; returns the frames to send, as (id, 8 data bytes)."""
        data = bytes(data)
        if can_id in self.ignore_ids or not data or can_id in self.answers:
            return []
        kind = data[0] >> 4
        if kind == 0:
            self._single(can_id, data)
        elif kind == 1:
            return self._first(can_id, data)
        elif kind == 2:
            self._consecutive(can_id, data)
        return []

    def _single(self, can_id: int, data: bytes) -> None:
        length = data[0] & 0x0F
        payload = data[1:1 + length]
        if length == 0 or len(payload) < length:
            return
        if payload[:3] == self._positive and length > 3:
            self.answers[can_id] = payload[3:]
        elif length == 3 and payload[0] == 0x7F and payload[1] == 0x22:
            self.negatives[can_id] = payload[2]

    def _first(self, can_id: int, data: bytes) -> list:
        if len(data) < 8:
            return []
        length = ((data[0] & 0x0F) << 8) | data[1]
        if length < 8 or data[2:5] != self._positive:
            return []
        request_id = self.request_id_for(can_id)
        if not 0 <= request_id <= 0x7FF:
            return []
        self._receptions[can_id] = _Reception(length, bytearray(data[2:8]))
        return [(request_id, pad(bytes([0x30, 0x00, 0x00])))]

    def _consecutive(self, can_id: int, data: bytes) -> None:
        reception = self._receptions.get(can_id)
        if reception is None:
            return
        if data[0] & 0x0F != reception.next_sn:
            del self._receptions[can_id]
            return
        reception.next_sn = (reception.next_sn + 1) & 0x0F
        reception.data += data[1:1 + reception.length - len(reception.data)]
        if len(reception.data) >= reception.length:
            del self._receptions[can_id]
            self.answers[can_id] = bytes(reception.data[3:])

    def modules(self) -> list:
        """(ModuleAddress, serial) for every answer, ordered by request id."""
        found = []
        for response_id, payload in self.answers.items():
            serial = payload.decode("ascii", errors="replace").strip("\0 ")
            found.append((ModuleAddress(self.request_id_for(response_id), response_id), serial))
        return sorted(found, key=lambda item: item[0].request_id)


def discover(interface: str, timeout: float = 1.0, functional_id: int = FUNCTIONAL_ID,
             response_offset: int = 8, id_range: tuple = (0x700, 0x7FF), bus=None) -> list:
    """Sends the functional request and listens ``timeout`` seconds; (ModuleAddress, serial)
    for every module that answered."""
    import can

    low, high = id_range
    own = bus is None
    if own:
        bus = can.Bus(interface="socketcan", channel=interface, receive_own_messages=False)
    collector = DiscoveryCollector(request_id_for=lambda r: r - response_offset,
                                   ignore_ids=frozenset({functional_id}))
    try:
        bus.send(can.Message(arbitration_id=functional_id, data=functional_request(), is_extended_id=False))
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            message: Optional[can.Message] = bus.recv(timeout=left)
            if message is None or message.is_extended_id or message.is_error_frame:
                continue
            if not low <= message.arbitration_id <= high:
                continue
            for can_id, data in collector.feed(message.arbitration_id, bytes(message.data)):
                bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
    finally:
        if own:
            bus.shutdown()
    return collector.modules()
