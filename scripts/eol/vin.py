"""VINs for the modules (ISO 3779): given per serial, or derived from the serial.

A derived VIN is ``prefix[0:8] + check digit + prefix[9:11] + 6-digit sequence``: the
prefix gives the WMI, VDS, model year and plant (position 9 is recomputed); the sequence is
the number the serial ends with (modulo 10^6), or, for a serial without trailing digits, a
number taken from its SHA-256. The check digit follows the North-American rule (weights
8765432X098765432), harmless elsewhere and a guard against typing errors.
"""
from __future__ import annotations

import hashlib
import re

#: ISO 3779 alphabet: digits and capitals without I, O, Q.
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
#: Default first 11 characters: WMI ZFA, VDS 25000, check placeholder, year T (2026), plant S.
DEFAULT_VIN_PREFIX = "ZFA250000TS"

_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def is_valid_vin(vin: str) -> bool:
    """17 characters of the VIN alphabet (the check digit is not enforced: EU VINs lack it)."""
    return len(vin) == 17 and all(c in VIN_ALPHABET for c in vin)


def check_digit(vin: str) -> str:
    """The position-9 check digit of a 17-character VIN ('0'..'9' or 'X')."""
    if len(vin) != 17 or any(c not in VIN_ALPHABET for c in vin):
        raise ValueError(f"'{vin}' is not 17 VIN characters")
    total = sum(_TRANSLITERATION[c] * w for c, w in zip(vin, _WEIGHTS))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_prefix(prefix: str) -> str:
    """The prefix upper-cased, or ValueError: 11 VIN characters."""
    prefix = prefix.strip().upper()
    if len(prefix) != 11 or any(c not in VIN_ALPHABET for c in prefix):
        raise ValueError(f"--vin-prefix must be 11 VIN characters (no I, O, Q), got '{prefix}'")
    return prefix


def sequence_number(serial: str) -> int:
    """The serial's trailing number modulo 10^6; else 6 digits from its SHA-256."""
    match = re.search(r"(\d+)$", serial)
    if match:
        return int(match.group(1)) % 1_000_000
    return int.from_bytes(hashlib.sha256(serial.encode()).digest()[:8], "big") % 1_000_000


def derive_vin(serial: str, prefix: str = DEFAULT_VIN_PREFIX) -> str:
    """The VIN for ``serial``, deterministic (see the module documentation)."""
    prefix = validate_prefix(prefix)
    draft = prefix[:8] + "0" + prefix[9:11] + f"{sequence_number(serial):06d}"
    return draft[:8] + check_digit(draft) + draft[9:]


def parse_vin_assignments(lines) -> dict:
    """``SERIAL VIN`` or ``SERIAL=VIN`` per line (blank lines and ``#`` comments skipped)
    into {serial: VIN}; ValueError naming the bad line."""
    result = {}
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.replace("=", " ").split()
        if len(parts) != 2:
            raise ValueError(f"line {number}: expected 'SERIAL VIN', got '{line.strip()}'")
        serial, vin = parts[0], parts[1].upper()
        if not is_valid_vin(vin):
            raise ValueError(f"line {number}: '{vin}' is not a VIN (17 characters, no I, O, Q)")
        result[serial] = vin
    return result
