"""The independent peer of the owner API (tests/api): written from the OpenAPI document
(Sources/OwnerAPI/Resources/openapi.yaml), the ICD and RFCs, never from the Swift code.

- ES256 JWTs signed here with ``cryptography`` (RFC 7515/7519: JOSE signature = r ‖ s,
  32 bytes each), for tokens the identity provider would never issue (expired, wrong
  audience or issuer, another key, ``alg: none``, …);
- the ICD 7.6 verifier derivation (scrypt → w0, L), to check that a handed-out password
  belongs to the vehicle's current verifier;
- problem-document checks (RFC 9457 as the document profiles it);
- deep-link parsing.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from typing import Optional

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ISSUER = "spaak-sim-idp"
AUDIENCE = "spaak-vos"
KID = "spaak-sim-idp"
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# --- JWT ----------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(path: str) -> ec.EllipticCurvePrivateKey:
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1), \
        f"{path} is not a P-256 private key"
    return key


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign_jwt(key: Optional[ec.EllipticCurvePrivateKey], claims: dict, header: Optional[dict] = None) -> str:
    """A compact JWS. ``key`` None: an unsecured JWT (``alg: none``, empty signature)."""
    head = {"alg": "ES256" if key else "none", "typ": "JWT", "kid": KID}
    head.update(header or {})
    signing_input = b64url(json.dumps(head, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")).encode())
    if key is None:
        return signing_input + "."
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def claims(user: str, role: str = "owner", *, ttl: int = 3600, now: Optional[int] = None, **override) -> dict:
    """The claims the document asks for (iss, aud, sub, role, iat, exp), any of them overridden
    (``None`` removes it)."""
    now = int(time.time()) if now is None else now
    out = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "role": role, "iat": now, "exp": now + ttl}
    for name, value in override.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def jwt_parts(token: str) -> tuple:
    """(header, claims) of a compact JWS, decoded (not verified)."""
    head, body, _ = token.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(body))


def verify_es256(token: str, public_key: ec.EllipticCurvePublicKey) -> bool:
    """``True`` when the JWS's ES256 signature verifies under ``public_key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    head, body, sig = token.split(".")
    raw = b64url_decode(sig)
    if len(raw) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


# --- ICD 7.6 verifier ---------------------------------------------------------------------

def parse_verifier_record(record: bytes) -> dict:
    """Tag 0x15: salt(16) ‖ N(4) ‖ r(2) ‖ p(2) ‖ w0(32) ‖ L(65) = 121 bytes (ICD 7.6)."""
    assert len(record) == 121, f"verifier record of {len(record)} bytes, not 121"
    return {"salt": record[:16], "n": int.from_bytes(record[16:20], "big"), "r": int.from_bytes(record[20:22], "big"),
            "p": int.from_bytes(record[22:24], "big"), "w0": record[24:56], "L": record[56:121]}


def derive_verifier(password: str, salt: bytes, n: int, r: int, p: int) -> tuple:
    """(w0, L) from the password: z = scrypt(password, salt, N, r, p, 80); w0 = z[0:40] mod (n−1) + 1;
    w1 likewise from z[40:80]; L = w1·G (uncompressed)."""
    z = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=80, maxmem=256 * r * n + (1 << 20))
    w0 = int.from_bytes(z[:40], "big") % (P256_N - 1) + 1
    w1 = int.from_bytes(z[40:], "big") % (P256_N - 1) + 1
    point = ec.derive_private_key(w1, ec.SECP256R1()).public_key()
    return w0.to_bytes(32, "big"), point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


# --- problems and links -------------------------------------------------------------------

def describe(response) -> str:
    """One line saying what was asked and what came back (for assertion messages)."""
    request = response.request
    body = response.text
    if len(body) > 600:
        body = body[:600] + "…"
    return (f"{request.method} {urllib.parse.urlsplit(request.url).path} → {response.status_code} "
            f"{response.headers.get('content-type', '(no content type)')} {body}")


def expect_problem(response, status: int, reason: Optional[str] = None) -> dict:
    """The response is an RFC 9457 problem document with ``status`` (and ``reason``) as the
    document profiles it: application/problem+json; type urn:spaak:problem:<reason>; title;
    status equal to the HTTP status; instance = the request's path."""
    what = describe(response)
    assert response.status_code == status, f"expected {status} {reason or ''}: {what}"
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    assert media == "application/problem+json", f"problem not application/problem+json: {what}"
    problem = response.json()
    for field in ("type", "title", "status", "reason"):
        assert field in problem, f"problem without '{field}': {what}"
    assert problem["status"] == status, f"problem status {problem['status']} ≠ HTTP {status}: {what}"
    assert problem["type"] == f"urn:spaak:problem:{problem['reason']}", f"type does not name the reason: {what}"
    if reason is not None:
        assert problem["reason"] == reason, f"expected reason {reason}: {what}"
    if "instance" in problem:
        assert problem["instance"] == urllib.parse.urlsplit(response.request.url).path, f"instance ≠ path: {what}"
    return problem


def expect_json(response, status: int) -> dict:
    what = describe(response)
    assert response.status_code == status, f"expected {status}: {what}"
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    assert media == "application/json", f"expected application/json: {what}"
    return response.json()


def parse_deep_link(link: str) -> dict:
    """``spaak://pair?vin=VIN&token=TOKEN`` → {"vin", "token"}; asserts the form."""
    parts = urllib.parse.urlsplit(link)
    assert parts.scheme == "spaak" and parts.netloc == "pair" and parts.path in ("", "/"), f"not a spaak://pair link: {link}"
    query = urllib.parse.parse_qs(parts.query, strict_parsing=True)
    assert sorted(query) == ["token", "vin"], f"deep link parameters {sorted(query)}, not vin and token: {link}"
    assert all(len(v) == 1 for v in query.values()), f"repeated parameter: {link}"
    token = query["token"][0]
    assert len(token) == 43 and all(c.isalnum() or c in "-_" for c in token), \
        f"token is not 43 characters of base64url (32 bytes): {link}"
    assert len(b64url_decode(token)) == 32
    return {"vin": query["vin"][0], "token": token}


def sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
