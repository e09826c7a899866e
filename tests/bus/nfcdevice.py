"""The owner's phone and the NFC reader of ICD 8, as an independent peer of the module: the
device (SPAKE2+ prover, certificates, endpoint key) behind an NFC reader that sends
`NFC_Status` and relays APDUs over ISO-TP (0x6B0 module → device, 0x6B8 device → module),
and the head unit's `HU_Request`.

Written from the ICD (sections 3, 4, 7.6 and 8) and RFC 9383 alone: nothing here imports the
project's code (neither the Swift code nor scripts/spaaklib). The CRC, the P-256 arithmetic,
SPAKE2+, the APDU and BER-TLV codecs are this file's own; python-can, the kernel's CAN ISO-TP
(through python `isotp`) and `cryptography` (scrypt, HKDF, HMAC, AES-GCM, ECDSA, X.509) are
the only libraries.

Layers, from the bottom:

* pure functions: E2E frames, P-256, SPAKE2+ (prover, and the verifier side for the
  vectors), the tag-70 encryption, APDU and BER-TLV codecs;
* ``Card``: the device's APDU state machine, pure (command bytes in, response bytes out);
* ``NFCReader`` / ``HeadUnit``: the cyclic `NFC_Status` sender and the `HU_Request` sender;
* ``Device``: the shell that joins a ``Card`` to the reader and the ISO-TP socket, runs one
  NFC session at a time and lets a *hook* (the attacks at the end of this file) replace,
  withhold or cut short any answer.

The point arithmetic is not constant-time: this is a test peer, not a wallet.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# the reader, the head unit and the phone are the module's peers (tests/bus/spaakbus.py: PEER_IFACE)
IFACE = os.environ.get("SPAAK_PEER_IFACE") or os.environ.get("SPAAK_IFACE", "vcan0")
NFC_STATUS_ID, HU_REQUEST_ID = 0x3B0, 0x3C0
COMMAND_ID, RESPONSE_ID = 0x6B0, 0x6B8           # module → device, device → module
DEVICE_PRESENT, READER_READY = 0x01, 0x02
HU_START_PAIRING = 0x01


# --- E2E (ICD 3, 8.1) --------------------------------------------------------------------------

def crc8_sae_j1850(data: bytes) -> int:
    """CRC-8/SAE-J1850 (poly 0x1D, init 0xFF, xorout 0xFF), bit by bit."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1D) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0xFF


def e2e_frame(data_id: int, counter: int, signal: int) -> bytes:
    """An 8-byte protected frame: CRC over the data id (low, high) and bytes 1..7, the alive
    counter in byte 1, ``signal`` in byte 2, zeros after."""
    body = bytes([counter & 0x0F, signal & 0xFF, 0, 0, 0, 0, 0])
    return bytes([crc8_sae_j1850(bytes([data_id & 0xFF, data_id >> 8]) + body)]) + body


# --- P-256 -------------------------------------------------------------------------------------

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

Point = tuple[int, int] | None                   # affine; None is the identity


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x - 3 * x + B)) % P == 0


def _jacobian_double(pt):
    x, y, z = pt
    if z == 0 or y == 0:
        return (1, 1, 0)
    delta, gamma = z * z % P, y * y % P
    beta = x * gamma % P
    alpha = 3 * (x - delta) * (x + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y + z) ** 2 - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return (x3, y3, z3)


def _jacobian_add(p1, p2):
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    h, r = (u2 - u1) % P, 2 * (s2 - s1) % P
    if h == 0:
        return _jacobian_double(p1) if r == 0 else (1, 1, 0)
    i = 4 * h * h % P
    j, v = h * i % P, u1 * i % P
    x3 = (r * r - j - 2 * v) % P
    y3 = (r * (v - x3) - 2 * s1 * j) % P
    z3 = ((z1 + z2) ** 2 - z1z1 - z2z2) * h % P
    return (x3, y3, z3)


def _to_jacobian(pt: Point):
    return (1, 1, 0) if pt is None else (pt[0], pt[1], 1)


def _to_affine(pt) -> Point:
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return (x * zi2 % P, y * zi2 * zi % P)


def point_add(a: Point, b: Point) -> Point:
    return _to_affine(_jacobian_add(_to_jacobian(a), _to_jacobian(b)))


def point_neg(a: Point) -> Point:
    return None if a is None else (a[0], (-a[1]) % P)


def scalar_mult(k: int, pt: Point) -> Point:
    """k·pt by double-and-add over Jacobian coordinates."""
    k %= N_ORDER
    acc, base = (1, 1, 0), _to_jacobian(pt)
    for bit in bin(k)[2:] if k else "":
        acc = _jacobian_double(acc)
        if bit == "1":
            acc = _jacobian_add(acc, base)
    return _to_affine(acc)


def encode_point(pt: Point) -> bytes:
    """SEC1 uncompressed, 65 bytes (the identity has no such encoding)."""
    if pt is None:
        raise ValueError("the identity has no uncompressed encoding")
    return b"\x04" + pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")


def decode_point(data: bytes) -> tuple[int, int]:
    """Strict: 65 bytes, 04 ‖ x ‖ y, coordinates below p, on the curve. Raises ValueError."""
    if len(data) != 65 or data[0] != 0x04:
        raise ValueError(f"not an uncompressed point: {len(data)} bytes, prefix {data[:1].hex() or 'none'}")
    x, y = int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big")
    if not on_curve(x, y):
        raise ValueError("not a point of P-256")
    return (x, y)


