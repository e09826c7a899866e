"""Owner pairing (ICD 8) on a real bus: the module (spaak-ecu) and the cloud simulator
(spaak-cloud serve) against an independent NFC device (nfcdevice.py, written from the ICD
alone): phase 2 and phase 3 with the password the VOS hands out, phase 4 to the cloud, the
pairing window (HU_Request, OwnerPairingModeRequest), and every attack the device knows,
each ending as ICD 8.3 says (a failed attempt counted in SPAAK_Status byte 6, or not; nothing
stored; the 8th failure deleting the verifier and starting PP-03 with reason 2).

The plant's work (test_cloud's ``plant``) and SP-02 + PP-01 run once; every test starts from a
copy of that module store and of the cloud's database. The attack cases share one module
(``bench``) as long as it is in a clean state (window open, verifier present, fewer than six
failures, no owner key); otherwise the bench starts a new one. Waits are for SPAAK_Status
frames, trace events and APDUs, never fixed sleeps (but the device's own listening for
commands that must not come).
"""
from __future__ import annotations

import dataclasses
import functools
import shutil
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import nfcdevice as nfc
from cloudpeer import C2V_ID, V2C_ID, v2c_event
from nfcdevice import PHASE2_STEPS, PHASE3_STEPS, Device, HeadUnit
from plantpeer import read as read_did
from plantpeer import uds
from spaaklib.signals import UC_NONE, VERIFIER
from test_cloud import SERIAL, VIN, Rig, plant  # noqa: F401 (plant: the session's plant, a fixture)

NO_KEY, WINDOW_OPEN, KEY_PENDING, KEY_ACTIVE = 0, 1, 2, 3
WINDOW_S = 300
NRC_CONDITIONS = 0x22
UC_OWNER_PAIRING = 7
WRONG_PASSWORD = "98765432109876"
DID_OWNER_PAIRING, DID_OWNER_KEY = 0xD124, 0xD125
#: The control command that has the VOS send OwnerPairingModeRequest 0x0E (OP-01).
PAIRING_MODE = "pairing-mode {serial}"


# --- ICD 7.1 messages from the recorder's raw bytes (tags 0x18, 0x19 included) -----------------

def tlv_fields(raw: bytes) -> dict[int, bytes]:
    """The TLVs of one ICD 7.1 message (tag, 2-byte length, value), without judging them."""
    out, i = {}, 0
    while i + 3 <= len(raw):
        tag, n = raw[i], int.from_bytes(raw[i + 1:i + 3], "big")
        out[tag] = raw[i + 3:i + 3 + n]
        i += 3 + n
    return out


def messages(rig: Rig, can_id: int, type_: int) -> list[dict[int, bytes]]:
    return [f for f in map(tlv_fields, rig.rec.raw_messages(can_id)) if f.get(0x01) == bytes([type_])]


def eventually(predicate, timeout: float, what: str):
    """Polls ``predicate`` until it returns something true (which is returned)."""
    end = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > end:
            raise AssertionError(f"never {what} within {timeout} s")
        time.sleep(0.2)
    return value


# --- DIDs 0xD124 / 0xD125 -----------------------------------------------------------------------

@dataclasses.dataclass
class OwnerStatus:
    """DID 0xD124 (ICD 5.2)."""
    state: int
    seconds: int
    key_id: bytes
    name: str
    raw: bytes


def owner_status() -> OwnerStatus:
    with uds() as c:
        raw = read_did(c, DID_OWNER_PAIRING)
    assert isinstance(raw, bytes) and len(raw) >= 11, f"0xD124: {raw!r}"
    return OwnerStatus(raw[0], int.from_bytes(raw[1:3], "big"), raw[3:11], raw[11:].decode(), raw)


def owner_key():
    """DID 0xD125: the 65-byte key, or the NRC (an int)."""
    with uds() as c:
        return read_did(c, DID_OWNER_KEY)


def no_owner_key_stored(state: int = WINDOW_OPEN):
    st = owner_status()
    assert st.state == state and st.key_id == bytes(8) and st.name == "", f"0xD124 {st.raw.hex()}"
    assert owner_key() == NRC_CONDITIONS, "0xD125 answers although no owner key exists"


# --- the rig: a module and the cloud from the provisioned snapshot --------------------------------

