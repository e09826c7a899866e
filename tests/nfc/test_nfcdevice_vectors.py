"""The independent NFC device of the bus tests (tests/bus/nfcdevice.py) on the host: its
crypto against the vectors of ICD 7.6 and 8.4 (the SpaaK vector and RFC 9383's appendix C
vector as the ICD reproduces it), its P-256 arithmetic against `cryptography`, its APDU and
BER-TLV codecs, and its card (phase 2 and phase 3 of ICD 8.3) against a module side played
here from the ICD, including the refusals the ICD gives the device and the attack hooks.

Run: .venv/bin/python -m pytest -q tests/nfc
"""
from __future__ import annotations

import datetime
import hashlib
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bus"))

import nfcdevice as d  # noqa: E402 (after the path)

H = bytes.fromhex


# --- ICD 3 / 8.1: E2E ------------------------------------------------------------------------

def test_crc_check_value_and_icd_examples():
    assert d.crc8_sae_j1850(b"123456789") == 0x4B
    # ICD 3's TBM_Status examples (same layout as NFC_Status and HU_Request)
    assert d.e2e_frame(0x3A0, 0, 0x03) == H("9B00030000000000")
    assert d.e2e_frame(0x3A0, 1, 0x03) == H("C601030000000000")
    assert d.e2e_frame(0x3A0, 2, 0x03) == H("2102030000000000")


def test_nfc_status_and_hu_request_frames():
    frame = d.e2e_frame(d.NFC_STATUS_ID, 14, d.DEVICE_PRESENT | d.READER_READY)
    assert frame[1:] == H("0E030000000000")
    assert frame[0] == d.crc8_sae_j1850(H("B003") + frame[1:])
    hu = d.e2e_frame(d.HU_REQUEST_ID, 5, d.HU_START_PAIRING)
    assert hu[1:] == H("05010000000000") and hu[0] == d.crc8_sae_j1850(H("C003") + hu[1:])


# --- P-256 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 3, 7, d.N_ORDER - 1, d.N_ORDER - 2, 2 ** 128 + 5,
                               int.from_bytes(hashlib.sha256(b"k").digest(), "big") % d.N_ORDER])
def test_scalar_mult_matches_cryptography(k):
    pub = ec.derive_private_key(k, ec.SECP256R1()).public_key()
    assert d.encode_point(d.scalar_mult(k, d.G)) == d.public_bytes(pub)


def test_group_laws_and_m_n():
    assert d.scalar_mult(d.N_ORDER, d.G) is None
    assert d.point_add(d.G, d.point_neg(d.G)) is None
    assert d.point_add(d.G, d.G) == d.scalar_mult(2, d.G)
    assert d.on_curve(*d.M) and d.on_curve(*d.N)
    assert d.encode_point(d.M)[:33] == H("04886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")
    assert d.encode_point(d.N)[:33] == H("04d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")
    assert d.M[1] % 2 == 0 and d.N[1] % 2 == 1                  # 02 and 03 prefixes of RFC 9383


@pytest.mark.parametrize("kind", sorted(d.INVALID_SHARES))
def test_invalid_share_encodings_are_refused_by_a_strict_decoder(kind):
    card = d.Card("1", _pki()["J"])
    card.session.share_p = d.prover_share(12345, 678)
    encoding = d.INVALID_SHARES[kind](card)
    with pytest.raises(ValueError):
        d.decode_point(encoding)


# --- ICD 7.6 and 8.4 vectors ------------------------------------------------------------------

PASSWORD, SALT, VIN = b"0123456789012", bytes(range(16)), b"VF3ABCDEF12345678"


def test_icd_7_6_verifier_vector():
    w0, L = d.verifier_record(PASSWORD, SALT, 4096, 8, 1)
    assert w0 == int("b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b", 16)
    assert L == H("0438186240a99f81034d718c162bb8404dcce6e0d1a1414b6ac36288db9a6d8d05"
                  "d63e4ce303463331668c445773d17d2d3842f2d3bc2d008dfd73ffa79eaae04a")


