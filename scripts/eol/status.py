"""DID 0xD120, provisioning status (ICD 5.2): the SPAAK_Status flags byte (ICD 3), then one
KeyM certificate status byte for each of J, J1, J_PhysicalKey, Z1, ZZ2, ECU identity, [K]."""
from __future__ import annotations

from dataclasses import dataclass

from spaaklib.signals import PLANT_LOCKED, flag_words

#: The certificate slots of D120, in order.
SLOTS = ("J", "J1", "J_PhysicalKey", "Z1", "ZZ2", "ECU", "K")
#: The slots the plant provisions (RP-01 roots and the RP-02 ECU identity); [K] comes later (PP-01).
PLANT_SLOTS = SLOTS[:6]

#: KeyM certificate status codes (AUTOSAR KeyM; ICD 5.2 lists 0, 1, 4..9).
STATUS_NAMES = {
    0: "VALID",
    1: "INVALID",
    2: "NOT_PARSED",
    3: "PARSED_NOT_VALIDATED",
    4: "NOT_AVAILABLE",
    5: "VALIDITY_PERIOD_FAIL",
    6: "SIGNATURE_FAIL",
    7: "INVALID_CHAIN_OF_TRUST",
    8: "INVALID_TYPE",
    9: "INVALID_FORMAT",
    10: "INVALID_CONTENT",
    11: "REVOKED",
}
VALID = 0


def status_name(code: int) -> str:
    """``VALID``, ``NOT_AVAILABLE``, ... or ``UNKNOWN(0xNN)``."""
    return STATUS_NAMES.get(code, f"UNKNOWN(0x{code:02X})")


@dataclass(frozen=True)
class ProvisioningStatus:
    """A decoded D120 record."""

    flags: int
    certificates: dict  # slot name -> status code (missing slots are absent)
    raw: bytes

    @classmethod
    def decode(cls, data: bytes) -> "ProvisioningStatus":
        """Decodes D120; ValueError when the record is empty. A short record leaves the
        missing slots out; bytes beyond the seven slots are ignored."""
        data = bytes(data)
        if not data:
            raise ValueError("D120 record is empty")
        certificates = {slot: data[1 + i] for i, slot in enumerate(SLOTS) if 1 + i < len(data)}
        return cls(flags=data[0], certificates=certificates, raw=data)

    @property
    def plant_locked(self) -> bool:
        """Flag bit 3."""
        return bool(self.flags & PLANT_LOCKED)

    def flag_words(self) -> list:
        """The names of the set flags, in bit order."""
        return flag_words(self.flags)

    def plant_slots_valid(self) -> bool:
        """The five roots and the ECU identity certificate are all VALID."""
        return all(self.certificates.get(slot) == VALID for slot in PLANT_SLOTS)

    @property
    def fully_provisioned(self) -> bool:
        """Plant locked and every plant slot VALID: nothing left to do at EOL."""
        return self.plant_locked and self.plant_slots_valid()

    def problems(self) -> list:
        """``slot=STATUS`` for each plant slot that is not VALID."""
        return [f"{slot}={status_name(self.certificates[slot]) if slot in self.certificates else 'MISSING'}"
                for slot in PLANT_SLOTS if self.certificates.get(slot) != VALID]

    def words(self) -> str:
        """One line: the flags, then the slots grouped by status, e.g.
        ``locked; VALID: J J1 J_PhysicalKey Z1 ZZ2 ECU; NOT_AVAILABLE: K``."""
        groups: dict = {}
        for slot in SLOTS:
            if slot in self.certificates:
                groups.setdefault(status_name(self.certificates[slot]), []).append(slot)
        lock = "locked" if self.plant_locked else "not locked"
        others = [w for w in self.flag_words() if w != "plant locked"]
        parts = [lock + (" (" + ", ".join(others) + ")" if others else "")]
        parts += [f"{name}: {' '.join(slots)}" for name, slots in groups.items()]
        return "; ".join(parts)