@dataclasses.dataclass
class Snapshot:
    plant: object                                  # a Plant whose store went through SP-02 + PP-01
    db: Path                                       # the cloud's database at that point


@pytest.fixture(scope="module")
def provisioned(plant, tmp_path_factory) -> Snapshot:
    """The plant's store taken through SP-02 + PP-01 once (drmUUID, [K]; no verifier yet)."""
    work = tmp_path_factory.mktemp("provisioned")
    r = Rig(plant, work)
    try:
        r.online_and_provisioned(120)
    finally:
        r.close()
    return Snapshot(dataclasses.replace(plant, store=str(work / "store")), work / "cloud.sqlite")


class PairingRig(Rig):
    """A ``Rig`` on copies of the snapshot's store and database (the cloud knows the ECU from
    its database), with a head unit; ``password`` is the one last handed out."""

    def __init__(self, snapshot: Snapshot, work: Path):
        work.mkdir(parents=True, exist_ok=True)
        for f in snapshot.db.parent.glob(snapshot.db.name + "*"):
            shutil.copy(f, work / f.name)
        self.password: str | None = None
        self.hu = HeadUnit()
        try:
            super().__init__(snapshot.plant, work)
        except BaseException:
            self.hu.close()
            raise

    def start_cloud(self, tag: str = "", ecu_certs: bool = False, wait: bool = True):
        return super().start_cloud(tag, ecu_certs=ecu_certs, wait=wait)

    def close(self, check: bool = True):
        self.hu.close()
        super().close(check)

    def now(self) -> bytes:
        return self.rec.last_status()

    def online(self):
        self.cloud.ok("tbm online")
        self.wait_provisioned(60)

    def push_verifier(self) -> str:
        """PP-02: a fresh verifier pushed and stored; the VOS's password for it."""
        start, mark = len(self.cloud.trace()), self.rec.mark()
        self.cloud.ok(f"push-verifier {SERIAL}")
        self.cloud.wait_event(lambda e: v2c_event(e, 0x0B), 60, "0x0B for the push", start=start)
        self.status(lambda s: s[2] & VERIFIER and s[6] == 0, 30, "verifier present, no failed attempt", start=mark)
        return self.fetch_password()

    def fetch_password(self) -> str:
        reply = self.cloud.ok(f"password {SERIAL}")
        self.password = reply.split()[-1]
        assert self.password.isdigit(), reply
        return self.password

    def open_window(self) -> bytes:
        """HU_Request 0x01 with the next counter: the window opens (or restarts)."""
        mark = self.rec.mark()
        self.hu.start_pairing()
        return self.status(lambda s: s[7] == WINDOW_OPEN, 10, "pairing window open", start=mark)

    def attempts(self, n: int, start: int, timeout: float = 20.0) -> bytes:
        return self.status(lambda s: s[6] == n, timeout, f"{n} failed attempt(s)", start=start)

    def quiet_cycles(self, frames: int = 10) -> list[bytes]:
        """The next ``frames`` SPAAK_Status frames (the module had time to act)."""
        mark = self.rec.mark()
        self.status(lambda s: True, frames * 0.5 + 5, f"{frames} status frames", start=mark + frames - 1)
        return self.rec.statuses(mark)


def byte7_path(statuses: list[bytes]) -> list[int]:
    """The values SPAAK_Status byte 7 took, repeats folded."""
    out: list[int] = []
    for s in statuses:
        if not out or out[-1] != s[7]:
            out.append(s[7])
    return out


@pytest.fixture
def prig(provisioned, bench, tmp_path):
    bench.close()                                   # one module and one cloud on the bus at a time
    r = PairingRig(provisioned, tmp_path)
    try:
        r.online()
    except BaseException:
        r.close(check=False)
        raise
    yield r
    r.close()


@pytest.fixture
def device_for(plant):
    """Makes devices that trust the plant's [J]; closes them at the end (one at a time on the bus)."""
    made: list[Device] = []

    def make(password: str, **kw) -> Device:
        for old in made:
            old.close()
        made.clear()
        dev = Device(password, str(Path(plant.pki) / "J.der"), **kw)
        made.append(dev)
        return dev

    yield make
    for dev in made:
        dev.close()