def test_icd_8_4_spaak_vector():
    w0, w1 = d.derive_w0_w1(PASSWORD, SALT, 4096, 8, 1)
    assert w1 == int("f056b7f218659112abadabffd53a736681e783930656757327afbf45632ba5f5", 16)
    x = int.from_bytes(hashlib.sha256(b"x").digest(), "big") % d.N_ORDER
    y = int.from_bytes(hashlib.sha256(b"y").digest(), "big") % d.N_ORDER
    assert x == int("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881", 16)
    assert y == int("a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa", 16)
    share_p, share_v = d.prover_share(x, w0), d.verifier_share(y, w0)
    assert share_p == H("04508032e32280ac0f0c6a66754b957a7464292d4cbd2f9c9cbd0f0038ace3fd7e"
                        "7a006f3b3ee93753907eea820d8d9b16fcbe87a71d2c5607e65bcf2d5764dc55")
    assert share_v == H("04956e3ae2bc3af27c0b41ed3b1afd364214b39ca21ecf419f1d17b410d1f08ba8"
                        "e71d116d7900fd15480e3fd47a8f769dba72006a5795e7aa2055f183e03000c9")
    keys = d.prover_finish(x, w0, w1, share_p, share_v, id_verifier=VIN)
    assert keys.Z == H("0444006b1022da6275c58d17ef828e3dbc71f450fddafb0d86bc6892560c6dfb3f"
                       "7b541aab4adaa2e9e584641af8489591a33959e68768052e330041544e5f725b")
    assert keys.V == H("04624360350853d5249be772e55d7f19b5d37324902435f2724276ea1e58faf82d"
                       "203eea044865117e390767201e3ef1c7d17c4f39317bcf222d55b53247935dcb")
    assert keys.K_main == H("c9a30fd3657676d819c2c8c2747976ea4f2be36d4c101ffd84cb6b59152b04fd")
    assert keys.confirmP == H("d810af99e3d201886df3197080c02a0434ac8be46d49f5d90b24e017036faacd")
    assert keys.confirmV == H("ea4335f7548b164a3cca00e53f119d8b44bf51ce9d8a44eb5d10614a3975bfb8")
    assert keys.K_shared == H("0cdfa3827e026b5a2c40a5fecd64ef4be282e228d729eba314b92e18222a315c")
    assert keys.K_enc == H("030944ad36e8f388442284f21ee0eaea")
    sealed = d.seal(keys.K_enc, d.TO_DEVICE, 1, b"owner endpoint")
    assert sealed == H("f07610094abc6a7c02a897882f0a6f2d413820e3cd511ba86b17f07be1f3")
    assert d.unseal(keys.K_enc, d.TO_DEVICE, 1, sealed) == b"owner endpoint"
    # the verifier's side agrees (Z = y·(X − w0·M), V = y·L)
    _, L = d.verifier_record(PASSWORD, SALT, 4096, 8, 1)
    assert d.verifier_finish(y, w0, L, share_p, share_v, id_verifier=VIN) == keys


def test_rfc_9383_appendix_c_vector():
    w0 = int("bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3", 16)
    w1 = int("7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba", 16)
    x = int("d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539", 16)
    y = int("717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3", 16)
    L = d.encode_point(d.scalar_mult(w1, d.G))
    assert L == H("04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f"
                  "00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd")
    share_p, share_v = d.prover_share(x, w0), d.verifier_share(y, w0)
    assert share_p == H("04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1"
                        "de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727")
    assert share_v == H("04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb"
                        "5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048")
    names = dict(context=b"SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors", id_prover=b"client",
                 id_verifier=b"server")
    keys = d.prover_finish(x, w0, w1, share_p, share_v, **names)
    assert keys.K_main == H("4c59e1ccf2cfb961aa31bd9434478a1089b56cd11542f53d3576fb6c2a438a29")
    assert keys.confirmP == H("926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527")
    assert keys.confirmV == H("9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68")
    assert keys.K_shared == H("0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7")
    assert d.verifier_finish(y, w0, L, share_p, share_v, **names) == keys


def test_prepare_derives_from_d123_into_the_cache():
    card = d.Card(PASSWORD, _pki()["J"])
    d123 = SALT + (4096).to_bytes(4, "big") + (8).to_bytes(2, "big") + (1).to_bytes(2, "big")
    w0, w1 = card.prepare(d123)
    assert w0 == int("b3e75cb2b47ff7bfcc46187edf15b61103ded2a0d683a18ab3873a71f5704d1b", 16)
    assert (PASSWORD, SALT, 4096, 8, 1) in d._W_CACHE
    with pytest.raises(ValueError):
        card.prepare(d123[:23])


def test_w_cache_returns_the_same_values():
    first = d.derive_w0_w1(b"12345678", SALT, 1024, 8, 1)
    assert d.derive_w0_w1(b"12345678", SALT, 1024, 8, 1) == first
    assert d.derive_w0_w1(b"12345679", SALT, 1024, 8, 1) != first
    assert all(1 <= w <= d.N_ORDER - 1 for w in first)


# --- APDU and BER-TLV codecs ------------------------------------------------------------------

