"""The module against the cloud simulator on a real bus (ICD 3, 5.4, 7): SP-02 + PP-01 on the
TBM going online, a PP-02 push, PP-03 after the 8th failed pairing, every fault the simulator
injects, SIGKILL of the module in the middle of PP-01, a restart of the simulator on its
database, and an independent check of every V2C message with Python `cryptography`.

The module is ``spaak-ecu``, the TBM/VOS ``spaak-cloud serve`` (verifiers with scrypt N = 1024:
the VM is slow). The plant's work runs once per session over UDS; each test starts from a
copy (``cp -a``) of that store. Waits are for "ready" lines, SPAAK_Status bits, complete bus
messages and trace events, never fixed sleeps.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from cloudpeer import (C2V_ID, V2C_ID, BusRecorder, Cloud, CloudMsg, common_name, parse_tlvs, same_key, send_isotp,
                       verify_signature)
from plantpeer import provision_plant, uds
from plantpeer import read as read_did
from spaakbus import Module
from spaaklib.signals import (DRM_UUID, K_CERT, PLANT_DONE, TBM_ONLINE, UC_NONE, UC_PP01, UC_PP02, UC_PP03, UC_SP02,
                              VERIFIER)

SERIAL = "SPK0000000001"
VIN = "ZFA25000001234567"
SCRYPT_N = 1024
PROVISIONED = DRM_UUID | K_CERT | TBM_ONLINE
PP01_STEPS = {1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 19}
V2C_USE_CASES = {0x07: {UC_SP02}, 0x01: {UC_PP01}, 0x03: {UC_PP01}, 0x05: {UC_PP01}, 0x09: {UC_PP03},
                 0x0B: {UC_PP02, UC_PP03}}
V2C_PAYLOAD = {0x07: set(), 0x01: set(), 0x03: {0x11}, 0x05: {0x13}, 0x09: {0x16}, 0x0B: {0x13}}
ENVELOPE = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xFF}


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def plant(tmp_path_factory):
    """RP-01 + RP-02 + plant lock, once: the PKI, the ECU certificate and the store."""
    return provision_plant(tmp_path_factory.mktemp("plant"), SERIAL, VIN)


class Rig:
    """One test's bus: a recorder, spaak-cloud serve (TBM offline at first) and spaak-ecu on a
    copy of the plant's store."""

    def __init__(self, plant, work: Path):
        self.plant, self.work = plant, work
        self.store = work / "store"
        subprocess.run(["cp", "-a", plant.store, str(self.store)], check=True)
        self.rec = BusRecorder()
        self.clouds: list[Cloud] = []
        self.modules: list[Module] = []
        try:
            self.cloud = self.start_cloud(wait=False)
            self.module = self.start_module()
            self.cloud.wait_ready()
        except BaseException:
            self.close(check=False)
            raise

    def start_cloud(self, tag: str = "", ecu_certs: bool = True, wait: bool = True) -> Cloud:
        cloud = Cloud(self.work, self.plant.pki, self.work / "cloud.sqlite", "--tbm", "offline", tag=tag,
                      ecu_certs=self.plant.out if ecu_certs else None, scrypt_n=SCRYPT_N, wait=wait)
        self.clouds.append(cloud)
        self.cloud = cloud
        return cloud

    def start_module(self) -> Module:
        module = Module(serial=self.plant.serial, store=str(self.store))
        self.modules.append(module)
        self.module = module
        return module

    def status(self, predicate, timeout: float, what: str, start: int | None = None) -> bytes:
        return self.rec.wait_status(predicate, timeout, start=start, what=what)

    def online_and_provisioned(self, timeout: float = 60.0) -> bytes:
        self.cloud.ok("tbm online")
        return self.wait_provisioned(timeout)

    def wait_provisioned(self, timeout: float = 60.0) -> bytes:
        return self.status(lambda s: s[2] & PROVISIONED == PROVISIONED and s[3] == UC_NONE and s[4] == 0, timeout,
                           "provisioned and idle (drmUUID, [K], TBM online; no use case)")

    def close(self, check: bool = True):
        alive = self.modules[-1].alive if self.modules else True
        for m in self.modules:
            m.stop(keep_store=True)
        for c in self.clouds:
            c.stop()
        self.rec.close()
        for i, m in enumerate(self.modules):
            (self.work / f"module{i}.log").write_text("\n".join(m.lines) + "\n")
        for i, c in enumerate(self.clouds):
            (self.work / f"cloud{i}.log").write_text("\n".join(c.lines) + "\n")
        (self.work / "bus.txt").write_text(f"longest TBM_Status silence {self.rec.tbm_gap():.3f} s\n"
                                           + "".join(e + "\n" for e in self.rec.isotp_errors))
        keep = os.environ.get("SPAAK_CLOUD_LOGS")                 # a folder to keep the logs in (debugging)
        if keep:
            dest = Path(keep) / self.work.name
            dest.mkdir(parents=True, exist_ok=True)
            for f in self.work.glob("*"):
                if f.suffix in (".log", ".txt", ".jsonl"):
                    shutil.copy(f, dest / f.name)
        if check:
            assert alive, "spaak-ecu died during the test:\n" + "\n".join(self.modules[-1].lines[-40:])


