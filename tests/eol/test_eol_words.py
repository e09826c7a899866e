"""D120 decoding, NRC wording, VIN derivation, id lists, spaak-pki output parsing."""
import pytest

from eol.model import ModuleAddress, StepError, parse_module_list
from eol.nrc import describe_nrc, nrc_name
from eol.pki import parse_sign_output
from eol.status import ProvisioningStatus, status_name
from eol.vin import (DEFAULT_VIN_PREFIX, check_digit, derive_vin, is_valid_vin, parse_vin_assignments,
                     sequence_number, validate_prefix)

# --- D120 -----------------------------------------------------------------------------------


def test_d120_fully_provisioned():
    s = ProvisioningStatus.decode(bytes.fromhex("0F 00 00 00 00 00 00 04"))
    assert s.plant_locked and s.plant_slots_valid() and s.fully_provisioned
    assert s.problems() == []
    assert s.flag_words() == ["roots installed", "ECU key and CSR present", "ECU certificate installed", "plant locked"]
    assert s.words() == ("locked (roots installed, ECU key and CSR present, ECU certificate installed); "
                         "VALID: J J1 J_PhysicalKey Z1 ZZ2 ECU; NOT_AVAILABLE: K")


def test_d120_fresh_module():
    s = ProvisioningStatus.decode(bytes.fromhex("00 04 04 04 04 04 04 04"))
    assert not s.plant_locked and not s.fully_provisioned
    assert s.words() == "not locked; NOT_AVAILABLE: J J1 J_PhysicalKey Z1 ZZ2 ECU K"
    assert s.problems() == [f"{n}=NOT_AVAILABLE" for n in ("J", "J1", "J_PhysicalKey", "Z1", "ZZ2", "ECU")]


def test_d120_locked_with_a_bad_slot_is_not_provisioned():
    s = ProvisioningStatus.decode(bytes.fromhex("0D 00 07 00 00 00 06 04"))
    assert s.plant_locked and not s.fully_provisioned
    assert s.problems() == ["J1=INVALID_CHAIN_OF_TRUST", "ECU=SIGNATURE_FAIL"]
    assert "INVALID_CHAIN_OF_TRUST: J1" in s.words() and "SIGNATURE_FAIL: ECU" in s.words()


def test_d120_all_flags_and_unknown_status():
    s = ProvisioningStatus.decode(bytes.fromhex("FF 00 00 00 00 00 00 2A"))
    assert len(s.flag_words()) == 8 and "TBM online" in s.words()
    assert "UNKNOWN(0x2A): K" in s.words()
    assert status_name(5) == "VALIDITY_PERIOD_FAIL" and status_name(9) == "INVALID_FORMAT"


def test_d120_short_and_empty_records():
    s = ProvisioningStatus.decode(bytes.fromhex("08 00 00"))
    assert s.certificates == {"J": 0, "J1": 0}
    assert not s.fully_provisioned and "J_PhysicalKey=MISSING" in s.problems()
    with pytest.raises(ValueError):
        ProvisioningStatus.decode(b"")


# --- NRC ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,name,words", [
    (0x22, "ConditionsNotCorrect", "conditions not correct"),
    (0x24, "RequestSequenceError", "sendKey without a fresh seed"),
    (0x31, "RequestOutOfRange", "refused"),
    (0x33, "SecurityAccessDenied", "unlock it first"),
    (0x35, "InvalidKey", "--plant-key"),
    (0x36, "ExceedNumberOfAttempts", "10 s"),
    (0x37, "RequiredTimeDelayNotExpired", "wait 10 s"),
    (0x72, "GeneralProgrammingFailure", "secure store"),
    (0x7F, "ServiceNotSupportedInActiveSession", "extended session"),
])
def test_nrc_words(code, name, words):
    text = describe_nrc(code)
    assert text.startswith(f"NRC 0x{code:02X} {name} (")
    assert words in text