def decompress(data: bytes) -> tuple[int, int]:
    """A SEC1 compressed point (02/03 ‖ x), for M and N."""
    x = int.from_bytes(data[1:], "big")
    y = pow((x ** 3 - 3 * x + B) % P, (P + 1) // 4, P)
    if y & 1 != data[0] & 1:
        y = P - y
    if not on_curve(x, y):
        raise ValueError("x is not on the curve")
    return (x, y)


# --- SPAKE2+ (RFC 9383, P256-SHA256-HKDF-SHA256-HMAC-SHA256; ICD 7.6, 8.4) ------------------------

M = decompress(bytes.fromhex("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f"))
N = decompress(bytes.fromhex("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"))
CONTEXT = b"SpaaK owner pairing v1"
ID_PROVER = b"device"
ENC_INFO = b"SpaaK pairing enc"
_W_CACHE: dict[tuple, tuple[int, int]] = {}


def derive_w0_w1(password: bytes, salt: bytes, n: int, r: int, p: int) -> tuple[int, int]:
    """ICD 7.6: z = scrypt(password, salt, N, r, p, 80 bytes); w0, w1 = (half mod (n−1)) + 1.
    Cached per input (the emulated VM is slow)."""
    key = (bytes(password), bytes(salt), n, r, p)
    if key not in _W_CACHE:
        z = Scrypt(salt=bytes(salt), length=80, n=n, r=r, p=p).derive(bytes(password))
        _W_CACHE[key] = tuple((int.from_bytes(half, "big") % (N_ORDER - 1)) + 1 for half in (z[:40], z[40:]))
    return _W_CACHE[key]


def verifier_record(password: bytes, salt: bytes, n: int, r: int, p: int) -> tuple[int, bytes]:
    """(w0, L) as the VOS computes them (ICD 7.6)."""
    w0, w1 = derive_w0_w1(password, salt, n, r, p)
    return w0, encode_point(scalar_mult(w1, G))


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(8, "little") + data


def _hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


@dataclass
class Spake2Keys:
    """The key schedule of RFC 9383 after both shares are known."""
    Z: bytes
    V: bytes
    K_main: bytes
    K_confirmP: bytes
    K_confirmV: bytes
    K_shared: bytes
    confirmP: bytes                              # MAC(K_confirmP, shareV)
    confirmV: bytes                              # MAC(K_confirmV, shareP)

    @property
    def K_enc(self) -> bytes:
        return pairing_key(self.K_shared)


def key_schedule(context: bytes, id_prover: bytes, id_verifier: bytes, share_p: bytes, share_v: bytes,
                 Z: Point, V: Point, w0: int) -> Spake2Keys:
    """TT (lengths 8-byte little-endian, M and N uncompressed, w0 as 32 bytes) and the keys."""
    z, v = encode_point(Z), encode_point(V)
    tt = b"".join(_lp(part) for part in (context, id_prover, id_verifier, encode_point(M), encode_point(N),
                                         share_p, share_v, z, v, w0.to_bytes(32, "big")))
    k_main = hashlib.sha256(tt).digest()
    confirm = _hkdf(k_main, b"ConfirmationKeys", 64)
    kp, kv = confirm[:32], confirm[32:]
    return Spake2Keys(z, v, k_main, kp, kv, _hkdf(k_main, b"SharedKey", 32),
                      hmac.new(kp, share_v, hashlib.sha256).digest(), hmac.new(kv, share_p, hashlib.sha256).digest())


def prover_share(x: int, w0: int) -> bytes:
    """shareP = X = x·G + w0·M."""
    return encode_point(point_add(scalar_mult(x, G), scalar_mult(w0, M)))


def prover_finish(x: int, w0: int, w1: int, share_p: bytes, share_v: bytes, *, context: bytes = CONTEXT,
                  id_prover: bytes = ID_PROVER, id_verifier: bytes) -> Spake2Keys:
    """The prover's side once shareV arrived: Y checked (ValueError), Z = x·(Y − w0·N),
    V = w1·(Y − w0·N), the key schedule."""
    base = point_add(decode_point(share_v), point_neg(scalar_mult(w0, N)))
    if base is None:
        raise ValueError("Y − w0·N is the identity")
    return key_schedule(context, id_prover, id_verifier, share_p, share_v,
                        scalar_mult(x, base), scalar_mult(w1, base), w0)


def verifier_share(y: int, w0: int) -> bytes:
    """shareV = Y = y·G + w0·N (the module's side; for the vectors and the host tests)."""
    return encode_point(point_add(scalar_mult(y, G), scalar_mult(w0, N)))


def verifier_finish(y: int, w0: int, L: bytes, share_p: bytes, share_v: bytes, *, context: bytes = CONTEXT,
                    id_prover: bytes = ID_PROVER, id_verifier: bytes) -> Spake2Keys:
    """The verifier's side: Z = y·(X − w0·M), V = y·L."""
    base = point_add(decode_point(share_p), point_neg(scalar_mult(w0, M)))
    return key_schedule(context, id_prover, id_verifier, share_p, share_v,
                        scalar_mult(y, base), scalar_mult(y, decode_point(L)), w0)


# --- tag 70 encryption (ICD 8.3) --------------------------------------------------------------------

TO_DEVICE, TO_MODULE = 0x01, 0x02


def pairing_key(k_shared: bytes) -> bytes:
    """K_enc = HKDF-SHA256(salt none, K_shared, "SpaaK pairing enc", 16 bytes)."""
    return _hkdf(k_shared, ENC_INFO, 16)


def pairing_nonce(direction: int, counter: int) -> bytes:
    return bytes([direction]) + bytes(7) + counter.to_bytes(4, "big")


def seal(k_enc: bytes, direction: int, counter: int, plaintext: bytes) -> bytes:
    """AES-128-GCM ciphertext ‖ 16-byte tag, no associated data."""
    return AESGCM(k_enc).encrypt(pairing_nonce(direction, counter), plaintext, None)


def unseal(k_enc: bytes, direction: int, counter: int, sealed: bytes) -> bytes:
    """Raises cryptography's InvalidTag when it does not decrypt."""
    return AESGCM(k_enc).decrypt(pairing_nonce(direction, counter), sealed, None)


# --- APDUs and BER-TLV (ICD 8.3) ------------------------------------------------------------

AID = bytes.fromhex("A000000809434343444B417631")
SW_OK, SW_SECURITY, SW_WRONG_DATA, SW_CONDITIONS = b"\x90\x00", b"\x69\x82", b"\x6A\x80", b"\x69\x85"


class Malformed(ValueError):
    """Bytes that break the ICD 8.3 APDU or BER-TLV layout."""


@dataclass(frozen=True)
class Command:
    """A command APDU."""
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])