def test_command_apdu_forms():
    cmd = d.parse_command(H("80300000") + H("000003") + H("5B0101") + H("0000"))
    assert (cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data) == (0x80, 0x30, 0, 0, H("5B0101"))
    assert d.parse_command(H("80CA0000000000")).data == b""
    assert d.build_command(d.GET_DATA) == H("80CA0000000000")
    assert d.build_command(d.SELECT, d.AID) == H("00A40400") + H("00000D") + d.AID + H("0000")
    for bad in (H("80CA0000"), H("80CA000000"), H("80CA00000100"), H("80300000" "0D" + d.AID.hex() + "00"),
                H("80300000" "000003" "5B0101"), H("80300000" "000004" "5B0101" "0000"),
                H("80300000" "000003" "5B0101" "0100")):
        with pytest.raises(d.Malformed):
            d.parse_command(bad)


def test_ber_lengths_and_strict_parsing():
    assert d.tlv(0x50, bytes(65))[:2] == H("5041")
    assert d.tlv(0x71, bytes(200))[:3] == H("7181C8")
    assert d.tlv(0x71, bytes(300))[:4] == H("71820" "12C")
    blob = d.tlv(0x5B, H("0100")) + d.tlv(0x70, bytes(130)) + d.tlv(0x72, bytes(256))
    assert d.parse_ber(blob) == [(0x5B, H("0100")), (0x70, bytes(130)), (0x72, bytes(256))]
    assert d.parse_ber(H("7182000100")) == [(0x71, H("00"))]       # BER, not necessarily minimal
    for bad in (H("50"), H("5042") + bytes(65), H("5082FFFF00"), H("5081"), H("508300000100"), H("5080")):
        with pytest.raises(d.Malformed):
            d.parse_ber(bad)
    with pytest.raises(d.Malformed):
        d.ber_fields(d.tlv(0x50, bytes(65)) * 2, {0x50: 65})
    with pytest.raises(d.Malformed):
        d.ber_fields(d.tlv(0x50, bytes(64)), {0x50: 65})


# --- the card against a module side played here (ICD 8.3) ---------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, ca: bool):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(issuer_key, hashes.SHA256())


_PKI: dict = {}


def _pki() -> dict:
    """[J] → [J1] → [K], and another root [X] with its own [X1] → [K'] (made once)."""
    if not _PKI:
        keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("J", "J1", "K", "X", "X1", "KX")}
        _PKI["keys"] = keys
        _PKI["J"] = _cert("J", keys["J"], "J", keys["J"], True)
        _PKI["J1"] = _cert("J1", keys["J1"], "J", keys["J"], True)
        _PKI["K"] = _cert("VEHICLE", keys["K"], "J1", keys["J1"], False)
        _PKI["X"] = _cert("J", keys["X"], "J", keys["X"], True)
        _PKI["X1"] = _cert("J1", keys["X1"], "J", keys["X"], True)
        _PKI["KX"] = _cert("VEHICLE", keys["KX"], "J1", keys["X1"], False)
    return _PKI


def _der(cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.DER)


class ModuleSide:
    """The verifier's side of ICD 8.3, as the module plays it (for driving the card here)."""

    def __init__(self, password: bytes, salt=SALT, n=1024, r=8, p=1, vin=VIN):
        self.salt, self.n, self.r, self.p, self.vin = salt, n, r, p, vin
        self.w0, self.L = d.verifier_record(password, salt, n, r, p)
        self.y = 0xC0FFEE
        self.keys = None

    def select(self):
        return d.build_command(d.SELECT, d.AID)

    def request(self):
        data = (d.tlv(0x5B, H("0100")) + d.tlv(0xC0, self.salt) + d.tlv(0xC1, self.n.to_bytes(4, "big"))
                + d.tlv(0xC2, self.r.to_bytes(2, "big")) + d.tlv(0xC3, self.p.to_bytes(2, "big")) + d.tlv(0xC4, self.vin))
        return d.build_command(d.SPAKE2_REQUEST, data)

    def verify(self, response: bytes):
        data, sw = d.split_response(response)
        assert sw == d.SW_OK
        self.share_p = d.ber_fields(data, {0x50: 65})[0x50]
        self.share_v = d.verifier_share(self.y, self.w0)
        self.keys = d.verifier_finish(self.y, self.w0, self.L, self.share_p, self.share_v, id_verifier=self.vin)
        return d.build_command(d.SPAKE2_VERIFY, d.tlv(0x52, self.share_v) + d.tlv(0x57, self.keys.confirmV))

    def write(self, k, j1):
        plain = d.tlv(0x71, _der(k)) + d.tlv(0x72, _der(j1))
        return d.build_command(d.WRITE_DATA, d.tlv(0x70, d.seal(self.keys.K_enc, d.TO_DEVICE, 1, plain)))


