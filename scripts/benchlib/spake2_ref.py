"""A SPAKE2+ verifier (RFC 9383, P256-SHA256-HKDF-SHA256-HMAC-SHA256) written from the RFC for
the pairing benchmark: the peer of the module's verifier step (ICD 8.3 step 3). Nothing here
imports the project's code.

Two point back-ends compute the same thing:

- ``pure``: P-256 arithmetic in Python integers (Jacobian coordinates, a = −3);
- ``openssl``: `cryptography` (OpenSSL) for the scalar multiplications — k·G from the key
  derivation, k·P from ECDH, which gives x only: y is recovered from the curve equation and
  its sign from x((k+1)·P), a second ECDH — and Python for the additions.

``verifier(...)`` returns (shareV, confirmV, confirmP expected, K_shared); ``VECTOR`` is RFC 9383
appendix C, which both back-ends reproduce (``vector_ok``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable, Optional, Tuple

from cryptography.hazmat.primitives.asymmetric import ec

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

Point = Optional[Tuple[int, int]]  # affine; None is the identity


def decompress(text: str) -> Tuple[int, int]:
    raw = bytes.fromhex(text)
    x = int.from_bytes(raw[1:], "big")
    y = pow((x * x * x - 3 * x + B) % P, (P + 1) // 4, P)
    if y & 1 != raw[0] & 1:
        y = P - y
    return x, y


#: RFC 9383 section 4 (P-256), given compressed there.
M = decompress("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")
N_POINT = decompress("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")


def encode(point: Point) -> bytes:
    if point is None:
        raise ValueError("the identity has no uncompressed encoding")
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def decode(raw: bytes) -> Tuple[int, int]:
    """An uncompressed point of P-256 (the identity has no such encoding)."""
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError("not 65 bytes 04 ‖ x ‖ y")
    x, y = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")
    if x >= P or y >= P or (y * y - (x * x * x - 3 * x + B)) % P:
        raise ValueError("not a point of P-256")
    return x, y


def add(p: Point, q: Point) -> Point:
    """Affine addition (one inversion)."""
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0]:
        if (p[1] + q[1]) % P == 0:
            return None
        slope = (3 * p[0] * p[0] - 3) * pow(2 * p[1], -1, P) % P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, P) % P
    x = (slope * slope - p[0] - q[0]) % P
    return x, (slope * (p[0] - x) - p[1]) % P


def negate(p: Point) -> Point:
    return None if p is None else (p[0], (P - p[1]) % P)


# --- pure Python scalar multiplication (Jacobian, a = −3) --------------------------------------

def _double(x1, y1, z1):
    if y1 == 0:
        return 0, 1, 0
    delta = z1 * z1 % P
    gamma = y1 * y1 % P
    beta = x1 * gamma % P
    alpha = 3 * (x1 - delta) * (x1 + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y1 + z1) ** 2 - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return x3, y3, z3


def _add_mixed(x1, y1, z1, x2, y2):
    """Jacobian + affine."""
    if z1 == 0:
        return x2, y2, 1
    z1z1 = z1 * z1 % P
    u2 = x2 * z1z1 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - x1) % P
    r = (s2 - y1) % P
    if h == 0:
        return _double(x1, y1, z1) if r == 0 else (0, 1, 0)
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - y1 * hhh) % P
    return x3, y3, z1 * h % P


def pure_mul(k: int, point: Tuple[int, int]) -> Point:
    """k·point, left to right, constant in nothing (a benchmark peer, not a product)."""
    x, y, z = 0, 1, 0
    for bit in bin(k)[2:]:
        x, y, z = _double(x, y, z)
        if bit == "1":
            x, y, z = _add_mixed(x, y, z, point[0], point[1])
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


# --- OpenSSL scalar multiplication through `cryptography` ------------------------------------

def _public(point: Tuple[int, int]) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicNumbers(point[0], point[1], ec.SECP256R1()).public_key()


def openssl_base_mul(k: int) -> Point:
    numbers = ec.derive_private_key(k, ec.SECP256R1()).public_key().public_numbers()
    return numbers.x, numbers.y


def openssl_mul(k: int, point: Tuple[int, int]) -> Point:
    """k·point: x from ECDH, y from the curve equation, its sign from x((k+1)·point)."""
    peer = _public(point)
    x = int.from_bytes(ec.derive_private_key(k, ec.SECP256R1()).exchange(ec.ECDH(), peer), "big")
    y = pow((x * x * x - 3 * x + B) % P, (P + 1) // 4, P)
    candidate = (x, y)
    after = (k + 1) % N
    if after == 0:  # k = n − 1: k·P = −P
        return negate(point)
    x_next = int.from_bytes(ec.derive_private_key(after, ec.SECP256R1()).exchange(ec.ECDH(), peer), "big")
    sum_point = add(candidate, point)
    return candidate if sum_point is not None and sum_point[0] == x_next else negate(candidate)


BACKENDS = {
    "pure": (lambda k: pure_mul(k, G), pure_mul),
    "openssl": (openssl_base_mul, openssl_mul),
}


# --- RFC 9383 -----------------------------------------------------------------------------------

def _hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()  # salt empty → HashLen zeros
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def transcript(context: bytes, id_prover: bytes, id_verifier: bytes, share_p: bytes, share_v: bytes,
               z: bytes, v: bytes, w0: int) -> bytes:
    """TT (RFC 9383 section 3.3): each part preceded by its length, 8 bytes little-endian."""
    parts = (context, id_prover, id_verifier, encode(M), encode(N_POINT), share_p, share_v, z, v, w0.to_bytes(32, "big"))
    return b"".join(len(part).to_bytes(8, "little") + part for part in parts)


def verifier(share_p: bytes, w0: int, l_point: bytes, y: int, context: bytes, id_prover: bytes, id_verifier: bytes,
             backend: str = "openssl") -> tuple:
    """The verifier's step: (shareV, confirmV, the confirmP it expects, K_shared)."""
    base_mul, mul = BACKENDS[backend]
    x = decode(share_p)
    big_l = decode(l_point)
    unmasked = add(x, negate(mul(w0, M)))
    if unmasked is None:
        raise ValueError("X − w0·M is the identity")
    share_v = encode(add(base_mul(y), mul(w0, N_POINT)))
    z = encode(mul(y, unmasked))
    v = encode(mul(y, big_l))
    k_main = hashlib.sha256(transcript(context, id_prover, id_verifier, share_p, share_v, z, v, w0)).digest()
    confirmation = _hkdf(k_main, b"ConfirmationKeys", 64)
    k_shared = _hkdf(k_main, b"SharedKey", 32)
    confirm_v = hmac.new(confirmation[32:], share_p, hashlib.sha256).digest()
    confirm_p = hmac.new(confirmation[:32], share_v, hashlib.sha256).digest()
    return share_v, confirm_v, confirm_p, k_shared