class Bench:
    """One module for many attack cases, started again whenever a case leaves it unclean."""

    def __init__(self, snapshot: Snapshot, tmp_path_factory):
        self.snapshot, self.factory = snapshot, tmp_path_factory
        self.rig: PairingRig | None = None
        self.unclean = False

    def ready(self) -> PairingRig:
        """A module with the window open, a verifier (its password known), fewer than six
        failed attempts and no owner key."""
        r = self.rig
        if r is not None:
            s = r.now() if r.module.alive else None
            if self.unclean or s is None or s[7] in (KEY_PENDING, KEY_ACTIVE) or s[3] != UC_NONE:
                self.close()
                r = None
            elif not s[2] & VERIFIER or s[6] >= 6 or r.password is None:
                r.push_verifier()
        if r is None:
            self.unclean = False
            r = self.rig = PairingRig(self.snapshot, self.factory.mktemp("bench"))
            try:
                r.online()
                r.push_verifier()
            except BaseException:
                self.close(check=False)
                raise
        r.open_window()
        return r

    def dirty(self):
        """The case changes more than the count: the next one gets a new module."""
        self.unclean = True

    def close(self, check: bool = True):
        if self.rig is not None:
            r, self.rig = self.rig, None
            r.close(check)


@pytest.fixture(scope="module")
def bench(provisioned, tmp_path_factory):
    b = Bench(provisioned, tmp_path_factory)
    yield b
    b.close()


@pytest.fixture
def attack_rig(bench):
    r = bench.ready()
    yield r
    assert r.module.alive, "spaak-ecu died during the case:\n" + "\n".join(r.module.lines[-40:])


# --- the whole pairing -------------------------------------------------------------------------

def test_phase2_and_phase3_pair_the_owner(prig, device_for, plant):
    """HU_Request opens the window; phase 2 leaves the key pending (verifier deleted, count 0),
    phase 3 makes it active and closes the window, phase 4 reports it to the VOS; DIDs 0xD124 and
    0xD125 show it; afterwards neither HU_Request nor a tap nor the cloud reopens anything."""
    r = prig
    no_owner_key_stored(NO_KEY)
    password = r.push_verifier()
    with uds() as c:
        d123, d121, vin = read_did(c, 0xD123), read_did(c, 0xD121), read_did(c, 0xF190)
    dev = device_for(password, friendly_name="Ana's phone")
    dev.prepare(d123)                              # w0, w1 before the tap (the module allows 5 s)
    closed = r.now()
    start = r.rec.mark()
    r.open_window()
    st = owner_status()
    assert st.state == WINDOW_OPEN and WINDOW_S - 30 <= st.seconds <= WINDOW_S, st
    no_owner_key_stored()

    p2 = dev.pair_phase2()
    assert p2.completed and p2.steps == PHASE2_STEPS, p2.describe()
    assert not p2.violations and not p2.stray, p2.describe()
    card = p2.card
    assert card.version == b"\x01\x00"
    assert card.salt + card.scrypt[0].to_bytes(4, "big") + card.scrypt[1].to_bytes(2, "big") \
        + card.scrypt[2].to_bytes(2, "big") == d123, f"step 2 parameters differ from 0xD123 {d123.hex()}"
    assert card.vin == vin == VIN.encode()
    assert card.k_cert.public_bytes(Encoding.DER) == d121, "WRITE DATA carried another [K] than 0xD121"
    pending = r.status(lambda s: s[7] == KEY_PENDING, 20, "owner key pending")
    assert not pending[2] & VERIFIER and pending[6] == 0, f"after phase 2: {pending.hex()}"
    st = owner_status()
    assert (st.state, st.key_id, st.name) == (KEY_PENDING, dev.key_id, "Ana's phone"), st
    assert 0 < st.seconds <= WINDOW_S
    assert owner_key() == dev.endpoint_public

    dev.remove()
    p3 = dev.pair_phase3()
    assert p3.completed and p3.steps == PHASE3_STEPS and not p3.violations and not p3.stray, p3.describe()
    active = r.status(lambda s: s[7] == KEY_ACTIVE, 20, "owner key active")
    assert active[6] == 0
    assert byte7_path([closed] + r.rec.statuses(start)) == [NO_KEY, WINDOW_OPEN, KEY_PENDING, KEY_ACTIVE]
    st = owner_status()
    assert (st.state, st.seconds, st.key_id, st.name) == (KEY_ACTIVE, 0, dev.key_id, "Ana's phone"), st
    assert owner_key() == dev.endpoint_public

    # phase 4: 0x0D (use case 7, state 3, key id, status 0) accepted and acknowledged
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0D), 60, "OwnerPairingStatus 0x0D accepted")
    report = messages(r, V2C_ID, 0x0D)[-1]
    assert report[0x07] == bytes([UC_OWNER_PAIRING]) and report[0x19] == bytes([KEY_ACTIVE]), report
    assert report[0x18] == dev.key_id and report[0x13] == b"\x00", report
    eventually(lambda: [m for m in messages(r, C2V_ID, 0x06) if m.get(0x05) == report[0x05]], 30,
               "C2VUsecaseCompletionAck 0x06 for the 0x0D on the bus")
    status_text = r.cloud.ok("status")
    pairing = [l.strip() for l in status_text.splitlines() if l.strip().startswith("pairing=")]
    assert pairing and pairing[0].startswith(f"pairing={KEY_ACTIVE}") and dev.key_id.hex() in pairing[0].lower(), \
        f"ctl status does not show the active owner key {dev.key_id.hex()}:\n{status_text}"

    # the window is closed for good: HU_Request, a tap and OP-01 change nothing
    dev.remove()
    mark = r.rec.mark()
    r.hu.start_pairing()
    quiet = dev.session(first_timeout=4)
    assert quiet.outcome == "no-command", quiet.describe()
    r.cloud.ok(PAIRING_MODE.format(serial=SERIAL))
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0D) and len(messages(r, V2C_ID, 0x0D)) >= 2, 60,
                       "0x0D answering the OwnerPairingModeRequest")
    refusal = messages(r, V2C_ID, 0x0D)[-1]
    request = messages(r, C2V_ID, 0x0E)[-1]
    assert refusal[0x05] == request[0x05], "0x0D must echo the 0x0E's transaction id"
    assert refusal[0x13] == b"\x08" and refusal[0x19] == bytes([KEY_ACTIVE]) and refusal[0x18] == dev.key_id, refusal
    assert {s[7] for s in r.quiet_cycles() + r.rec.statuses(mark)} == {KEY_ACTIVE}