def parse_command(apdu: bytes) -> Command:
    """Strict extended-length form: `CLA INS P1 P2 00 Lc1 Lc2 data 00 00` or `CLA INS P1 P2 00 00 00`."""
    if len(apdu) < 7:
        raise Malformed(f"command of {len(apdu)} bytes")
    header, body = apdu[:4], apdu[4:]
    if body == b"\x00\x00\x00":
        return Command(*header, b"")
    if body[0] != 0:
        raise Malformed(f"not extended length: byte 4 is {body[0]:02X}")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0 or len(body) != 3 + lc + 2:
        raise Malformed(f"Lc {lc} but {len(body) - 3} bytes after it")
    if body[-2:] != b"\x00\x00":
        raise Malformed(f"Le {body[-2:].hex()}, expected 0000")
    return Command(*header, bytes(body[3:3 + lc]))


def build_command(header: bytes, data: bytes = b"") -> bytes:
    """The ICD's extended-length form (used by the host tests as the module's side)."""
    if not data:
        return bytes(header) + b"\x00\x00\x00"
    return bytes(header) + b"\x00" + len(data).to_bytes(2, "big") + data + b"\x00\x00"


def split_response(apdu: bytes) -> tuple[bytes, bytes]:
    """(data, SW1 SW2)."""
    if len(apdu) < 2:
        raise Malformed(f"response of {len(apdu)} bytes")
    return bytes(apdu[:-2]), bytes(apdu[-2:])


def ber_length(n: int) -> bytes:
    """The shortest of `00`-`7F`, `81 xx`, `82 xx xx`."""
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise ValueError(f"length {n} needs more than two bytes")


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + ber_length(len(value)) + bytes(value)


def parse_ber(data: bytes) -> list[tuple[int, bytes]]:
    """One-byte tags, lengths `00`-`7F`, `81 xx`, `82 xx xx`; every byte inside a TLV."""
    out, i = [], 0
    while i < len(data):
        tag = data[i]
        if i + 1 >= len(data):
            raise Malformed(f"tag {tag:02X} at {i} without a length")
        first = data[i + 1]
        if first < 0x80:
            n, start = first, i + 2
        elif first in (0x81, 0x82):
            size = first - 0x80
            if i + 2 + size > len(data):
                raise Malformed(f"tag {tag:02X}: length bytes cut off")
            n, start = int.from_bytes(data[i + 2:i + 2 + size], "big"), i + 2 + size
        else:
            raise Malformed(f"tag {tag:02X}: length form {first:02X}")
        if start + n > len(data):
            raise Malformed(f"tag {tag:02X}: length {n}, {len(data) - start} bytes left")
        out.append((tag, bytes(data[start:start + n])))
        i = start + n
    return out


def ber_fields(data: bytes, sizes: dict[int, int | range]) -> dict[int, bytes]:
    """Parses ``data`` and checks that it holds exactly the tags of ``sizes``, each once, with its
    size (an int, or a range of allowed sizes). Raises Malformed."""
    items = parse_ber(data)
    tags = [t for t, _ in items]
    if sorted(tags) != sorted(sizes) or len(set(tags)) != len(tags):
        raise Malformed(f"tags {' '.join(f'{t:02X}' for t in tags)}, expected {' '.join(f'{t:02X}' for t in sizes)}")
    fields = dict(items)
    for tag, size in sizes.items():
        n = len(fields[tag])
        if (n != size) if isinstance(size, int) else (n not in size):
            raise Malformed(f"tag {tag:02X}: {n} bytes")
    return fields


# --- the device's APDU state machine -------------------------------------------------------------

SELECT = bytes.fromhex("00A40400")
SPAKE2_REQUEST, SPAKE2_VERIFY = bytes.fromhex("80300000"), bytes.fromhex("80320000")
WRITE_DATA, GET_DATA = bytes.fromhex("80D40000"), bytes.fromhex("80CA0000")
AUTH0, AUTH1 = bytes.fromhex("80800000"), bytes.fromhex("80810000")
STEP_NAMES = {SELECT: "select", SPAKE2_REQUEST: "spake2-request", SPAKE2_VERIFY: "spake2-verify",
              WRITE_DATA: "write-data", GET_DATA: "get-data", AUTH0: "auth0", AUTH1: "auth1"}
#: What may follow each step in a session (phase 2 or phase 3 is chosen by the module after SELECT).
NEXT = {None: {"select"}, "select": {"spake2-request", "auth0"}, "spake2-request": {"spake2-verify"},
        "spake2-verify": {"write-data"}, "write-data": {"get-data"}, "get-data": set(), "auth0": {"auth1"},
        "auth1": set()}
#: Phase 2 steps by the number of ICD 8.3's table.
PHASE2_STEPS = ["select", "spake2-request", "spake2-verify", "write-data", "get-data"]
PHASE3_STEPS = ["select", "auth0", "auth1"]
VEHICLE_LABEL, DEVICE_LABEL = b"SpaaK AUTH1 vehicle", b"SpaaK AUTH1 device"