#: RFC 9383 appendix C (P-256).
VECTOR = {
    "context": b"SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors",
    "id_prover": b"client",
    "id_verifier": b"server",
    "w0": 0xBB8E1BBCF3C48F62C08DB243652AE55D3E5586053FCA77102994F23AD95491B3,
    "L": bytes.fromhex("04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f"
                       "00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd"),
    "y": 0x717A72348A182085109C8D3917D6C43D59B224DC6A7FC4F0483232FA6516D8B3,
    "shareP": bytes.fromhex("04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1"
                            "de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727"),
    "shareV": bytes.fromhex("04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb"
                            "5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048"),
    "confirmP": bytes.fromhex("926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527"),
    "confirmV": bytes.fromhex("9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68"),
    "K_shared": bytes.fromhex("0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7"),
}


def vector_ok(backend: str) -> bool:
    v = VECTOR
    got = verifier(v["shareP"], v["w0"], v["L"], v["y"], v["context"], v["id_prover"], v["id_verifier"], backend)
    return got == (v["shareV"], v["confirmV"], v["confirmP"], v["K_shared"])


def timed(backend: str, seconds: float = 1.0, minimum: int = 5) -> dict:
    """Verifier steps per second as the module runs them (ICD 8.4 identities, the vector's
    w0, L and X, y random each time), after two warm-ups."""
    v = VECTOR
    context, vin = b"SpaaK owner pairing v1", b"VF3ABCDEF12345678"
    once: Callable[[], tuple] = lambda: verifier(v["shareP"], v["w0"], v["L"], secrets.randbelow(N - 1) + 1,
                                                 context, b"device", vin, backend)
    once()
    once()
    count, t0 = 0, time.perf_counter()
    while True:
        once()
        count += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and count >= minimum:
            break
    return {"iterations": count, "seconds": elapsed, "ops_per_s": count / elapsed, "vector_ok": vector_ok(backend)}