def test_window_opened_by_the_cloud(prig, device_for):
    """OP-01: OwnerPairingModeRequest 0x0E opens the window, answered by 0x0D (echoed
    transaction id, state 1, status 0, no key id); a second one while a key is pending restarts
    it and reports state 2 with the key id."""
    r = prig
    password = r.push_verifier()
    r.cloud.ok(PAIRING_MODE.format(serial=SERIAL))
    r.status(lambda s: s[7] == WINDOW_OPEN, 30, "window opened by 0x0E")
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0D), 60, "0x0D for the 0x0E")
    request, answer = messages(r, C2V_ID, 0x0E)[-1], messages(r, V2C_ID, 0x0D)[-1]
    assert answer[0x05] == request[0x05] and answer[0x07] == bytes([UC_OWNER_PAIRING]), answer
    assert answer[0x19] == bytes([WINDOW_OPEN]) and answer[0x13] == b"\x00" and 0x18 not in answer, answer

    dev = device_for(password)
    p2 = dev.pair_phase2()
    assert p2.completed, p2.describe()
    r.status(lambda s: s[7] == KEY_PENDING, 20, "owner key pending")
    r.cloud.ok(PAIRING_MODE.format(serial=SERIAL))
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0D) and len(messages(r, V2C_ID, 0x0D)) >= 2, 60, "second 0x0D")
    again = messages(r, V2C_ID, 0x0D)[-1]
    assert again[0x05] == messages(r, C2V_ID, 0x0E)[-1][0x05]
    assert again[0x19] == bytes([KEY_PENDING]) and again[0x18] == dev.key_id and again[0x13] == b"\x00", again
    st = owner_status()
    assert st.state == KEY_PENDING and st.seconds >= WINDOW_S - 30, st


# --- failed phase 2 sessions: counted ------------------------------------------------------------

def _case(make, step, wrong=False, id=""):
    return pytest.param(make, step, wrong, id=id)


