"""E2E protection of the cyclic frames (ICD 3): CRC-8/SAE-J1850 over the data id (the CAN
id, low byte then high byte) and bytes 1..7; byte 1 holds the alive counter 0..14."""
from __future__ import annotations

TBM_STATUS_ID = 0x3A0
SPAAK_STATUS_ID = 0x3A8
#: The alive counter wraps 14 -> 0; 15 is never sent.
COUNTER_MODULO = 15


def crc8_sae_j1850(data: bytes) -> int:
    """CRC-8/SAE-J1850: poly 0x1D, init 0xFF, xorout 0xFF (check value 0x4B for "123456789")."""
    crc = 0xFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1D) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0xFF


def e2e_crc(can_id: int, payload7: bytes) -> int:
    """Byte 0 of a protected frame whose bytes 1..7 are ``payload7``."""
    return crc8_sae_j1850(bytes([can_id & 0xFF, (can_id >> 8) & 0xFF]) + bytes(payload7))


def e2e_frame(can_id: int, counter: int, signals: bytes) -> bytes:
    """An 8-byte protected frame: CRC, counter, six signal bytes (padded with zeros)."""
    body = bytes([counter & 0x0F]) + bytes(signals).ljust(6, b"\0")[:6]
    return bytes([e2e_crc(can_id, body)]) + body


def e2e_valid(can_id: int, data: bytes) -> bool:
    """DLC 8, the CRC right, a counter 0..14 and bits 4-7 of byte 1 zero."""
    return (len(data) == 8 and data[0] == e2e_crc(can_id, data[1:]) and (data[1] & 0x0F) != 15
            and data[1] >> 4 == 0)


def tbm_status(counter: int, connected: bool = True, subscribed: bool = True) -> bytes:
    """TBM_Status (0x3A0): byte 2 bit 0 GsdpConnected, bit 1 SpaakTopicSubscribed."""
    return e2e_frame(TBM_STATUS_ID, counter % COUNTER_MODULO,
                     bytes([(1 if connected else 0) | (2 if subscribed else 0)]))