@pytest.fixture
def rig(plant, tmp_path):
    r = Rig(plant, tmp_path)
    yield r
    r.close()


# --- helpers ------------------------------------------------------------------------------

def cloud_summary(cloud: Cloud, serial: str = SERIAL) -> dict:
    """The ECU's line of `ctl status`, as a dict."""
    reply = cloud.ok("status")
    line = next((l for l in reply.splitlines() if l.startswith(serial + " ")), None)
    assert line, f"{serial} not in the status:\n{reply}"
    return parse_summary(line)


def parse_summary(line: str) -> dict:
    out = {"line": line}
    for key, pattern in (("vin", r"vin=(\S+)"), ("drmUUID", r"drmUUID=(\S+)"), ("subjectId", r"subjectId=(\S+)"),
                         ("K", r"K=(\d+)/status (\S+)"), ("verifiers", r"verifiers=(\d+)/status (\S+)"),
                         ("v2c", r"v2c=(\d+)"), ("c2v", r"c2v=(\d+)")):
        m = re.search(pattern, line)
        out[key] = m.groups() if m and len(m.groups()) > 1 else (m.group(1) if m else None)
    return out


def vos_c2v(cloud: Cloud) -> list[dict]:
    """The C2V messages the VOS/KTS produced, in order (queued, or dropped by a fault)."""
    return [e for e in cloud.trace() if e.get("direction") == "C2V" and e.get("from") in ("VOS", "KTS")
            and e.get("outcome") in ("queued", "dropped")]


def wait_vos_c2v(cloud: Cloud, count: int, timeout: float) -> list[dict]:
    cloud.wait_event(lambda e: len(vos_c2v(cloud)) >= count, timeout, what=f"C2V message #{count}")
    return vos_c2v(cloud)


def payload(m: CloudMsg) -> dict:
    """The fields but the counter and the signature (what a retry repeats)."""
    return {t: v for t, v in m.fields.items() if t not in (0x06, 0xFF)}


def k_certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def check_k(plant, d121: bytes, csr_msgs: list[CloudMsg], subject: str | None = None) -> x509.Certificate:
    """[K] parses, is issued by [J1], and carries the key of the module's latest CSR."""
    k = k_certificate(d121)
    k.verify_directly_issued_by(plant.cert("J1"))
    assert csr_msgs, "no VehicleIdentityCSRRequest seen on the bus"
    csr = x509.load_der_x509_csr(csr_msgs[-1].fields[0x11])
    assert same_key(k.public_key(), csr.public_key()), "[K] does not carry the key of the module's latest CSR"
    if subject is not None:
        assert common_name(k.subject) == subject
    return k