def test_unknown_nrc():
    assert nrc_name(0x99) == "UnknownNRC"
    assert describe_nrc(0x99) == "NRC 0x99 UnknownNRC"


def test_step_error_text():
    e = StepError("roots", "write [J1] (0xD111)", nrc=0x31)
    assert e.describe().startswith("write [J1] (0xD111): NRC 0x31 RequestOutOfRange (")
    assert StepError("pki", "PKI refused the CSR").describe() == "PKI refused the CSR"


# --- VIN ------------------------------------------------------------------------------------

def test_check_digit_known_vin():
    assert check_digit("1M8GDM9AXKP042788") == "X"      # the classic ISO 3779 / FMVSS 115 example
    assert check_digit("11111111111111111") == "1"


def test_derived_vin_is_valid_deterministic_and_follows_the_serial():
    vin = derive_vin("SPK0000000001")
    assert vin == derive_vin("SPK0000000001")
    assert is_valid_vin(vin) and len(vin) == 17
    assert vin[:8] == DEFAULT_VIN_PREFIX[:8] and vin[9:11] == DEFAULT_VIN_PREFIX[9:11]
    assert vin[11:] == "000001"
    assert vin[8] == check_digit(vin)
    assert derive_vin("SPK0000000002") != vin


def test_derived_vins_of_a_batch_are_distinct():
    vins = {derive_vin(f"SPK{n:010d}") for n in range(1, 101)}
    assert len(vins) == 100 and all(is_valid_vin(v) for v in vins)


def test_serial_without_digits_gets_a_hashed_sequence():
    assert sequence_number("SPKABC") == sequence_number("SPKABC") < 1_000_000
    assert is_valid_vin(derive_vin("SPKABC"))


def test_prefix_rules():
    assert validate_prefix("zfa250000ts") == "ZFA250000TS"
    for bad in ("ZFA25000", "ZFA25000OTS", "ZFA250000TSX"):
        with pytest.raises(ValueError):
            validate_prefix(bad)


def test_vin_alphabet():
    assert is_valid_vin("ZFA25000001234567")
    assert not is_valid_vin("ZFA2500000123456I") and not is_valid_vin("ZFA2500000123456")


def test_vin_assignments():
    got = parse_vin_assignments(["# plant list", "SPK1 ZFA25000001234567", "", "SPK2=zfa25000001234568"])
    assert got == {"SPK1": "ZFA25000001234567", "SPK2": "ZFA25000001234568"}
    with pytest.raises(ValueError, match="line 1"):
        parse_vin_assignments(["SPK1 ZFA2500000123456O"])
    with pytest.raises(ValueError, match="line 1"):
        parse_vin_assignments(["SPK1"])


# --- ids and PKI output -----------------------------------------------------------------------

def test_module_list():
    assert parse_module_list("7A0:7A8, 7B0:7B8,7C0") == [
        ModuleAddress(0x7A0, 0x7A8), ModuleAddress(0x7B0, 0x7B8), ModuleAddress(0x7C0, 0x7C8)]
    assert str(ModuleAddress(0x7A0, 0x7A8)) == "7A0/7A8"
    for bad in ("7A0:7A8:7B0", "XYZ", "800:808", "7A0:7A0", "7A0,7A0:7B0"):
        with pytest.raises(ValueError):
            parse_module_list(bad)


def test_sign_output_parsing():
    out = parse_sign_output(
        "ok SPK0000000001 /o/SPK0000000001.csr.pem -> /o/SPK0000000001.crt.pem\n"
        "refused /o/x y.csr.pem: serial SPK9 is not registered with the PKI\n"
        "1 issued, 1 refused\n")
    assert out["/o/SPK0000000001.csr.pem"].serial == "SPK0000000001"
    assert out["/o/SPK0000000001.csr.pem"].certificate_pem == "/o/SPK0000000001.crt.pem"
    assert out["/o/x y.csr.pem"].refusal == "serial SPK9 is not registered with the PKI"
    assert len(out) == 2