STEP_BY_NUMBER = dict(enumerate(PHASE2_STEPS, start=1))
COUNTED = [
    _case(None, "spake2-verify", True, "wrong-password"),
    _case(nfc.ignore_confirm_v, "spake2-verify", True, "wrong-password-device-ignores-confirmV"),
    *[_case(functools.partial(nfc.invalid_share, k), "spake2-request", id=f"X-{k}") for k in nfc.INVALID_SHARES],
    _case(nfc.corrupt_gcm_tag, "get-data", id="get-data-gcm-tag"),
    _case(nfc.wrong_nonce, "get-data", id="get-data-wrong-nonce"),
    *[_case(functools.partial(nfc.get_data_plaintext, nfc.BAD_ENDPOINT_DATA[k]), "get-data", id=f"get-data-{k}")
      for k in nfc.BAD_ENDPOINT_DATA],
    *[_case(functools.partial(nfc.malformed, "spake2-request", k), "spake2-request", id=f"step2-{k}")
      for k in nfc.MALFORMED],
    *[_case(functools.partial(nfc.malformed, step, k), step, id=f"step{n}-{k}")
      for n, step in ((3, "spake2-verify"), (5, "get-data"))
      for k in ("length-beyond-data", "82-beyond-frame", "extra-bytes", "truncated-value", "wrong-tag")],
    _case(functools.partial(nfc.malformed, "write-data", "extra-bytes"), "write-data", id="step4-data-in-answer"),
    _case(functools.partial(nfc.status_word, "spake2-request", nfc.SW_CONDITIONS), "spake2-request",
          id="step2-sw-6985"),
    _case(functools.partial(nfc.status_word, "write-data", nfc.SW_WRONG_DATA), "write-data", id="step4-sw-6a80"),
    _case(functools.partial(nfc.status_word, "get-data", nfc.SW_SECURITY), "get-data", id="step5-sw-6982"),
    *[_case(functools.partial(nfc.remove_at, STEP_BY_NUMBER[n]), STEP_BY_NUMBER[n], id=f"removed-at-step{n}")
      for n in (2, 3, 4, 5)],
    *[_case(functools.partial(nfc.silent_at, STEP_BY_NUMBER[n]), STEP_BY_NUMBER[n], id=f"no-answer-at-step{n}")
      for n in (2, 3, 4, 5)],
]


@pytest.mark.parametrize("make_hook, step, wrong_password", COUNTED)
def test_failed_phase2_session_is_counted(attack_rig, device_for, make_hook, step, wrong_password):
    """The session ends at ``step`` (the module sends no further APDU), SPAAK_Status byte 6
    counts one failed attempt, the verifier stays, the window stays open, no key is stored."""
    r = attack_rig
    dev = device_for(WRONG_PASSWORD if wrong_password else r.password)
    before, mark = r.now()[6], r.rec.mark()
    result = dev.pair_phase2(make_hook() if make_hook else None)
    assert result.steps and result.steps[-1] == step and not result.completed, result.describe()
    assert not result.stray, "the module went on after the failure:\n" + result.describe()
    assert not result.violations, result.describe()
    counted = r.attempts(before + 1, mark)
    dev.remove()
    if result.outcome == "silent":                 # ICD 8.3: each response within 5 s of its command
        at = next(ts for ts, x in r.rec.status[mark:] if x[6] == before + 1)
        waited = at - result.exchanges[-1].at
        assert 4.5 <= waited <= 15, f"the unanswered {step} failed after {waited:.1f} s"
    assert counted[2] & VERIFIER and counted[7] == WINDOW_OPEN, counted.hex()
    seen = r.rec.statuses(mark) + r.quiet_cycles(5)
    assert max(s[6] for s in seen) == before + 1, [s[6] for s in seen]
    assert {s[7] for s in seen} == {WINDOW_OPEN}, byte7_path(seen)
    no_owner_key_stored()


def test_replayed_confirm_p_is_counted(attack_rig, device_for):
    """A confirmP from an earlier session does not pass in a new one (fresh x and y)."""
    r = attack_rig
    dev = device_for(r.password)
    before, mark = r.now()[6], r.rec.mark()
    first = dev.pair_phase2(nfc.remove_at("write-data"))
    assert first.steps[-1] == "write-data", first.describe()
    old = first.card.keys.confirmP
    r.attempts(before + 1, mark)
    mark = r.rec.mark()
    second = dev.pair_phase2(nfc.replay_confirm_p(old))
    assert second.steps[-1] == "spake2-verify" and second.exchanges[-1].response == nfc.tlv(0x58, old) + nfc.SW_OK
    assert second.card.keys.confirmP != old and not second.stray, second.describe()
    r.attempts(before + 2, mark)
    dev.remove()
    no_owner_key_stored()