def public_bytes(key) -> bytes:
    """65-byte uncompressed encoding of an EC key (private or public)."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


@dataclass
class CardSession:
    """What one NFC session of the card knows; kept for inspection after the session."""
    last: str | None = None                      # the last step answered with 90 00
    failed: bool = False                         # a step was refused: nothing more is expected
    version: bytes | None = None
    salt: bytes = b""
    scrypt: tuple[int, int, int] = (0, 0, 0)
    vin: bytes = b""
    x: int = 0
    share_p: bytes = b""
    share_v: bytes = b""
    keys: Spake2Keys | None = None
    confirm_v_ok: bool = False
    to_device: int = 1                           # next nonce counter, module → device
    to_module: int = 1                           # next nonce counter, device → module
    k_cert: x509.Certificate | None = None
    vehicle_ephemeral: bytes = b""
    transaction: bytes = b""
    device_ephemeral: ec.EllipticCurvePrivateKey | None = None
    violations: list[str] = field(default_factory=list)   # where the module broke the ICD


class Card:
    """The owner's phone as an APDU responder (pure: command bytes in, response bytes out).

    ``password`` is the pairing password from the VOS; ``j_cert`` the OEM CA root [J] that the
    device trusts; ``endpoint_key`` the owner's key (made here when None). ``begin()`` starts a
    new NFC session. After a completed phase 2 ``vehicle_key`` holds [K]'s public key and
    ``owner_pending`` is True; phase 3 needs it.
    """

    def __init__(self, password: str | bytes, j_cert: x509.Certificate, endpoint_key=None,
                 friendly_name: str | bytes = "Owner phone", versions: tuple[bytes, ...] = (b"\x01\x00",),
                 random_scalar: Callable[[], int] | None = None):
        self.password = password.encode() if isinstance(password, str) else bytes(password)
        self.j_cert = j_cert
        self.endpoint_key = endpoint_key or ec.generate_private_key(ec.SECP256R1())
        self.friendly_name = friendly_name.encode() if isinstance(friendly_name, str) else bytes(friendly_name)
        self.versions = tuple(versions)
        self.random_scalar = random_scalar or (lambda: secrets.randbelow(N_ORDER - 1) + 1)
        self.vehicle_key: ec.EllipticCurvePublicKey | None = None
        self.confirm_p_history: list[bytes] = []
        self.session = CardSession()

    @property
    def endpoint_public(self) -> bytes:
        return public_bytes(self.endpoint_key)

    @property
    def key_id(self) -> bytes:
        """ICD 8.3: the first 8 bytes of SHA-256(endpoint public key)."""
        return hashlib.sha256(self.endpoint_public).digest()[:8]

    def prepare(self, d123: bytes) -> tuple[int, int]:
        """Derives (and caches) w0, w1 ahead of the tap from DID 0xD123's salt (16) ‖ N (4) ‖
        r (2) ‖ p (2): with a large N on a slow machine the derivation would not fit in the
        module's 5 s (and would hold up the NFC_Status thread)."""
        if len(d123) != 24:
            raise ValueError(f"0xD123 of {len(d123)} bytes, expected 24")
        n, r, p = (int.from_bytes(d123[a:b], "big") for a, b in ((16, 20), (20, 22), (22, 24)))
        return derive_w0_w1(self.password, d123[:16], n, r, p)

    def begin(self) -> CardSession:
        self.session = CardSession()
        return self.session

    # the dispatcher

    def respond(self, apdu: bytes) -> tuple[str, bytes]:
        """(step name, response APDU) for one command APDU."""
        s = self.session
        try:
            cmd = parse_command(apdu)
        except Malformed as e:
            s.violations.append(f"command {apdu.hex()}: {e}")
            s.failed = True
            return "malformed", SW_WRONG_DATA
        step = STEP_NAMES.get(cmd.header, f"unknown {cmd.header.hex()}")
        if step not in NEXT.get(s.last, set()) or s.failed:
            s.violations.append(f"{step} after {s.last}{' (failed)' if s.failed else ''}")
            s.failed = True
            return step, SW_CONDITIONS
        try:
            data = getattr(self, "_" + step.replace("-", "_"))(cmd.data)
        except Refused as e:
            s.failed = True
            return step, e.sw
        s.last = step
        return step, data + SW_OK

    def _violation(self, text: str, sw: bytes = SW_WRONG_DATA):
        self.session.violations.append(text)
        raise Refused(sw)

    def _fields(self, step: str, data: bytes, sizes: dict) -> dict[int, bytes]:
        try:
            return ber_fields(data, sizes)
        except Malformed as e:
            self._violation(f"{step}: {e}")

    # phase 2

    def _select(self, data: bytes) -> bytes:
        if data != AID:
            self._violation(f"select: AID {data.hex()}")
        return tlv(0x5C, b"".join(self.versions))

    def _spake2_request(self, data: bytes) -> bytes:
        s = self.session
        f = self._fields("spake2-request", data, {0x5B: 2, 0xC0: 16, 0xC1: 4, 0xC2: 2, 0xC3: 2, 0xC4: 17})
        if f[0x5B] not in self.versions:
            self._violation(f"spake2-request: version {f[0x5B].hex()} not offered")
        n, r, p = (int.from_bytes(f[t], "big") for t in (0xC1, 0xC2, 0xC3))
        if n < 2 or n & (n - 1) or r < 1 or p < 1:
            self._violation(f"spake2-request: scrypt N={n} r={r} p={p}")
        s.version, s.salt, s.scrypt, s.vin = f[0x5B], f[0xC0], (n, r, p), f[0xC4]
        w0, _ = derive_w0_w1(self.password, s.salt, n, r, p)
        s.x = self.random_scalar()
        s.share_p = prover_share(s.x, w0)
        return tlv(0x50, s.share_p)

    def _spake2_verify(self, data: bytes) -> bytes:
        s = self.session
        f = self._fields("spake2-verify", data, {0x52: 65, 0x57: 32})
        w0, w1 = derive_w0_w1(self.password, s.salt, *s.scrypt)
        try:
            s.share_v = f[0x52]
            s.keys = prover_finish(s.x, w0, w1, s.share_p, s.share_v, id_verifier=s.vin)
        except ValueError as e:
            self._violation(f"spake2-verify: shareV {e}")
        self.confirm_p_history.append(s.keys.confirmP)
        s.confirm_v_ok = hmac.compare_digest(s.keys.confirmV, f[0x57])
        if not s.confirm_v_ok:
            raise Refused(SW_SECURITY)             # a wrong password, not the module's fault
        return tlv(0x58, s.keys.confirmP)

    def _write_data(self, data: bytes) -> bytes:
        s = self.session
        f = self._fields("write-data", data, {0x70: range(17, 4096)})
        try:
            plain = unseal(s.keys.K_enc, TO_DEVICE, s.to_device, f[0x70])
        except InvalidTag:
            self._violation(f"write-data: tag 70 does not decrypt with counter {s.to_device}")
        s.to_device += 1
        inner = self._fields("write-data (decrypted)", plain, {0x71: range(1, 4096), 0x72: range(1, 4096)})
        try:
            k, j1 = x509.load_der_x509_certificate(inner[0x71]), x509.load_der_x509_certificate(inner[0x72])
        except ValueError as e:
            self._violation(f"write-data: certificate does not parse: {e}")
        try:
            j1.verify_directly_issued_by(self.j_cert)
            k.verify_directly_issued_by(j1)
        except (ValueError, TypeError, InvalidSignature) as e:
            self._violation(f"write-data: [K] does not chain to [J] via [J1]: {e!r}")
        if not isinstance(k.public_key(), ec.EllipticCurvePublicKey) or k.public_key().curve.name != "secp256r1":
            self._violation("write-data: [K] does not carry a P-256 key")
        s.k_cert = k
        return b""

    def _get_data(self, data: bytes) -> bytes:
        s = self.session
        if data:
            self._violation(f"get-data with data {data.hex()}")
        plain = tlv(0x73, self.endpoint_public) + tlv(0x75, self.friendly_name)
        sealed = seal(s.keys.K_enc, TO_MODULE, s.to_module, plain)
        s.to_module += 1
        self.vehicle_key = s.k_cert.public_key()
        return tlv(0x70, sealed)

    # phase 3

    def _auth0(self, data: bytes) -> bytes:
        s = self.session
        f = self._fields("auth0", data, {0x87: 65, 0x4C: 16})
        try:
            decode_point(f[0x87])
        except ValueError as e:
            self._violation(f"auth0: vehicle ephemeral key {e}")
        if self.vehicle_key is None:
            raise Refused(SW_CONDITIONS)           # no phase 2 on this device
        s.vehicle_ephemeral, s.transaction = f[0x87], f[0x4C]
        s.device_ephemeral = ec.generate_private_key(ec.SECP256R1())
        return tlv(0x86, public_bytes(s.device_ephemeral))

    def _auth1(self, data: bytes) -> bytes:
        s = self.session
        f = self._fields("auth1", data, {0x9E: range(8, 73)})
        device_ephemeral = public_bytes(s.device_ephemeral)
        try:
            self.vehicle_key.verify(f[0x9E], s.transaction + s.vehicle_ephemeral + device_ephemeral + VEHICLE_LABEL,
                                    ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            self._violation("auth1: the vehicle's signature does not verify under [K]", SW_SECURITY)
        return tlv(0x9E, self.sign_auth1(self.endpoint_key))

    def sign_auth1(self, key) -> bytes:
        """The device's AUTH1 signature of this session, made with ``key``."""
        s = self.session
        message = s.transaction + public_bytes(s.device_ephemeral) + s.vehicle_ephemeral + DEVICE_LABEL
        return key.sign(message, ec.ECDSA(hashes.SHA256()))


class Refused(Exception):
    """A step answered with this status word instead of 90 00."""

    def __init__(self, sw: bytes):
        super().__init__(sw.hex())
        self.sw = sw


# --- the NFC reader and the head unit on the bus ---------------------------------------------------

def _bus():
    import can
    return can.Bus(interface="socketcan", channel=IFACE)


def _send(bus, can_id: int, data: bytes):
    import can
    bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))