def v2c_of(rec: BusRecorder, type_: int) -> list[CloudMsg]:
    return [m for m in rec.v2c() if m.type == type_]


def c2v_of(rec: BusRecorder, type_: int) -> list[CloudMsg]:
    return [m for m in rec.c2v() if m.type == type_]


def no_v2c_refused(cloud: Cloud, broken_off_ok: bool = False):
    """The VOS refused none of the module's V2C messages (and, unless ``broken_off_ok``: a kill
    may cut a transmission short, the TBM received every one completely)."""
    refused = [e for e in cloud.trace() if e.get("direction") == "V2C" and e.get("outcome") == "refused"
               and (e.get("to") == "VOS" or not broken_off_ok)]
    assert not refused, f"V2C messages of the module refused: {refused}"


# --- (1) + (5): the whole story, checked from the bus ------------------------------------------

@pytest.fixture(scope="module")
def story(plant, tmp_path_factory):
    """SP-02 + PP-01 on the TBM going online, a PP-02 push, 8 × 0xF011 → PP-03: what was seen
    (one run for the two tests that check it)."""
    r = Rig(plant, tmp_path_factory.mktemp("story"))
    s: dict = {"rig": r}
    try:
        # three SPAAK_Status cycles with the TBM offline
        s["offline_status"] = r.status(lambda x: True, 5, "sent three times", start=r.rec.mark() + 2)
        s["v2c_while_offline"] = len(r.rec.v2c())
        online = r.rec.mark()
        r.cloud.ok("tbm online")
        s["pp01_done"] = r.wait_provisioned(60)
        s["pp01_statuses"] = r.rec.statuses(online)
        with uds() as c:
            s["pp01_dids"] = {did: read_did(c, did) for did in (0xF18C, 0xF190, 0xD101, 0xD120, 0xD121, 0xD122)}
        s["summary_pp01"] = cloud_summary(r.cloud)

        # PP-02: a push from the cloud
        pushed = r.rec.mark()
        r.cloud.ok(f"push-verifier {SERIAL}")
        r.cloud.wait_event(lambda e: e.get("direction") == "V2C" and e.get("type") == 0x0B, 60, "0x0B for the push")
        s["pp02_done"] = r.status(lambda x: x[2] & VERIFIER and x[3] == UC_NONE, 30, "verifier present, idle",
                                  start=pushed)
        with uds() as c:
            s["d123_pp02"] = read_did(c, 0xD123)

        # 8 failed owner pairings: the 8th deletes the verifier, PP-03 brings a new one
        s["attempts"] = []
        with uds() as c:
            c.change_session(3)
            for n in range(1, 9):
                mark = r.rec.mark()
                answer = c.start_routine(0xF011)
                s.setdefault("f011_answers", []).append(bytes(answer.data))
                if n < 8:
                    s["attempts"].append(r.status(lambda x, n=n: x[6] == n, 10, f"attempt count {n}", start=mark))
            s["pp03_mark"] = mark
        r.cloud.wait_event(lambda e: len([x for x in r.cloud.trace() if x.get("direction") == "V2C"
                                          and x.get("type") == 0x0B and x.get("outcome") == "accepted"]) >= 2,
                           90, "0x0B of PP-03 accepted")
        s["pp03_done"] = r.status(lambda x: x[2] & VERIFIER and x[3] == UC_NONE and x[6] == 0, 30,
                                  "verifier present again, idle, attempts 0", start=s["pp03_mark"])
        s["pp03_statuses"] = r.rec.statuses(s["pp03_mark"])
        with uds() as c:
            s["d123_pp03"] = read_did(c, 0xD123)
            s["d101"] = read_did(c, 0xD101)
        s["cli"] = r.cloud.ctl_cli("status")
        s["trace"] = r.cloud.trace()
    finally:
        r.close()                     # off the bus before the other tests; what was recorded stays
    return s


