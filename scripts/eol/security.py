"""Security access key (ICD 5.3): key = AES-128-CMAC(K_plant, seed)."""
from __future__ import annotations

from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import algorithms

#: The documented default K_plant of the simulation (ICD 5.3).
DEFAULT_PLANT_KEY_HEX = "000102030405060708090a0b0c0d0e0f"


def parse_plant_key(text: str) -> bytes:
    """K_plant from 32 hex digits (spaces and a 0x prefix are tolerated); ValueError otherwise."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"plant key '{text}' is not hexadecimal") from None
    if len(key) != 16:
        raise ValueError(f"plant key must be 16 bytes (32 hex digits), got {len(key)}")
    return key


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-CMAC (RFC 4493 / NIST SP 800-38B) of ``message`` under ``key``."""
    mac = CMAC(algorithms.AES(key))
    mac.update(bytes(message))
    return mac.finalize()


def security_key(plant_key: bytes, seed: bytes) -> bytes:
    """The sendKey payload for a requestSeed answer."""
    return aes_cmac(plant_key, seed)


def udsoncan_security_algo(level, seed, params):
    """udsoncan's ``security_algo`` hook; ``params`` is K_plant (bytes)."""
    return security_key(params, seed)