class NFCReader:
    """Sends `NFC_Status` every 100 ms from a thread: ReaderReady, and DevicePresent while a
    device is in the field. ``silent`` stops the frames; ``corrupt`` sends a wrong CRC."""

    def __init__(self, ready: bool = True):
        self.ready, self.present, self.silent, self.corrupt = ready, False, False, False
        self.counter = 0
        self.sent: list[tuple[float, bytes]] = []
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._bus = _bus()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def longest_gap(self, since: float) -> float:
        """The longest time between two frames sent after ``since`` (time.monotonic()), in s: over
        1 s, the module may rightly take the device for gone."""
        with self._cv:
            times = [t for t, _ in self.sent if t >= since]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def signals(self) -> int:
        return (DEVICE_PRESENT if self.present else 0) | (READER_READY if self.ready else 0)

    def _run(self):
        while not self._stop.is_set():
            with self._cv:
                if not self.silent:
                    frame = bytearray(e2e_frame(NFC_STATUS_ID, self.counter, self.signals()))
                    if self.corrupt:
                        frame[0] ^= 0x5A
                    _send(self._bus, NFC_STATUS_ID, bytes(frame))
                    self.sent.append((time.monotonic(), bytes(frame)))
                    self.counter = (self.counter + 1) % 15
                    self._cv.notify_all()
            self._stop.wait(0.1)

    def _after(self, frames: int, timeout: float = 5.0):
        """Waits until ``frames`` more frames went out with the current signals."""
        with self._cv:
            target = len(self.sent) + frames
            self._cv.wait_for(lambda: len(self.sent) >= target or self.silent, timeout)

    def tap(self):
        """The device enters the field (the next frame carries DevicePresent)."""
        with self._cv:
            self.present = True
        self._after(1)

    def remove(self):
        """The device leaves: DevicePresent clears; returns after two such frames."""
        with self._cv:
            self.present = False
        self._after(2)

    def close(self):
        self._stop.set()
        self._t.join(timeout=5)
        self._bus.shutdown()


