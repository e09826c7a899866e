"""The whole EOL sequence through udsoncan against in-process fake modules (no bus)."""
import io
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from eol.model import ALREADY, FAILED, PROVISIONED, STEPS, ModuleAddress, ModuleResult
from eol.pki import ROOTS
from eol.provision import Options, Provisioner, csr_to_pem
from eol.report import ProgressBar, render_table
from spaaklib.uds import DEFAULT_PLANT_KEY_HEX
from eol.uds import ModuleClient
from eol.vin import derive_vin
from fakes import FakeConnection, FakeECU, FakePKI

KEY = bytes.fromhex(DEFAULT_PLANT_KEY_HEX)


def run(ecus, tmp_path, parallel=1, lock=True, plant_key=KEY, pki=None, p2=0.3):
    pki = pki or FakePKI()
    by_id = {0x7A0 + 0x10 * i: ecu for i, ecu in enumerate(ecus)}
    results = [ModuleResult(ModuleAddress(rid, rid + 8)) for rid in by_id]
    options = Options(interface="none", out_dir=str(tmp_path), plant_key=plant_key, vin_for=derive_vin,
                      parallel=parallel, lock=lock, retry_pause=0.01)
    progress = ProgressBar(len(results) * len(STEPS), stream=io.StringIO())
    p = Provisioner(options, pki, progress, client_factory=lambda r: ModuleClient(
        r.address, plant_key, FakeConnection(by_id[r.address.request_id]), p2_timeout=p2,
        p2_star_timeout=2 * p2))
    p.roots = {name: pki.root_der(name) for name, _ in ROOTS}
    p.run(results, pki.register)
    return results, pki, progress


def test_batch_is_provisioned_and_the_csrs_go_as_one_batch(tmp_path):
    ecus = [FakeECU(f"SPK000000000{n}", pending_keygen=(n == 2)) for n in (1, 2, 3)]
    results, pki, progress = run(ecus, tmp_path, parallel=3)
    assert [r.outcome for r in results] == [PROVISIONED] * 3, [r.as_dict() for r in results]
    assert len(pki.batches) == 1 and len(pki.batches[0]) == 3
    assert progress.done == progress.total
    for r, ecu in zip(results, ecus):
        assert r.serial == ecu.serial and r.steps_done == list(STEPS) and r.locked
        assert r.status.fully_provisioned
        assert ecu.values[0xF190] == derive_vin(ecu.serial).encode() == r.vin.encode()
        for name, did in ROOTS:
            assert ecu.values[did] == pki.root_der(name)
        csr = x509.load_pem_x509_csr(open(tmp_path / f"{ecu.serial}.csr.pem", "rb").read())
        assert csr.public_key() == ecu.key.public_key()
        cert = x509.load_der_x509_certificate(open(tmp_path / f"{ecu.serial}.crt.der", "rb").read())
        assert ecu.values[0xD101] == cert.public_bytes(Encoding.DER)
        assert r.cert_path == str(tmp_path / f"{ecu.serial}.crt.pem")


def test_second_run_reports_already_provisioned_and_writes_nothing(tmp_path):
    ecus = [FakeECU("SPK0000000001"), FakeECU("SPK0000000002")]
    run(ecus, tmp_path)
    before = [len(e.requests) for e in ecus]
    results, pki, _ = run(ecus, tmp_path)
    assert [r.outcome for r in results] == [ALREADY, ALREADY]
    assert pki.batches == []
    for ecu, n in zip(ecus, before):
        assert all(req[0] == 0x22 for req in ecu.requests[n:])   # reads only


def test_wrong_plant_key_fails_that_module_with_nrc_0x35(tmp_path):
    good, bad = FakeECU("SPK0000000001"), FakeECU("SPK0000000002", plant_key=bytes(16))
    results, pki, _ = run([good, bad], tmp_path, parallel=2)
    assert results[0].outcome == PROVISIONED
    assert results[1].outcome == FAILED and results[1].error.step == "unlock" and results[1].error.nrc == 0x35
    assert results[1].steps_done == ["identify", "session"]
    assert results[1].retries == 0 and bad.failures == 1        # a wrong key is never tried again
    assert len(pki.batches[0]) == 1