def _phase2(card: d.Card, module: ModuleSide, k=None, j1=None):
    pki = _pki()
    card.begin()
    out = [card.respond(module.select())]
    out.append(card.respond(module.request()))
    out.append(card.respond(module.verify(out[-1][1])))
    if out[-1][1][-2:] != d.SW_OK:
        return out
    out.append(card.respond(module.write(k or pki["K"], j1 or pki["J1"])))
    if out[-1][1][-2:] != d.SW_OK:
        return out
    out.append(card.respond(d.build_command(d.GET_DATA)))
    return out


def test_card_phase2_and_phase3_with_an_honest_module():
    pki = _pki()
    card = d.Card("12345678", pki["J"], friendly_name="Ana's phone")
    module = ModuleSide(b"12345678")
    steps = _phase2(card, module)
    assert [s for s, _ in steps] == d.PHASE2_STEPS
    assert steps[0][1] == H("5C020100") + d.SW_OK
    data, sw = d.split_response(steps[2][1])
    assert sw == d.SW_OK and d.ber_fields(data, {0x58: 32})[0x58] == module.keys.confirmP
    assert steps[3][1] == d.SW_OK
    data, sw = d.split_response(steps[4][1])
    sealed = d.ber_fields(data, {0x70: range(1, 200)})[0x70]
    inner = d.ber_fields(d.unseal(module.keys.K_enc, d.TO_MODULE, 1, sealed), {0x73: 65, 0x75: range(0, 33)})
    assert inner[0x73] == card.endpoint_public and inner[0x75] == "Ana's phone".encode()
    assert card.key_id == hashlib.sha256(card.endpoint_public).digest()[:8]
    assert card.session.violations == []

    # phase 3: a new session
    card.begin()
    assert card.respond(module.select())[1][-2:] == d.SW_OK
    vehicle_eph = ec.generate_private_key(ec.SECP256R1())
    txn = bytes(range(16))
    step, answer = card.respond(d.build_command(d.AUTH0, d.tlv(0x87, d.public_bytes(vehicle_eph)) + d.tlv(0x4C, txn)))
    assert step == "auth0" and answer[-2:] == d.SW_OK
    device_eph = d.ber_fields(answer[:-2], {0x86: 65})[0x86]
    d.decode_point(device_eph)
    signed = pki["keys"]["K"].sign(txn + d.public_bytes(vehicle_eph) + device_eph + d.VEHICLE_LABEL,
                                   ec.ECDSA(hashes.SHA256()))
    step, answer = card.respond(d.build_command(d.AUTH1, d.tlv(0x9E, signed)))
    assert step == "auth1" and answer[-2:] == d.SW_OK
    signature = d.ber_fields(answer[:-2], {0x9E: range(8, 73)})[0x9E]
    card.endpoint_key.public_key().verify(signature, txn + device_eph + d.public_bytes(vehicle_eph) + d.DEVICE_LABEL,
                                          ec.ECDSA(hashes.SHA256()))
    assert card.session.violations == []


def test_card_refuses_what_the_icd_says():
    pki = _pki()
    # wrong password: confirmV does not verify → 69 82
    steps = _phase2(d.Card("87654321", pki["J"]), ModuleSide(b"12345678"))
    assert steps[-1] == ("spake2-verify", d.SW_SECURITY)
    # [K] of another hierarchy → 6A 80
    card = d.Card("12345678", pki["J"])
    steps = _phase2(card, ModuleSide(b"12345678"), k=pki["KX"], j1=pki["X1"])
    assert steps[-1] == ("write-data", d.SW_WRONG_DATA) and card.vehicle_key is None
    # out of order → 69 85
    card.begin()
    assert card.respond(ModuleSide(b"12345678").request()) == ("spake2-request", d.SW_CONDITIONS)
    # phase 3: a vehicle signature by another key → 69 82
    _phase2(card, ModuleSide(b"12345678"))
    card.begin()
    card.respond(d.build_command(d.SELECT, d.AID))
    eph = ec.generate_private_key(ec.SECP256R1())
    _, answer = card.respond(d.build_command(d.AUTH0, d.tlv(0x87, d.public_bytes(eph)) + d.tlv(0x4C, bytes(16))))
    device_eph = d.ber_fields(answer[:-2], {0x86: 65})[0x86]
    forged = pki["keys"]["KX"].sign(bytes(16) + d.public_bytes(eph) + device_eph + d.VEHICLE_LABEL,
                                    ec.ECDSA(hashes.SHA256()))
    assert card.respond(d.build_command(d.AUTH1, d.tlv(0x9E, forged))) == ("auth1", d.SW_SECURITY)