class HeadUnit:
    """`HU_Request` frames (ICD 8.1): the alive counter advances per request."""

    def __init__(self, counter: int = 0):
        self.counter = counter
        self.last: int | None = None
        self._bus = _bus()

    def start_pairing(self, *, repeat: bool = False, corrupt: bool = False, request: int = HU_START_PAIRING) -> bytes:
        """Sends one request; ``repeat`` reuses the previous counter, ``corrupt`` breaks the CRC."""
        counter = self.last if repeat and self.last is not None else self.counter
        frame = bytearray(e2e_frame(HU_REQUEST_ID, counter, request))
        if corrupt:
            frame[0] ^= 0x5A
        _send(self._bus, HU_REQUEST_ID, bytes(frame))
        if not repeat:
            self.last, self.counter = counter, (counter + 1) % 15
        return bytes(frame)

    def close(self):
        self._bus.shutdown()


# --- the device on the bus ---------------------------------------------------------------------------

class _Remove:
    def __repr__(self):
        return "REMOVE"


class _Silent:
    def __repr__(self):
        return "SILENT"


#: Hook answers: leave the field instead of answering / keep still and never answer.
REMOVE, SILENT = _Remove(), _Silent()
#: A hook: (step, card, command APDU, honest response APDU) → the response to send, REMOVE or SILENT.
Hook = Callable[[str, Card, bytes, bytes], "bytes | _Remove | _Silent"]


@dataclass
class Exchange:
    step: str
    command: bytes
    response: bytes | None                       # None: not answered
    honest: bytes                                # what an honest device would have answered
    at: float                                    # time.time() when the command had arrived


@dataclass
class SessionResult:
    """One NFC session as the device saw it."""
    exchanges: list[Exchange]
    outcome: str                                 # complete / refused / removed / silent / module-stopped / no-command
    stray: list[bytes]                           # commands that came after the session had ended
    violations: list[str]
    card: CardSession
    reader_gap: float = 0.0                      # the longest NFC_Status silence during the session (s)

    @property
    def steps(self) -> list[str]:
        return [e.step for e in self.exchanges]

    @property
    def completed(self) -> bool:
        return self.outcome == "complete"

    @property
    def phase(self) -> int | None:
        steps = set(self.steps)
        return 2 if "spake2-request" in steps else 3 if "auth0" in steps else None

    def describe(self) -> str:
        lines = [f"outcome {self.outcome}, steps {' → '.join(self.steps) or 'none'}, "
                 f"longest NFC_Status gap {self.reader_gap:.2f} s"]
        for e in self.exchanges:
            lines.append(f"  {e.step}: > {e.command.hex()}  < {e.response.hex() if e.response is not None else '-'}")
        lines += [f"  stray: {c.hex()}" for c in self.stray] + [f"  ICD: {v}" for v in self.violations]
        return "\n".join(lines)