# --- sessions that are not attempts ---------------------------------------------------------------

NOT_COUNTED = [
    pytest.param(lambda: nfc.remove_at("select"), {}, id="removed-at-select"),
    pytest.param(lambda: nfc.silent_at("select"), {}, id="no-answer-at-select"),
    pytest.param(lambda: None, {"versions": (b"\x02\x00", b"\x01\x01")}, id="no-common-version"),
]


@pytest.mark.parametrize("make_hook, device_kw", NOT_COUNTED)
def test_session_ending_before_step2_is_not_counted(attack_rig, device_for, make_hook, device_kw):
    """The module never sent step 2: no attempt. The proof: the next failure counts exactly one."""
    r = attack_rig
    dev = device_for(r.password, **device_kw)
    before, mark = r.now()[6], r.rec.mark()
    result = dev.pair_phase2(make_hook())
    assert result.steps == ["select"] and not result.stray and not result.violations, result.describe()
    dev.remove()
    assert {s[6] for s in r.rec.statuses(mark) + r.quiet_cycles()} == {before}
    dev.card.versions = (b"\x01\x00",)
    proof = dev.pair_phase2(nfc.remove_at("spake2-verify"))
    assert proof.steps[-1] == "spake2-verify", proof.describe()
    r.attempts(before + 1, mark)
    dev.remove()
    assert max(s[6] for s in r.rec.statuses(mark) + r.quiet_cycles(5)) == before + 1


PHASE3_FAILURES = [
    pytest.param(nfc.auth1_other_key, "auth1", id="auth1-signed-by-another-key"),
    pytest.param(functools.partial(nfc.status_word, "auth1", nfc.SW_SECURITY), "auth1", id="auth1-sw-6982"),
    pytest.param(functools.partial(nfc.malformed, "auth0", "length-beyond-data"), "auth0", id="auth0-bad-length"),
    pytest.param(functools.partial(nfc.malformed, "auth1", "extra-bytes"), "auth1", id="auth1-extra-bytes"),
    pytest.param(functools.partial(nfc.remove_at, "auth0"), "auth0", id="removed-at-auth0"),
    pytest.param(functools.partial(nfc.remove_at, "auth1"), "auth1", id="removed-at-auth1"),
    pytest.param(functools.partial(nfc.silent_at, "auth1"), "auth1", id="no-answer-at-auth1"),
]


@pytest.mark.parametrize("make_hook, step", PHASE3_FAILURES)
def test_phase3_failure_is_not_counted_and_the_key_stays_pending(attack_rig, bench, device_for, make_hook, step):
    r = attack_rig
    dev = device_for(r.password)
    p2 = dev.pair_phase2()
    assert p2.completed, p2.describe()
    r.status(lambda s: s[7] == KEY_PENDING and s[6] == 0, 20, "owner key pending")
    bench.dirty()                                   # whatever happens now: the next case gets a new module
    dev.remove()
    mark = r.rec.mark()
    result = dev.pair_phase3(make_hook())
    assert result.steps[-1] == step and not result.completed and not result.stray, result.describe()
    assert not result.violations, result.describe()
    dev.remove()
    seen = r.rec.statuses(mark) + r.quiet_cycles()
    assert {(s[6], s[7]) for s in seen} == {(0, KEY_PENDING)}, [(s[6], s[7]) for s in seen]
    st = owner_status()
    assert (st.state, st.key_id) == (KEY_PENDING, dev.key_id) and st.seconds > 0, st
    assert owner_key() == dev.endpoint_public
    again = dev.pair_phase3()
    assert again.completed and not again.violations, again.describe()
    r.status(lambda s: s[7] == KEY_ACTIVE, 20, "owner key active after a good phase 3")


# --- the 8th failure, the window, the HU counter, no verifier ------------------------------------------

