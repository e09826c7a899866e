"""The signals of SPAAK_Status (ICD 3) by name: the flags of byte 2, the use cases of byte 3,
the owner-pairing states of byte 7. One table per byte; each flag has the signal name of
can-dbc/spaak.dbc, a word for reports (EOL tester, D120) and a short word for live traces."""
from __future__ import annotations

from typing import NamedTuple


class Flag(NamedTuple):
    """One bit of SPAAK_Status byte 2 (also the first byte of DID 0xD120)."""

    bit: int
    signal: str  # the DBC signal name
    word: str    # for reports
    short: str   # for a live trace

    @property
    def mask(self) -> int:
        return 1 << self.bit


FLAGS = (
    Flag(0, "AllRootCertificatesInstalled", "roots installed", "roots"),
    Flag(1, "EcuIdentityKeyAndCsrPresent", "ECU key and CSR present", "ECU key+CSR"),
    Flag(2, "EcuIdentityCertificateInstalled", "ECU certificate installed", "ECU cert"),
    Flag(3, "PlantLocked", "plant locked", "plant locked"),
    Flag(4, "DrmUuidPresent", "drmUUID present", "drmUUID"),
    Flag(5, "VehicleIdentityCertificateKInstalled", "[K] installed", "[K]"),
    Flag(6, "Spake2PlusVerifierPresent", "verifier present", "verifier"),
    Flag(7, "TbmOnline", "TBM online", "TBM online"),
)
ROOTS, ECU_KEY, ECU_CERT, PLANT_LOCKED, DRM_UUID, K_CERT, VERIFIER, TBM_ONLINE = (f.mask for f in FLAGS)
#: What the plant provisions (RP-01, RP-02, the lock).
PLANT_DONE = ROOTS | ECU_KEY | ECU_CERT | PLANT_LOCKED


def flag_words(flags: int) -> list:
    """The report words of the set bits, in bit order."""
    return [f.word for f in FLAGS if flags & f.mask]


def flag_short_words(flags: int) -> list:
    """The short words of the set bits, in bit order."""
    return [f.short for f in FLAGS if flags & f.mask]


#: SPAAK_Status byte 3: the active use case.
USE_CASES = {0: "none", 1: "RP-01", 2: "RP-02", 3: "PP-01", 4: "PP-02", 5: "PP-03", 6: "SP-02"}
UC_NONE, UC_RP01, UC_RP02, UC_PP01, UC_PP02, UC_PP03, UC_SP02 = range(7)

#: SPAAK_Status byte 7: owner pairing (ICD 8).
OWNER_PAIRING = {0: "no owner key", 1: "pairing window open", 2: "owner key pending", 3: "owner key active"}
