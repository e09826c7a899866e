"""The spaak-pki wrapper against the real binary (skipped when it is not built), and the
command line's set-up errors."""
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eol.cli import EXIT_SETUP, main
from eol.pki import PKI, ROOTS, PKIError, find_spaak_pki


def spaak_pki():
    try:
        return find_spaak_pki()
    except PKIError as error:
        pytest.skip(str(error))


def write_csr(path, cn):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, hashes.SHA256())
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return str(path), key


def test_real_spaak_pki_round_trip(tmp_path):
    pki = PKI(str(tmp_path / "pki"), spaak_pki())
    assert pki.ensure() is True and pki.ensure() is False
    for name, _ in ROOTS:
        assert x509.load_der_x509_certificate(pki.root_der(name))
    assert "registered" in pki.register(["SPK0000000001"])
    good, key = write_csr(tmp_path / "SPK0000000001.csr.pem", "SPK0000000001")
    stranger, _ = write_csr(tmp_path / "SPK0000000099.csr.pem", "SPK0000000099")
    out = tmp_path / "out"
    outcomes = pki.sign([good, stranger], str(out))
    assert outcomes[good].refusal is None and outcomes[good].serial == "SPK0000000001"
    cert = x509.load_pem_x509_certificate(open(outcomes[good].certificate_pem, "rb").read())
    assert cert.public_key() == key.public_key()
    assert os.path.exists(out / "SPK0000000001.crt.der")
    assert outcomes[stranger].refusal and outcomes[stranger].certificate_pem is None


def test_missing_spaak_pki_is_reported():
    with pytest.raises(PKIError):
        find_spaak_pki("/nonexistent/spaak-pki")


@pytest.mark.parametrize("extra,message", [
    (["--plant-key", "0011"], "16 bytes"),
    (["--vin-prefix", "ZFA"], "--vin-prefix"),
    (["--modules", "7A0:7A8:1"], "REQ:RESP"),
    (["--vin", "SPK1=NOTAVIN"], "not a VIN"),
    (["--parallel", "0"], "--parallel"),
    (["--spaak-pki", "/nonexistent/spaak-pki"], "not executable"),
])
def test_setup_errors_exit_2(tmp_path, capsys, extra, message):
    code = main(["--pki", str(tmp_path / "pki"), "--out", str(tmp_path / "out"), "--no-progress", *extra])
    assert code == EXIT_SETUP
    assert message in capsys.readouterr().err
