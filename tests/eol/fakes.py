"""In-process stand-ins for the EOL tester's unit tests: a module answering ICD 5 at the UDS
byte level (no CAN, no ISO-TP), a udsoncan connection to it, and a small PKI."""
from __future__ import annotations

import datetime
import os
import queue
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from udsoncan.connections import BaseConnection

from eol.pki import SignOutcome
from spaaklib.uds import DEFAULT_PLANT_KEY_HEX, aes_cmac

ROOT_DIDS = (0xD110, 0xD111, 0xD112, 0xD113, 0xD114)


def nrc(sid, code):
    return bytes([0x7F, sid, code])


class FakeECU:
    """ICD 5 semantics, simplified: certificates are only parsed (roots) or checked against
    the CSR key and [J1] (ECU certificate); KeyM statuses are VALID or NOT_AVAILABLE."""

    def __init__(self, serial="SPK0000000001", plant_key=bytes.fromhex(DEFAULT_PLANT_KEY_HEX),
                 pending_keygen=False, locked=False):
        self.serial, self.plant_key, self.pending_keygen = serial, plant_key, pending_keygen
        self.session, self.unlocked, self.seed, self.failures = 1, False, None, 0
        self.plant_locked = locked
        self.values = {0xF18C: serial.encode()}
        self.key = None
        self.requests = []
        self.fail_write = {}  # DID -> NRC to answer once
        self.expire_session_before = set()  # request prefixes: S3 runs out just before the first one
        self.lose_answers = {}  # request prefix -> how many answers get lost (the work is done)
        self.late_answers = {}  # request prefix -> how many answers come late (with the next request)
        self.held = []
        self.delays = {}  # request prefix -> seconds before the answer (no NRC 0x78)

    def status(self) -> bytes:
        slots = [*ROOT_DIDS, 0xD101]
        flags = (1 if all(d in self.values for d in ROOT_DIDS) else 0) | (2 if 0xD100 in self.values else 0) \
            | (4 if 0xD101 in self.values else 0) | (8 if self.plant_locked else 0)
        return bytes([flags] + [0 if d in self.values else 4 for d in slots] + [4])

    def handle(self, req: bytes) -> list:
        self.requests.append(req)
        for prefix in list(self.expire_session_before):
            if req.startswith(prefix):
                self.expire_session_before.discard(prefix)
                self.session, self.unlocked, self.seed = 1, False, None
        answers = self.held + self._answer(req)
        self.held = []
        for prefix, n in self.late_answers.items():
            if req.startswith(prefix) and n > 0:
                self.late_answers[prefix] = n - 1
                self.held, answers = answers, []
                return []
        for prefix, n in self.lose_answers.items():
            if req.startswith(prefix) and n > 0:
                self.lose_answers[prefix] = n - 1
                return []
        return answers

    def _answer(self, req: bytes) -> list:
        sid = req[0]
        if sid == 0x10:
            if req[1] not in (1, 3):
                return [nrc(sid, 0x12)]
            self.session, self.unlocked, self.seed = req[1], False, None
            return [bytes([0x50, req[1], 0x00, 0x32, 0x01, 0xF4])]
        if sid == 0x27:
            return [self._security(req)]
        if sid == 0x22:
            out = bytearray([0x62])
            for i in range(1, len(req) - 1, 2):
                did = (req[i] << 8) | req[i + 1]
                value = self.status() if did == 0xD120 else self.values.get(did)
                if value is None:
                    return [nrc(sid, 0x22)]
                out += req[i:i + 2] + value
            return [bytes(out)]
        if sid == 0x2E:
            return [self._write((req[1] << 8) | req[2], req[3:])]
        if sid == 0x31:
            return self._routine((req[2] << 8) | req[3])
        return [nrc(sid, 0x11)]

    def _security(self, req):
        if self.session != 3:
            return nrc(0x27, 0x7F)
        if req[1] == 1:
            if self.unlocked:
                return bytes([0x67, 1]) + bytes(16)
            self.seed = os.urandom(16)
            return bytes([0x67, 1]) + self.seed
        if self.seed is None:
            return nrc(0x27, 0x24)
        expected, self.seed = aes_cmac(self.plant_key, self.seed), None
        if req[2:] != expected:
            self.failures += 1
            return nrc(0x27, 0x36 if self.failures >= 3 else 0x35)
        self.unlocked, self.failures = True, 0
        return bytes([0x67, 2])

    def _write(self, did, data):
        if self.session != 3:
            return nrc(0x2E, 0x7F)
        if not self.unlocked:
            return nrc(0x2E, 0x33)
        if self.plant_locked:
            return nrc(0x2E, 0x22)
        if did in self.fail_write:
            return nrc(0x2E, self.fail_write.pop(did))
        try:
            if did in ROOT_DIDS:
                x509.load_der_x509_certificate(bytes(data))
            elif did == 0xD101:
                cert = x509.load_der_x509_certificate(bytes(data))
                j1 = x509.load_der_x509_certificate(self.values[0xD111])
                if self.key is None or cert.public_key() != self.key.public_key():
                    return nrc(0x2E, 0x31)
                cert.verify_directly_issued_by(j1)
            elif did != 0xF190 or len(data) != 17:
                return nrc(0x2E, 0x31)
        except (ValueError, KeyError, TypeError, Exception):
            return nrc(0x2E, 0x31)
        self.values[did] = bytes(data)
        return bytes([0x6E, did >> 8, did & 0xFF])

    def _routine(self, rid):
        if self.session != 3:
            return [nrc(0x31, 0x7F)]
        if not self.unlocked:
            return [nrc(0x31, 0x33)]
        if self.plant_locked:
            return [nrc(0x31, 0x22)]
        if rid == 0xD200:
            self.key = ec.generate_private_key(ec.SECP256R1())
            csr = x509.CertificateSigningRequestBuilder().subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.serial)])).sign(self.key, hashes.SHA256())
            self.values[0xD100] = csr.public_bytes(serialization.Encoding.DER)
            final = bytes([0x71, 1, 0xD2, 0x00, 0x00])
            return [nrc(0x31, 0x78), final] if self.pending_keygen else [final]
        if rid == 0xD201:
            if not all(d in self.values for d in (*ROOT_DIDS, 0xD101, 0xF190)):
                return [nrc(0x31, 0x22)]
            self.plant_locked = True
            return [bytes([0x71, 1, 0xD2, 0x01, 0x00])]
        return [nrc(0x31, 0x31)]