def test_refused_root_is_reported_with_its_nrc(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.fail_write[0xD111] = 0x31
    results, _, _ = run([ecu], tmp_path)
    r = results[0]
    assert r.failed and r.error.step == "roots" and r.error.nrc == 0x31
    assert "write [J1] (0xD111): NRC 0x31 RequestOutOfRange" in r.error.describe()


def test_pki_refusal_fails_only_that_module(tmp_path):
    class PickyPKI(FakePKI):
        def register(self, serials):
            return super().register([s for s in serials if s != "SPK0000000002"])

    results, _, _ = run([FakeECU("SPK0000000001"), FakeECU("SPK0000000002")], tmp_path, pki=PickyPKI())
    assert results[0].outcome == PROVISIONED
    assert results[1].failed and results[1].error.step == "pki" and "not registered" in results[1].error.describe()
    assert results[1].csr_path and not results[1].cert_path


def test_locked_but_incomplete_module_is_a_failure(tmp_path):
    results, _, _ = run([FakeECU("SPK0000000001", locked=True)], tmp_path)
    r = results[0]
    assert r.failed and r.error.step == "identify" and "cannot be provisioned again" in r.error.describe()


def test_no_lock_leaves_the_module_unlocked(tmp_path):
    ecu = FakeECU("SPK0000000001")
    results, _, _ = run([ecu], tmp_path, lock=False)
    assert results[0].outcome == PROVISIONED and results[0].locked is False and not ecu.plant_locked
    assert "lock" not in results[0].steps_done


def test_csr_with_the_wrong_cn_is_refused(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.serial = "SOMEONE-ELSE"          # the CSR's CN no longer matches F18C
    results, _, _ = run([ecu], tmp_path)
    assert results[0].failed and results[0].error.step == "csr" and "CN is 'SOMEONE-ELSE'" in results[0].error.describe()


def test_csr_to_pem_rejects_garbage():
    from eol.model import StepError
    with pytest.raises(StepError, match="not a PKCS#10"):
        csr_to_pem(b"\x30\x03\x02\x01\x00", "SPK1")


def test_lost_session_is_reopened_and_the_write_repeated(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.expire_session_before = {bytes.fromhex("2ED111"), bytes.fromhex("3101D201")}
    results, _, _ = run([ecu], tmp_path)
    r = results[0]
    assert r.outcome == PROVISIONED and r.retries == 2, r.as_dict()
    assert ecu.plant_locked
    assert "provisioned (2 retries)" in render_table(results)


def test_lost_answers_are_retried(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.lose_answers = {bytes.fromhex("3101D200"): 1, bytes.fromhex("22D120"): 1}
    results, _, _ = run([ecu], tmp_path)
    assert results[0].outcome == PROVISIONED and results[0].retries == 2


def test_slow_work_gets_p2_star_without_a_retry(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.delays = {bytes.fromhex("3101D200"): 0.45, bytes.fromhex("2ED101"): 0.45}  # > P2 0.3, < P2* 0.6
    results, _, _ = run([ecu], tmp_path)
    assert results[0].outcome == PROVISIONED and results[0].retries == 0, results[0].as_dict()


def test_a_slow_read_gets_only_p2_and_is_retried(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.delays = {bytes.fromhex("22D100"): 0.45}
    results, _, _ = run([ecu], tmp_path)
    assert results[0].outcome == PROVISIONED and results[0].retries >= 1


def test_late_answers_are_swallowed_not_taken_for_the_next_request(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.late_answers = {bytes.fromhex("3101D200"): 1}      # arrives when the tester asks again
    results, _, _ = run([ecu], tmp_path)
    r = results[0]
    assert r.outcome == PROVISIONED and r.retries >= 2, r.as_dict()
    assert ecu.plant_locked


def test_a_module_that_never_answers_fails_after_the_retries(tmp_path):
    ecu = FakeECU("SPK0000000001")
    ecu.lose_answers = {bytes.fromhex("2ED110"): 99}
    results, _, _ = run([ecu], tmp_path)
    r = results[0]
    assert r.failed and r.error.step == "roots" and r.error.timeout and r.retries == 2
    assert "no answer from the module (timeout)" in r.error.describe()
    assert sum(1 for q in ecu.requests if q.startswith(bytes.fromhex("2ED110"))) == 3