def _hooked(hook, step_name):
    """Runs phase 2 on a card with ``hook`` applied at ``step_name``; the hooked answer."""
    card, module = d.Card("12345678", _pki()["J"]), ModuleSide(b"12345678")
    card.begin()
    for command in (module.select, module.request):
        step, honest = card.respond(command())
        if step == step_name:
            return card, honest, hook(step, card, b"", honest)
    step, honest = card.respond(module.verify(honest))
    if step == step_name:
        return card, honest, hook(step, card, b"", honest)
    card.respond(module.write(_pki()["K"], _pki()["J1"]))
    step, honest = card.respond(d.build_command(d.GET_DATA))
    return card, honest, hook(step, card, b"", honest)


@pytest.mark.parametrize("kind", sorted(d.MALFORMED))
@pytest.mark.parametrize("step", ["spake2-request", "spake2-verify", "get-data"])
def test_malformed_hooks_break_the_answer(step, kind):
    _, honest, answer = _hooked(d.malformed(step, kind), step)
    assert answer != honest
    data, sw = answer[:-2], answer[-2:]
    broken = True
    try:
        fields = d.parse_ber(data)
        broken = sw != d.SW_OK or len(fields) != 1 or fields[0] != d.parse_ber(honest[:-2])[0]
    except d.Malformed:
        pass
    assert broken, f"{kind}: {answer.hex()} still reads as the honest answer"


def test_attack_hooks_change_only_their_step():
    card, honest, answer = _hooked(d.corrupt_gcm_tag(), "get-data")
    assert answer[:-3] == honest[:-3] and answer[-3] != honest[-3] and answer[-2:] == d.SW_OK
    card, honest, answer = _hooked(d.ignore_confirm_v(), "spake2-verify")
    assert answer == honest                                   # the right password: the same answer
    card, honest, answer = _hooked(d.replay_confirm_p(bytes(32)), "spake2-verify")
    assert answer == d.tlv(0x58, bytes(32)) + d.SW_OK
    card, honest, answer = _hooked(d.invalid_share("off-curve"), "spake2-request")
    assert len(answer) == 2 + 65 + 2 and answer[:3] == honest[:3] and answer != honest
    assert d.remove_at("write-data")("select", card, b"", honest) == honest
    assert d.remove_at("write-data")("write-data", card, b"", honest) is d.REMOVE
    assert d.silent_at("auth0")("auth0", card, b"", honest) is d.SILENT


def test_ignore_confirm_v_answers_confirm_p_with_the_wrong_password():
    card, module = d.Card("87654321", _pki()["J"]), ModuleSide(b"12345678")
    card.begin()
    card.respond(module.select())
    _, x = card.respond(module.request())
    step, honest = card.respond(module.verify(x))
    assert honest == d.SW_SECURITY
    answer = d.ignore_confirm_v()(step, card, b"", honest)
    confirm_p = d.ber_fields(answer[:-2], {0x58: 32})[0x58]
    assert confirm_p != module.keys.confirmP and answer[-2:] == d.SW_OK


@pytest.mark.parametrize("kind", sorted(d.BAD_ENDPOINT_DATA))
def test_bad_endpoint_plaintexts_decrypt_but_break_the_icd(kind):
    card, module = d.Card("12345678", _pki()["J"]), ModuleSide(b"12345678")
    card.begin()
    card.respond(module.select())
    _, x = card.respond(module.request())
    card.respond(module.verify(x))
    card.respond(module.write(_pki()["K"], _pki()["J1"]))
    step, honest = card.respond(d.build_command(d.GET_DATA))
    answer = d.get_data_plaintext(d.BAD_ENDPOINT_DATA[kind])(step, card, b"", honest)
    sealed = d.ber_fields(answer[:-2], {0x70: range(1, 300)})[0x70]
    plain = d.unseal(module.keys.K_enc, d.TO_MODULE, 1, sealed)
    with pytest.raises(ValueError):                          # UnicodeDecodeError is one too
        fields = d.ber_fields(plain, {0x73: 65, 0x75: range(0, 33)})
        d.decode_point(fields[0x73])
        fields[0x75].decode("utf-8")


def test_the_device_imports_nothing_of_the_project():
    """The independent peer: only the standard library, python-can, isotp and cryptography."""
    import ast
    tree = ast.parse(Path(d.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = {"__future__", "hashlib", "hmac", "os", "secrets", "socket", "threading", "time", "dataclasses",
               "typing", "can", "isotp", "cryptography"}
    assert imported <= allowed, sorted(imported - allowed)