@pytest.mark.realcan
def test_story_sp02_pp01_pp02_pp03(story, plant):
    r = story["rig"]
    # TBM offline: plant flags only, nothing sent
    assert story["offline_status"][2] == PLANT_DONE and story["offline_status"][3] == UC_NONE
    assert story["v2c_while_offline"] == 0

    # SP-02 then PP-01 (SPAAK_Status bytes 3, 4), then idle with drmUUID + [K]
    done = story["pp01_done"]
    assert done[2] == PLANT_DONE | PROVISIONED and done[3:6] == bytes(3), done.hex()
    seen = [(x[3], x[4]) for x in story["pp01_statuses"] if x[3] != UC_NONE]
    assert {uc for uc, _ in seen} <= {UC_SP02, UC_PP01}, seen
    pp01_steps = [step for uc, step in seen if uc == UC_PP01]
    assert set(pp01_steps) <= PP01_STEPS and pp01_steps == sorted(pp01_steps), f"PP-01 steps out of order: {seen}"
    first_pp01 = next((i for i, (uc, _) in enumerate(seen) if uc == UC_PP01 and _ >= 3), len(seen))
    assert all(uc != UC_SP02 for uc, _ in seen[first_pp01:]), f"SP-02 after PP-01 went on: {seen}"

    # the module's DIDs against what went over the bus and what the VOS keeps
    dids, summary = story["pp01_dids"], story["summary_pp01"]
    assert dids[0xF18C] == SERIAL.encode() and dids[0xF190] == VIN.encode()
    assert dids[0xD120] == bytes([PLANT_DONE | PROVISIONED]) + bytes(7), dids[0xD120].hex()
    drm = c2v_of(r.rec, 0x08)[-1].fields[0x14]
    assert dids[0xD122] == drm and summary["drmUUID"] == drm.hex().upper()
    subject = c2v_of(r.rec, 0x02)[-1].fields[0x10].decode()
    assert summary["subjectId"] == subject and summary["vin"] == VIN
    k = check_k(plant, dids[0xD121], v2c_of(r.rec, 0x03), subject)
    assert c2v_of(r.rec, 0x04)[-1].fields[0x12] == dids[0xD121]
    assert k.not_valid_before_utc <= k.not_valid_after_utc
    assert summary["K"] == ("1", "0"), summary["line"]

    # PP-02: the pushed record is stored; D123 = its salt, N, r, p = what the VOS traced
    pushes = [m for m in c2v_of(r.rec, 0x0A) if m.use_case == UC_PP02]
    assert len(pushes) == 1
    record = pushes[0].fields[0x15]
    assert story["d123_pp02"] == record[:24]
    salt, n, rr, p = record[:16], *(int.from_bytes(record[a:b], "big") for a, b in ((16, 20), (20, 22), (22, 24)))
    assert (n, rr, p) == (SCRYPT_N, 8, 1)
    traced = [e for e in story["trace"] if e.get("direction") == "C2V" and e.get("type") == 0x0A
              and e.get("outcome") == "queued"]
    assert f"verifier salt {salt.hex().upper()} N={n} r={rr} p={p}" in traced[0]["detail"], traced[0]
    reply = [m for m in v2c_of(r.rec, 0x0B) if m.use_case == UC_PP02]
    assert reply and reply[-1].txn == pushes[0].txn and reply[-1].fields[0x13] == b"\x00", "0x0B must echo the push"
    assert story["pp02_done"][2] & VERIFIER and story["pp02_done"][6] == 0

    # 0xF011 × 8: the count on byte 6, the verifier kept until the 8th, then PP-03 (reason 2)
    assert len(story["f011_answers"]) == 8 and all(a[:3] == bytes.fromhex("01F011") for a in story["f011_answers"])
    assert [x[6] for x in story["attempts"]] == list(range(1, 8))
    assert all(x[2] & VERIFIER for x in story["attempts"]), "verifier lost before the 8th failure"
    requests = v2c_of(r.rec, 0x09)
    assert requests and {m.fields[0x16] for m in requests} == {b"\x02"} and len({m.txn for m in requests}) == 1
    assert any(x[3] == UC_PP03 for x in story["pp03_statuses"]), "PP-03 never shown in SPAAK_Status byte 3"
    answer = [m for m in c2v_of(r.rec, 0x0A) if m.use_case == UC_PP03][-1]
    assert answer.txn == requests[0].txn and story["d123_pp03"] == answer.fields[0x15][:24]
    assert story["d123_pp03"][:16] != salt, "PP-03 left the pushed verifier in place"
    status_reply = [m for m in v2c_of(r.rec, 0x0B) if m.use_case == UC_PP03]
    assert status_reply and status_reply[-1].fields[0x13] == b"\x00"

    # `spaak-cloud ctl SOCK status` shows it all
    cli = story["cli"]
    assert cli.returncode == 0, cli.stderr
    line = next(l for l in cli.stdout.splitlines() if l.startswith(SERIAL))
    info = parse_summary(line)
    assert info["vin"] == VIN and info["drmUUID"] == drm.hex().upper() and info["subjectId"] == subject
    assert info["K"] == ("1", "0") and info["verifiers"][1] == "0" and int(info["verifiers"][0]) >= 2, line
    assert int(info["v2c"]) == max(m.counter for m in r.rec.v2c())
    assert int(info["c2v"]) == max(m.counter for m in r.rec.c2v())


