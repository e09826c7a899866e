"""Security access key (ICD 5.3): AES-128-CMAC, proven against RFC 4493 and an independent
implementation built here from AES-ECB, then used with the ICD's default K_plant."""
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from spaaklib.uds import DEFAULT_PLANT_KEY_HEX, aes_cmac, parse_plant_key, security_key, udsoncan_security_algo

RFC_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710")


@pytest.mark.parametrize("length,mac", [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
])
def test_rfc4493_examples(length, mac):
    assert aes_cmac(RFC_KEY, RFC_MESSAGE[:length]).hex() == mac


def _reference_cmac(key: bytes, message: bytes) -> bytes:
    """RFC 4493 section 2.4, written out from AES-ECB."""
    def aes(block):
        e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return e.update(block) + e.finalize()

    def double(block):
        n = int.from_bytes(block, "big") << 1
        if block[0] & 0x80:
            n ^= 0x87
        return (n & ((1 << 128) - 1)).to_bytes(16, "big")

    k1 = double(aes(bytes(16)))
    k2 = double(k1)
    blocks = [message[i:i + 16] for i in range(0, len(message), 16)] or [b""]
    last = blocks[-1]
    if len(last) == 16:
        last = bytes(a ^ b for a, b in zip(last, k1))
    else:
        last = bytes(a ^ b for a, b in zip(last + b"\x80" + bytes(15 - len(last)), k2))
    x = bytes(16)
    for block in blocks[:-1] + [last]:
        x = aes(bytes(a ^ b for a, b in zip(x, block)))
    return x


def test_reference_implementation_agrees_with_rfc():
    assert _reference_cmac(RFC_KEY, RFC_MESSAGE[:40]).hex() == "dfa66747de9ae63030ca32611497c827"


def test_icd_default_key_vector():
    key = parse_plant_key(DEFAULT_PLANT_KEY_HEX)
    assert key == bytes(range(16))
    seed = bytes(range(0x10, 0x20))
    assert security_key(key, seed) == _reference_cmac(key, seed)
    assert security_key(key, seed).hex() == "5328320c5d7bf725945a958f63aaf082"


def test_udsoncan_hook_uses_params_as_plant_key():
    seed = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert udsoncan_security_algo(level=1, seed=seed, params=bytes(range(16))) == _reference_cmac(bytes(range(16)), seed)


@pytest.mark.parametrize("text", ["0x000102030405060708090a0b0c0d0e0f", "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"])
def test_plant_key_spellings(text):
    assert parse_plant_key(text) == bytes(range(16))


@pytest.mark.parametrize("text", ["", "0001", "zz0102030405060708090a0b0c0d0e0f", "00" * 17])
def test_bad_plant_keys_are_refused(text):
    with pytest.raises(ValueError):
        parse_plant_key(text)