class Device:
    """The device behind the NFC reader on the bus: a ``Card``, an ``NFCReader`` and a kernel
    ISO-TP socket (receives on 0x6B0, answers on 0x6B8, classic CAN padded with 0xCC).

    ``session()`` taps and serves one NFC session; ``pair_phase2()`` / ``pair_phase3()`` are the
    same with a name that says what the test expects. After a session the device stays in the
    field: ``remove()`` takes it out (a new session needs a remove and a tap).
    """

    def __init__(self, password: str | bytes, j_cert_path: str | None = None, *, j_cert=None, endpoint_key=None,
                 friendly_name: str | bytes = "Owner phone", versions=(b"\x01\x00",)):
        import isotp
        if j_cert is None:
            with open(j_cert_path, "rb") as f:
                raw = f.read()
            j_cert = (x509.load_pem_x509_certificate(raw) if raw.startswith(b"-----")
                      else x509.load_der_x509_certificate(raw))
        self.card = Card(password, j_cert, endpoint_key, friendly_name, versions)
        self.sessions: list[SessionResult] = []
        self.reader = NFCReader()
        try:
            self.sock = isotp.socket(timeout=0.1)
            self.sock.set_opts(txpad=0xCC)
            self.sock.bind(IFACE, isotp.Address(isotp.AddressingMode.Normal_11bits, txid=RESPONSE_ID, rxid=COMMAND_ID))
        except BaseException:
            self.reader.close()
            raise

    # passthroughs
    @property
    def endpoint_public(self) -> bytes:
        return self.card.endpoint_public

    @property
    def key_id(self) -> bytes:
        return self.card.key_id

    def use_password(self, password: str | bytes):
        """A new pairing password (from the VOS) for the next phase 2."""
        self.card.password = password.encode() if isinstance(password, str) else bytes(password)

    def prepare(self, d123: bytes):
        """See ``Card.prepare``: w0, w1 derived before the tap."""
        self.card.prepare(d123)

    def tap(self):
        self.reader.tap()

    def remove(self):
        self.reader.remove()

    def close(self):
        self.reader.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # the bus side

    def _recv(self, timeout: float) -> bytes | None:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(min(left, 0.5))
            try:
                return bytes(self.sock.recv())
            except (socket.timeout, TimeoutError, BlockingIOError):
                continue
        return None

    def drain(self) -> list[bytes]:
        """Commands already waiting (received while no session was served)."""
        out = []
        while (m := self._recv(0.05)) is not None:
            out.append(m)
        return out

    def send_raw(self, payload: bytes):
        """One ISO-TP message on 0x6B8 (any bytes: for the attacks)."""
        self.sock.send(payload)

    def listen(self, seconds: float) -> list[bytes]:
        """Every command that arrives during ``seconds`` (not answered)."""
        out, end = [], time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            m = self._recv(left)
            if m is not None:
                out.append(m)
        return out

    def session(self, hook: Hook | None = None, *, tap: bool = True, first_timeout: float = 10.0,
                gap_timeout: float = 10.0, quiet: float = 2.0, silent_listen: float = 8.0) -> SessionResult:
        """Serves one NFC session: taps (unless ``tap`` is False), answers each command with the
        card's response or with what ``hook`` puts in its place, and stops at the end of the
        session (the last step answered, a refusal, an answer the hook changed, a removal, a
        withheld answer, or ``gap_timeout`` without a command); then listens ``quiet`` seconds
        (``silent_listen`` after a withheld answer, beyond the module's 5 s) for stray commands."""
        began = time.monotonic()
        stale = self.drain()
        card = self.card.begin()
        if stale:
            card.violations.append(f"{len(stale)} command(s) before the session: {stale[0].hex()}")
        if tap:
            self.reader.tap()
        exchanges: list[Exchange] = []
        outcome, listen_for = "no-command", quiet
        timeout = first_timeout
        while True:
            apdu = self._recv(timeout)
            if apdu is None:
                outcome = "no-command" if not exchanges else "module-stopped"
                listen_for = 0
                break
            now = time.time()
            step, honest = self.card.respond(apdu)
            answer = hook(step, self.card, apdu, honest) if hook else honest
            if answer is REMOVE:
                self.reader.remove()
                exchanges.append(Exchange(step, apdu, None, honest, now))
                outcome = "removed"
                break
            if answer is SILENT:
                exchanges.append(Exchange(step, apdu, None, honest, now))
                outcome, listen_for = "silent", silent_listen
                break
            self.sock.send(answer)
            exchanges.append(Exchange(step, apdu, answer, honest, now))
            if answer != honest:
                outcome = "tampered"
                break
            if answer[-2:] != SW_OK:
                outcome = "refused"
                break
            if step in ("get-data", "auth1"):
                outcome = "complete"
                break
            timeout = gap_timeout
        stray = self.listen(listen_for) if listen_for else []
        result = SessionResult(exchanges, outcome, stray, list(card.violations), card,
                               self.reader.longest_gap(began))
        self.sessions.append(result)
        return result

    def pair_phase2(self, hook: Hook | None = None, **kw) -> SessionResult:
        """Phase 2 (first NFC session): SPAKE2+, [K] and [J1] in, endpoint key out."""
        return self.session(hook, **kw)

    def pair_phase3(self, hook: Hook | None = None, **kw) -> SessionResult:
        """Phase 3 (second NFC session): AUTH0 / AUTH1 with the endpoint key."""
        return self.session(hook, **kw)


# --- attacks (hooks for Device.session) ------------------------------------------------------------

def at_step(step: str, action: Callable[[Card, bytes, bytes], "bytes | _Remove | _Silent"]) -> Hook:
    """A hook that runs ``action(card, command, honest)`` at ``step`` and is honest elsewhere."""
    def hook(name, card, command, honest):
        return action(card, command, honest) if name == step else honest
    hook.__name__ = f"{step}:{getattr(action, '__name__', 'action')}"
    return hook


def remove_at(step: str) -> Hook:
    """The device leaves the field when ``step``'s command arrives (before answering)."""
    return at_step(step, lambda card, command, honest: REMOVE)


def silent_at(step: str) -> Hook:
    """The device stays in the field and never answers ``step`` (the module's 5 s timeout)."""
    return at_step(step, lambda card, command, honest: SILENT)


def answer_at(step: str, make: Callable[[Card, bytes, bytes], bytes] | bytes) -> Hook:
    """``step`` is answered with ``make`` (bytes, or made from the card and the honest answer)."""
    return at_step(step, make if callable(make) else (lambda card, command, honest: make))


def status_word(step: str, sw: bytes) -> Hook:
    """``step`` answered by a status word alone (for example 69 85)."""
    return answer_at(step, sw)