@pytest.mark.realcan
def test_v2c_messages_verify_independently(story, plant):
    """(5) Every V2C message captured on 0x6A0: TLVs (ICD 7.1) parsed here, signature valid under
    the ECU identity certificate read from 0xD101, the CSR of 0x03 a valid PKCS#10 with
    CN = the subject id; every C2V message signed by a certificate that [Z1] issued."""
    r = story["rig"]
    ecu = x509.load_der_x509_certificate(story["d101"])
    assert story["d101"] == plant.ecu_cert.public_bytes(Encoding.DER)
    assert common_name(ecu.subject) == SERIAL
    ecu.verify_directly_issued_by(plant.cert("J1"))
    key = ecu.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"

    raw = r.rec.raw_messages(V2C_ID)
    v2c = [parse_tlvs(b) for b in raw]
    assert [m.type for m in v2c][:4] == [0x07, 0x01, 0x03, 0x05], [hex(m.type) for m in v2c]
    assert {0x07, 0x01, 0x03, 0x05, 0x09, 0x0B} <= {m.type for m in v2c}
    counters = [m.counter for m in v2c]
    assert counters[0] == 1 and all(b > a for a, b in zip(counters, counters[1:])), counters
    subject_answers = c2v_of(r.rec, 0x02)
    by_txn: dict[bytes, dict] = {}
    for m in r.rec.v2c():
        verify_signature(key, m)                                  # raises InvalidSignature
        assert m.fields[0x03] == SERIAL.encode() and m.fields[0x04] == VIN.encode()
        assert set(m.fields) == ENVELOPE | V2C_PAYLOAD[m.type], (hex(m.type), sorted(m.fields))
        assert m.use_case in V2C_USE_CASES[m.type], (hex(m.type), m.use_case)
        assert by_txn.setdefault(m.txn, payload(m)) == payload(m), "a retry changed the message"
        if m.type == 0x03:
            csr = x509.load_der_x509_csr(m.fields[0x11])
            assert csr.is_signature_valid
            assert csr.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
            assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey) and csr.public_key().curve.name == "secp256r1"
            latest = [a for a in subject_answers if a.timestamp < m.timestamp][-1]
            assert common_name(csr.subject) == latest.fields[0x10].decode()
    check_k(plant, story["pp01_dids"][0xD121], v2c_of(r.rec, 0x03))

    z1 = plant.cert("Z1")
    c2v = r.rec.c2v()
    assert all(b.counter > a.counter for a, b in zip(c2v, c2v[1:])), [m.counter for m in c2v]
    asked = {m.txn for m in v2c}
    for m in c2v:
        signer = x509.load_der_x509_certificate(m.fields[0x20])
        signer.verify_directly_issued_by(z1)
        verify_signature(signer.public_key(), m)
        assert m.fields[0x03] == SERIAL.encode()
        assert m.txn in asked or m.type == 0x0A and m.use_case == UC_PP02, f"C2V {m.type:#x} answers nothing"