class FakeConnection(BaseConnection):
    """A udsoncan connection whose peer is a FakeECU (answers computed on send)."""

    def __init__(self, ecu: FakeECU):
        super().__init__("fake")
        self.ecu, self.rx, self.opened = ecu, queue.Queue(), False
        self.lock = threading.Lock()

    def specific_send(self, payload, timeout=None):
        with self.lock:
            answers = self.ecu.handle(bytes(payload))
        delay = next((d for p, d in self.ecu.delays.items() if bytes(payload).startswith(p)), 0)
        if delay:
            threading.Timer(delay, lambda: [self.rx.put(a) for a in answers]).start()
        else:
            for answer in answers:
                self.rx.put(answer)

    def specific_wait_frame(self, timeout=None):
        try:
            return self.rx.get(timeout=timeout)
        except queue.Empty:
            return None

    def open(self):
        self.opened = True
        return self

    def close(self):
        self.opened = False

    def empty_rxqueue(self):
        while not self.rx.empty():
            self.rx.get_nowait()

    def is_open(self):
        return self.opened


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, subject_key, issuer, issuer_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


class FakePKI:
    """The PKI interface of eol.pki.PKI with certificates made here."""

    def __init__(self):
        self.keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("J", "J1", "J_PhysicalKey", "Z1", "ZZ2")}
        k = self.keys
        self.certs = {
            "J": _cert("J", k["J"], "J", k["J"], True),
            "J1": _cert("J1", k["J1"], "J", k["J"], True),
            "J_PhysicalKey": _cert("JPK", k["J_PhysicalKey"], "JPK", k["J_PhysicalKey"], True),
            "Z1": _cert("Z1", k["Z1"], "J", k["J"], True),
            "ZZ2": _cert("ZZ2", k["ZZ2"], "Z1", k["Z1"], False),
        }
        self.registered, self.batches = set(), []

    def root_der(self, name):
        return self.certs[name].public_bytes(serialization.Encoding.DER)

    def register(self, serials):
        self.registered |= set(serials)
        return f"registered {len(serials)}"

    def sign(self, csr_paths, out_dir):
        self.batches.append(list(csr_paths))
        out = {}
        for path in csr_paths:
            with open(path, "rb") as f:
                csr = x509.load_pem_x509_csr(f.read())
            serial = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            if serial not in self.registered:
                out[path] = SignOutcome(path, refusal=f"serial {serial} is not registered with the PKI")
                continue
            now = datetime.datetime.now(datetime.timezone.utc)
            cert = (x509.CertificateBuilder().subject_name(_name(serial)).issuer_name(_name("J1"))
                    .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
                    .sign(self.keys["J1"], hashes.SHA256()))
            pem = os.path.join(out_dir, f"{serial}.crt.pem")
            with open(pem, "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            with open(os.path.join(out_dir, f"{serial}.crt.der"), "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.DER))
            out[path] = SignOutcome(path, serial=serial, certificate_pem=pem)
        return out