def test_eighth_failure_deletes_the_verifier_and_pp03_brings_a_new_one(prig, device_for):
    r = prig
    r.push_verifier()
    with uds() as c:
        d123_old = read_did(c, 0xD123)
    dev = device_for(WRONG_PASSWORD)
    r.open_window()
    start = len(r.cloud.trace())
    for n in range(1, 9):
        mark = r.rec.mark()
        result = dev.pair_phase2()
        assert result.steps[-1] == "spake2-verify" and result.exchanges[-1].response == nfc.SW_SECURITY, \
            f"attempt {n}:\n{result.describe()}"
        if n < 8:
            s = r.attempts(n, mark)
            assert s[2] & VERIFIER and s[7] == WINDOW_OPEN, s.hex()
        else:
            s = r.status(lambda s: not s[2] & VERIFIER, 20, "verifier deleted by the 8th failure", start=mark)
            assert s[7] == WINDOW_OPEN, s.hex()
        dev.remove()
    r.cloud.wait_event(lambda e: v2c_event(e, 0x09), 60, "Spake2VerifierRequest 0x09", start=start)
    request = messages(r, V2C_ID, 0x09)[-1]
    assert request[0x16] == b"\x02", f"PP-03 reason {request[0x16].hex()}, expected 02"
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0B), 60, "0x0B of PP-03", start=start)
    s = r.status(lambda s: s[2] & VERIFIER and s[6] == 0, 60, "a new verifier, no failed attempt")
    assert s[7] == WINDOW_OPEN, "the 8th failure closed the window"
    with uds() as c:
        assert read_did(c, 0xD123)[:16] != d123_old[:16], "PP-03 left the old verifier"
    dev.use_password(r.fetch_password())
    p2 = dev.pair_phase2()
    assert p2.completed, p2.describe()
    r.status(lambda s: s[7] == KEY_PENDING, 20, "owner key pending with the new password")


def test_no_pairing_outside_the_window(prig, device_for):
    r = prig
    dev = device_for(r.push_verifier())
    mark = r.rec.mark()
    result = dev.pair_phase2(first_timeout=4)
    assert result.outcome == "no-command", result.describe()
    seen = r.rec.statuses(mark)
    assert {(s[6], s[7]) for s in seen} == {(0, NO_KEY)} and all(s[2] & VERIFIER for s in seen)
    st = owner_status()
    assert (st.state, st.seconds) == (NO_KEY, 0), st
    no_owner_key_stored(NO_KEY)


def test_hu_request_with_a_repeated_counter_or_a_bad_crc_is_ignored(prig):
    r = prig
    r.open_window()
    mark = r.rec.mark()
    r.cloud.ok(f"terminate-owner-key {SERIAL}")               # ICD 8.2: 0x0C closes the window
    r.status(lambda s: s[7] == NO_KEY, 30, "window closed by OwnerKeyTermination", start=mark)
    r.status(lambda s: s[3] == UC_NONE and s[2] & VERIFIER, 60, "PP-03 (reason 1) done")
    mark = r.rec.mark()
    r.hu.start_pairing(repeat=True)
    r.hu.start_pairing(corrupt=True)
    assert {s[7] for s in r.rec.statuses(mark) + r.quiet_cycles()} == {NO_KEY}, "a repeated or corrupt HU_Request opened the window"
    r.open_window()                                          # the next counter does


def test_pairing_without_verifier_starts_pp03_and_is_not_counted(prig, device_for):
    """ICD 8.2: a phase 2 session inside the window without a verifier sends nothing to the
    device and starts PP-03 with reason 3; then the device pairs with the new password."""
    r = prig
    assert not r.now()[2] & VERIFIER
    dev = device_for("00000000")
    r.open_window()
    start, mark = len(r.cloud.trace()), r.rec.mark()
    result = dev.pair_phase2(first_timeout=4)
    assert result.outcome == "no-command", result.describe()
    r.cloud.wait_event(lambda e: v2c_event(e, 0x09), 60, "Spake2VerifierRequest 0x09", start=start)
    assert messages(r, V2C_ID, 0x09)[-1][0x16] == b"\x03"
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0B), 60, "0x0B of PP-03", start=start)
    s = r.status(lambda s: s[2] & VERIFIER and s[3] == UC_NONE, 60, "verifier from PP-03", start=mark)
    assert s[7] == WINDOW_OPEN and {x[6] for x in r.rec.statuses(mark)} == {0}
    dev.remove()
    dev.use_password(r.fetch_password())
    p2 = dev.pair_phase2()
    assert p2.completed, p2.describe()
    r.status(lambda s: s[7] == KEY_PENDING, 20, "owner key pending")