# --- (2) faults -------------------------------------------------------------------------------

FLOW = [(0x07, 0x08), (0x01, 0x02), (0x03, 0x04), (0x05, 0x06)]   # SP-02 + PP-01: request → answer
HOLD = "delay 1500"


@pytest.mark.parametrize("fault, index, code", [
    pytest.param("drop", 2, 0, id="drop-0x04"),
    pytest.param("delay 7000", 1, 7, id="delay-0x02"),
    pytest.param("corrupt-signature", 3, 2, id="corrupt-signature-0x06"),
    pytest.param("replay", 2, 7, id="replay-0x04"),
    pytest.param("wrong-transaction", 1, 8, id="wrong-transaction-0x02"),
    pytest.param("wrong-type", 0, 8, id="wrong-type-0x08"),
    pytest.param("error 9", 2, 9, id="error-9-0x04"),
])
def test_fault_then_provisioned(rig, plant, fault, index, code):
    """The fault hits the index-th C2V message of SP-02 + PP-01 (the ones before it are held
    1.5 s by a delay so that the fault is armed in time, whatever the machine's speed); the
    module discards it with the right error code, sends its request again after 5 s (or, for
    an ErrorResponse, fails and starts over when the TBM comes online again) and ends
    provisioned."""
    cloud, rec = rig.cloud, rig.rec
    request_type, answer_type = FLOW[index]
    cloud.ok(f"fault {fault if index == 0 else HOLD}")
    mark = rec.mark()
    cloud.ok("tbm online")
    for k in range(index):
        events = wait_vos_c2v(cloud, k + 1, 40)
        assert events[k].get("fault") == HOLD, events[k]
        cloud.ok(f"fault {fault if k == index - 1 else HOLD}")
    events = wait_vos_c2v(cloud, index + 1, 40)
    hit = events[index]
    assert hit.get("fault") == fault, f"the fault hit {hit}"

    if fault.startswith("error"):
        failed = rig.status(lambda s: s[5] == code and s[3] == UC_NONE, 30, f"idle with error {code}", start=mark)
        assert not failed[2] & K_CERT
        cloud.ok("tbm offline")                                    # the restart rule: next TBM online
        rig.status(lambda s: not s[2] & TBM_ONLINE and s[3] == UC_NONE, 10, "TBM offline, idle")
        cloud.ok("tbm online")
    elif fault.startswith("delay"):
        cloud.wait_event(lambda e: e.get("direction") == "C2V" and e.get("outcome") == "delivered"
                         and e.get("fault") == fault, 30, "the late message delivered")
    done = rig.wait_provisioned(60)
    if code:
        rig.status(lambda s: s[5] == code, 5, f"error code {code}", start=mark)   # seen at some point
    assert done[5] in ((0, code) if fault.startswith("delay") else (0,)), done.hex()

    requests = v2c_of(rec, request_type)
    first = requests[0]
    if fault.startswith("error"):
        assert c2v_of(rec, 0x7F)[0].fields[0x17] == b"\x09"
        again = [m for m in requests if m.txn != first.txn]
        assert again, "PP-01 did not start over with a new request"
        assert v2c_of(rec, 0x01)[-1].txn != v2c_of(rec, 0x01)[0].txn
    else:
        retries = [m for m in requests if m.txn == first.txn and m.counter > first.counter]
        assert retries, f"0x{request_type:02X} was not sent again"
        assert payload(retries[0]) == payload(first)
        seen = rec.statuses(mark)
        online = next(i for i, s in enumerate(seen) if s[2] & TBM_ONLINE)
        went_offline = any(not s[2] & TBM_ONLINE for s in seen[online:])   # a VM stall: resent at once
        if not went_offline:
            gap = retries[0].timestamp - first.timestamp
            assert 4.5 <= gap <= 10, f"retry after {gap:.2f} s"

    delivered = c2v_of(rec, answer_type)
    if fault == "drop":
        assert hit["outcome"] == "dropped" and hit["type"] == answer_type
    elif fault == "replay":
        earlier = rec.raw_messages(C2V_ID)[index - 1]
        assert rec.raw_messages(C2V_ID)[index] == earlier, "the replayed message is not the previous one"
    elif fault == "corrupt-signature":
        bad = parse_tlvs(rec.raw_messages(C2V_ID)[index])
        signer = x509.load_der_x509_certificate(bad.fields[0x20]).public_key()
        with pytest.raises(InvalidSignature):
            verify_signature(signer, bad)
    elif fault == "wrong-transaction":
        assert delivered[0].txn != first.txn
    elif fault == "wrong-type":
        assert parse_tlvs(rec.raw_messages(C2V_ID)[0]).type != answer_type
    with uds() as c:
        d120, d121 = read_did(c, 0xD120), read_did(c, 0xD121)
    assert d120[0] & PROVISIONED == PROVISIONED and d120[1:] == bytes(7), d120.hex()
    check_k(plant, d121, v2c_of(rec, 0x03), c2v_of(rec, 0x02)[-1].fields[0x10].decode())
    assert d121 == c2v_of(rec, 0x04)[-1].fields[0x12]
    info = cloud_summary(cloud)
    assert info["K"][1] == "0", info["line"]
    no_v2c_refused(cloud)