def _small_x_point() -> tuple[int, int]:
    """The point of P-256 with the smallest x: x + p still fits in 32 bytes (a non-canonical
    encoding of a valid point, which only a decoder that reduces mod p would take)."""
    x = 0
    while True:
        rhs = (x ** 3 - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return (x, y)
        x += 1


SMALL_X_POINT = _small_x_point()


def _valid_share(card: Card) -> tuple[int, int]:
    return decode_point(card.session.share_p)


#: Invalid encodings of X (tag 50 of step 2), each made from the honest X.
INVALID_SHARES: dict[str, Callable[[Card], bytes]] = {
    "off-curve": lambda c: c.session.share_p[:64] + bytes([c.session.share_p[64] ^ 1]),
    "identity-00": lambda c: b"\x00",
    "zeros-65": lambda c: bytes(65),
    "04-zeros": lambda c: b"\x04" + bytes(64),
    "prefix-00": lambda c: b"\x00" + c.session.share_p[1:],
    "prefix-02-65": lambda c: b"\x02" + c.session.share_p[1:],
    "compressed-33": lambda c: bytes([2 | _valid_share(c)[1] & 1]) + c.session.share_p[1:33],
    "length-64": lambda c: c.session.share_p[1:],
    "length-66": lambda c: c.session.share_p + b"\x00",
    "x-plus-p": lambda c: b"\x04" + (SMALL_X_POINT[0] + P).to_bytes(32, "big") + SMALL_X_POINT[1].to_bytes(32, "big"),
}


def invalid_share(kind: str) -> Hook:
    """Step 2 answered with an invalid X (``INVALID_SHARES[kind]``) in tag 50."""
    make = INVALID_SHARES[kind]
    return answer_at("spake2-request", lambda card, command, honest: tlv(0x50, make(card)) + SW_OK)


def ignore_confirm_v() -> Hook:
    """Step 3 answered with this device's confirmP even when confirmV did not verify (a device
    with the wrong password that does not give up: the module's confirmP check must catch it)."""
    return answer_at("spake2-verify", lambda card, command, honest:
                     tlv(0x58, card.session.keys.confirmP) + SW_OK if card.session.keys else honest)


def replay_confirm_p(old: bytes) -> Hook:
    """Step 3 answered with ``old``, a confirmP of an earlier session."""
    return answer_at("spake2-verify", lambda card, command, honest: tlv(0x58, old) + SW_OK)


def corrupt_gcm_tag() -> Hook:
    """Step 5: one bit of the GCM tag (the last byte of tag 70) flipped."""
    def flip(card, command, honest):
        out = bytearray(honest)
        out[-3] ^= 0x01
        return bytes(out)
    return answer_at("get-data", flip)


def wrong_nonce() -> Hook:
    """Step 5 encrypted with the device → module counter 2 instead of 1 (does not decrypt)."""
    def reseal(card, command, honest):
        plain = tlv(0x73, card.endpoint_public) + tlv(0x75, card.friendly_name)
        return tlv(0x70, seal(card.session.keys.K_enc, TO_MODULE, 2, plain)) + SW_OK
    return answer_at("get-data", reseal)


def get_data_plaintext(make: Callable[[Card], bytes]) -> Hook:
    """Step 5 with another plaintext in tag 70, properly encrypted (wrong sizes, names, keys)."""
    def reseal(card, command, honest):
        return tlv(0x70, seal(card.session.keys.K_enc, TO_MODULE, 1, make(card))) + SW_OK
    return answer_at("get-data", reseal)


#: Plaintexts of step 5 that break ICD 8.3 (sizes, the name's limit, the key).
BAD_ENDPOINT_DATA: dict[str, Callable[[Card], bytes]] = {
    "name-33-bytes": lambda c: tlv(0x73, c.endpoint_public) + tlv(0x75, b"N" * 33),
    "key-64-bytes": lambda c: tlv(0x73, c.endpoint_public[1:]) + tlv(0x75, c.friendly_name),
    "key-off-curve": lambda c: tlv(0x73, c.endpoint_public[:64] + bytes([c.endpoint_public[64] ^ 1]))
    + tlv(0x75, c.friendly_name),
    "name-not-utf8": lambda c: tlv(0x73, c.endpoint_public) + tlv(0x75, b"\xff\xfe phone"),
    "no-key": lambda c: tlv(0x75, c.friendly_name),
    "bad-inner-tlv": lambda c: tlv(0x73, c.endpoint_public) + b"\x75\x82\x00\x40" + c.friendly_name,
}


def auth1_other_key(key=None) -> Hook:
    """AUTH1 answered with a signature by another key than the paired endpoint key."""
    other = key or ec.generate_private_key(ec.SECP256R1())
    return answer_at("auth1", lambda card, command, honest:
                     tlv(0x9E, card.sign_auth1(other)) + SW_OK if honest[-2:] == SW_OK else honest)


def _first_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """(tag, value, rest) of the first TLV of an honest answer."""
    (tag, value), *_ = parse_ber(data)
    return tag, value, data[len(tlv(tag, value)):]


#: Malformed answers made from the honest one (data ‖ SW): TLV lengths and APDU framing.
MALFORMED: dict[str, Callable[[bytes], bytes]] = {
    # the BER length says one byte more than there is
    "length-beyond-data": lambda h: (lambda t, v, r: bytes([t]) + ber_length(len(v) + 1) + v + r)(*_first_tlv(h[:-2]))
    + h[-2:],
    # an 82 xx xx length far beyond the whole message
    "82-beyond-frame": lambda h: (lambda t, v, r: bytes([t]) + b"\x82\xFF\xF0" + v + r)(*_first_tlv(h[:-2])) + h[-2:],
    # a length form the ICD does not have (83 xx xx xx)
    "83-length": lambda h: (lambda t, v, r: bytes([t]) + b"\x83" + len(v).to_bytes(3, "big") + v + r)(
        *_first_tlv(h[:-2])) + h[-2:],
    # the value one byte short of its length (the last data byte cut)
    "truncated-value": lambda h: h[:-3] + h[-2:],
    # garbage after the last TLV
    "extra-bytes": lambda h: h[:-2] + b"\xA5\x5A" + h[-2:],
    # a TLV of another tag than the step's
    "wrong-tag": lambda h: bytes([h[0] ^ 0x01]) + h[1:],
    # the data without its status word, and a response shorter than a status word
    "no-status-word": lambda h: h[:-2],
    "one-byte": lambda h: b"\x90",
    # the TLV twice
    "duplicate-tlv": lambda h: h[:-2] + h[:-2] + h[-2:],
}


def malformed(step: str, kind: str) -> Hook:
    """``step`` answered with ``MALFORMED[kind]`` applied to the honest answer."""
    make = MALFORMED[kind]
    return answer_at(step, lambda card, command, honest: make(honest) if honest[-2:] == SW_OK else honest)