# --- (3) SIGKILL during PP-01 -------------------------------------------------------------

@pytest.mark.parametrize("step", [3, 10, 15, 16])
def test_kill_during_pp01_then_consistent_and_completes(rig, plant, step):
    """Every C2V answer is held 2 s so that the request steps show in SPAAK_Status byte 4;
    the module is killed (SIGKILL) when byte 4 shows ``step`` (15, installing [K], lasts less
    than a status cycle: the kill follows the complete 0x04 on the bus instead). Restarted on
    the same store with the TBM offline, it is consistent: [K] absent (KeyM 4, NRC 0x22) or
    valid (KeyM 0) with the key of its last CSR; then PP-01 completes."""
    cloud, rec = rig.cloud, rig.rec
    cloud.ok("fault delay 2000 --count 4")
    mark = rec.mark()
    cloud.ok("tbm online")
    if step == 15:
        rec.wait_message(C2V_ID, lambda m: m.type == 0x04, 60, "0x04")
    else:
        rig.status(lambda s: s[3] == UC_PP01 and s[4] == step, 60, f"PP-01 step {step}", start=mark)
    rig.module.kill()
    before = rec.statuses(mark)[-1]
    cloud.ok("tbm offline")
    cloud.ok("fault clear")
    v2c_before = len(rec.v2c())

    rig.start_module()
    restarted = rig.status(lambda s: not s[2] & TBM_ONLINE, 10, "TBM offline after the restart")
    assert restarted[3] == UC_NONE and restarted[2] & PLANT_DONE == PLANT_DONE and restarted[2] & DRM_UUID, restarted.hex()
    with uds() as c:
        d120, d121, d122 = read_did(c, 0xD120), read_did(c, 0xD121), read_did(c, 0xD122)
    assert isinstance(d120, bytes) and len(d120) == 8 and d120[1:7] == bytes(6), d120
    assert d120[7] in (0, 4), f"[K] KeyM status {d120[7]} after the kill"
    assert bool(d120[0] & K_CERT) == (d120[7] == 0), d120.hex()
    assert d122 == c2v_of(rec, 0x08)[-1].fields[0x14]
    if d120[7] == 0:
        k_before = check_k(plant, d121, v2c_of(rec, 0x03))
        assert d121 in [m.fields[0x12] for m in c2v_of(rec, 0x04)]
    else:
        assert d121 == 0x22, f"[K] not available but 0xD121 reads {d121!r:.40}"
    if step in (3, 10):
        assert d120[7] == 4, "[K] installed before its certificate arrived"
    if step == 16:
        assert d120[7] == 0, "[K] lost although 0x05 (after the installation) was sent"

    cloud.ok("tbm online")
    rig.wait_provisioned(60)
    after = rec.v2c()[v2c_before:]
    with uds() as c:
        d120_end, d121_end = read_did(c, 0xD120), read_did(c, 0xD121)
    assert d120_end[7] == 0
    check_k(plant, d121_end, v2c_of(rec, 0x03), c2v_of(rec, 0x02)[-1].fields[0x10].decode())
    if d120[7] == 0:
        assert d121_end == d121 and not [m for m in after if m.type == 0x01], "PP-01 ran again although [K] was there"
    else:
        assert [m.type for m in after][:1] == [0x01], f"after the restart: {[hex(m.type) for m in after]}"
    counters = [m.counter for m in rec.v2c()]
    assert all(b > a for a, b in zip(counters, counters[1:])), f"V2C counter went back: {counters}"
    no_v2c_refused(cloud, broken_off_ok=True)
    print(f"killed at {before.hex()}: [K] {'kept' if d120[7] == 0 else 'absent'} after the restart")


# --- (4) the simulator's restart keeps its database ---------------------------------------------

def test_cloud_restart_keeps_registration_and_counters(rig):
    rig.online_and_provisioned()
    before = cloud_summary(rig.cloud)
    c2v_last = max(m.counter for m in rig.rec.c2v())
    old_status = v2c_of(rig.rec, 0x05)[-1]
    assert rig.cloud.stop() == 0
    rig.status(lambda s: not s[2] & TBM_ONLINE, 10, "TBM offline (simulator stopped)")

    cloud = rig.start_cloud(tag="2", ecu_certs=False)              # registered from the database only
    after = cloud_summary(cloud)
    for key in ("vin", "drmUUID", "subjectId", "K", "v2c", "c2v"):
        assert after[key] == before[key], (key, before["line"], after["line"])
    assert not any("registered" in l for l in cloud.lines)
    mark = rig.rec.mark()
    cloud.ok("tbm online")
    rig.status(lambda s: s[2] & TBM_ONLINE and s[3] == UC_NONE, 10, "TBM online, idle", start=mark)
    cloud.ok(f"push-verifier {SERIAL}")
    push = rig.rec.wait_message(C2V_ID, lambda m: m.type == 0x0A, 60, "the PP-02 push")
    assert push.counter == c2v_last + 1, f"cloud counter {push.counter} after {c2v_last}"
    rig.status(lambda s: s[2] & VERIFIER and s[3] == UC_NONE and s[5] == 0, 30, "verifier present, no error", start=mark)
    cloud.wait_event(lambda e: e.get("direction") == "V2C" and e.get("type") == 0x0B and e.get("outcome") == "accepted",
                     30, "0x0B accepted")
    reply = v2c_of(rig.rec, 0x0B)[-1]
    assert reply.txn == push.txn and reply.counter > old_status.counter
    info = cloud_summary(cloud)
    assert info["verifiers"] == ("1", "0") and int(info["c2v"]) == c2v_last + 2, info["line"]

    # the V2C counter survived too: an old message of the module is refused as a replay
    send_isotp(old_status.raw)
    refused = cloud.wait_event(lambda e: e.get("direction") == "V2C" and e.get("outcome") == "refused", 20,
                               "the replayed 0x05 refused")
    assert refused.get("type") == 0x05 and "replayed counter" in refused.get("detail", ""), refused
    assert rig.module.alive
