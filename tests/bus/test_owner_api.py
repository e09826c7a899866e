"""The VOS's owner services over HTTP (issue 10) end to end with the real module on the bus:
``spaak-cloud serve --http`` (TBM + VOS, the owner services on 127.0.0.1), ``spaak-ecu`` from
the provisioned snapshot of test_pairing, ``spaak-phone pair --api`` as the owner's app.

- OP-01a: the password through the API (request, confirmation with the delivery id); the
  confirmation makes the VOS send OwnerPairingModeRequest 0x0E (seen on the bus), the module
  opens its window (SPAAK_Status byte 7 = 1) and answers 0x0D state 1; the phone pairs;
  0x0D state 3 reaches the VOS; ``GET /v1/vehicles/{vin}`` shows the owner key active and the
  password ended (``paired``). Nothing printed shows the password.
- OP-01b: the portal has the VOS e-mail the deep link (a Maildir, read with Python's
  ``mailbox``/``email``); the phone redeems it and pairs; the link is good once.
- The TBM offline at the delivery: the password is delivered, the 0x0E is not sent and the
  answer says why; the phone, waiting for the window, gives up.

Requests go through ``requests`` with the tokens of ``spaak-cloud token``. Waits are for
SPAAK_Status frames, bus messages and trace events, never fixed sleeps.
"""
from __future__ import annotations

import email
import email.policy
import mailbox
import re
import subprocess
from pathlib import Path

import pytest
import requests

from cloudpeer import C2V_ID, V2C_ID, Cloud, c2v_event, v2c_event
from spaakbus import PEER_IFACE, bin_path
from test_cloud import SCRYPT_N, SERIAL, VIN, plant  # noqa: F401 (plant: the session's plant, a fixture)
from test_pairing import (KEY_ACTIVE, KEY_PENDING, NO_KEY, WINDOW_OPEN, PairingRig, byte7_path, messages,  # noqa: F401
                          owner_status, provisioned)
from spaaklib.signals import VERIFIER

#: What an answer of spaak-phone looks like when the VOS refused (a problem document).
PROBLEM = re.compile(r"^spaak-phone: (\d{3}) ([a-z-]+): (.+)$", re.M)
DEEP_LINK = re.compile(r"^spaak://pair\?vin=([A-HJ-NPR-Z0-9]{17})&token=([A-Za-z0-9_-]{43})$")


class ApiRig(PairingRig):
    """A PairingRig whose spaak-cloud also serves the owner services on an ephemeral port of
    127.0.0.1 (``url``), with its identity provider key and mail outbox in the test folder."""

    def __init__(self, snapshot, work: Path):
        self.idp_key, self.mail_dir = work / "idp.pem", work / "mail"
        super().__init__(snapshot, work)
        line = self.cloud.wait_for("HTTP on http://", 10)   # printed before READY=1, read a moment later
        self.url = re.search(r"HTTP on (http://127\.0\.0\.1:\d+)", line).group(1)

    def start_cloud(self, tag: str = "", ecu_certs: bool = False, wait: bool = True) -> Cloud:
        cloud = Cloud(self.work, self.plant.pki, self.work / "cloud.sqlite", "--tbm", "offline",
                      "--http", "127.0.0.1:0", "--idp-key", str(self.idp_key), "--mail-dir", str(self.mail_dir),
                      tag=tag, scrypt_n=SCRYPT_N, wait=wait)
        self.clouds.append(cloud)
        self.cloud = cloud
        return cloud

    def push_verifier_only(self):
        """PP-02 without asking for the password (the API hands it out)."""
        start, mark = len(self.cloud.trace()), self.rec.mark()
        self.cloud.ok(f"push-verifier {SERIAL}")
        self.cloud.wait_event(lambda e: v2c_event(e, 0x0B), 60, "0x0B for the push", start=start)
        self.status(lambda s: s[2] & VERIFIER and s[6] == 0, 30, "verifier present, no failed attempt", start=mark)

    def token(self, user: str, role: str) -> str:
        p = subprocess.run([bin_path("spaak-cloud"), "token", "--idp-key", str(self.idp_key), "--user", user,
                            "--role", role], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stdout.count(".") == 2, p.stderr
        return p.stdout.strip()

    def api(self, method: str, path: str, token: str, **kw) -> requests.Response:
        r = requests.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                             proxies={"http": None, "https": None}, **kw)
        print(f"{method} {path} -> {r.status_code} {r.text[:300]}", flush=True)
        return r

    def vehicle(self, token: str) -> dict:
        r = self.api("GET", f"/v1/vehicles/{VIN}", token)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def arig(provisioned, tmp_path):
    r = ApiRig(provisioned, tmp_path)
    try:
        r.online()
        r.push_verifier_only()
        reply = r.cloud.ok(f"register-owner {VIN} alice")
        assert f"owner of {VIN}: alice" in reply, reply
    except BaseException:
        r.close(check=False)
        raise
    yield r
    r.close()


def phone(r: ApiRig, plant, work: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    cmd = [bin_path("spaak-phone"), "pair", "--interface", PEER_IFACE, "--pki", str(plant.pki),
           "--key", str(work / "phone.key"), "--api", r.url, "--timeout", str(timeout), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(f"$ spaak-phone pair … {' '.join(a for a in args if not a.startswith(('ey', 'spaak://')))}\n"
          f"{p.stdout}{p.stderr}exit {p.returncode}", flush=True)
    return p


def mode_requests(r: ApiRig) -> list:
    return messages(r, C2V_ID, 0x0E)


def paired_through_the_api(r: ApiRig, mark: int, requests_before: int, owner_token: str, channel: str):
    """After a phone run that exited 0: 0x0E on the bus, byte 7 0/1 → 1 → 2 → 3, 0x0D state 1
    (answering the 0x0E) then state 3 at the VOS, the VOS's view of it."""
    assert len(mode_requests(r)) == requests_before + 1, "no OwnerPairingModeRequest 0x0E on the bus"
    path = byte7_path(r.rec.statuses(mark))
    assert path[-3:] == [WINDOW_OPEN, KEY_PENDING, KEY_ACTIVE], path
    r.cloud.wait_event(lambda e: v2c_event(e, 0x0D) and "state 3" in (e.get("detail") or ""), 60,
                       "OwnerPairingStatus 0x0D state 3 accepted")
    reports = messages(r, V2C_ID, 0x0D)
    answer = next(m for m in reports if m[0x05] == mode_requests(r)[-1][0x05])
    assert answer[0x19] == bytes([WINDOW_OPEN]) and answer[0x13] == b"\x00", answer
    assert reports[-1][0x19] == bytes([KEY_ACTIVE])
    view = r.vehicle(owner_token)
    assert view["ownerPairing"]["state"] == "owner-key-active", view["ownerPairing"]
    assert view["ownerPairing"]["activeOwnerKeyId"].lower() == reports[-1][0x18].hex(), view["ownerPairing"]
    assert view["password"]["state"] == "paired" and view["password"]["channel"] == channel, view["password"]
    assert owner_status().state == KEY_ACTIVE


def test_op01a_the_app_gets_the_password_and_pairs(arig, plant, tmp_path):
    r = arig
    owner = r.token("alice", "owner")
    assert r.now()[7] == NO_KEY
    view = r.vehicle(owner)
    assert view["serviceProvisioned"] is True and view["password"]["state"] == "available", view
    # Another user's token and the hotline's are refused before anything is delivered.
    p = phone(r, plant, tmp_path, "--token", r.token("mallory", "owner"), "--vin", VIN)
    problem = PROBLEM.search(p.stderr)
    assert p.returncode == 1 and problem and problem.group(1, 2) == ("403", "not-owner"), p.stderr
    p = phone(r, plant, tmp_path, "--token", r.token("hana", "hotline"), "--vin", VIN)
    assert p.returncode == 1 and PROBLEM.search(p.stderr).group(1, 2) == ("403", "role-not-allowed"), p.stderr
    # The app asked once and lost the answer: the phone gets the same password and delivery id.
    first = r.api("POST", f"/v1/vehicles/{VIN}/pairing-password", owner)
    assert first.status_code == 200, first.text
    handout = first.json()
    assert r.vehicle(owner)["password"]["state"] == "handed-out"
    mark, before = r.rec.mark(), len(mode_requests(r))
    p = phone(r, plant, tmp_path, "--token", owner, "--vin", VIN, "--name", "Alice's phone")
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout + p.stderr
    assert f"password received ({len(handout['password'])} digits), delivery id {handout['deliveryId']}" in out
    assert "the VOS sent OwnerPairingModeRequest 0x0E" in out and "paired: phase 2, phase 3 done" in out
    assert handout["password"] not in out, "spaak-phone printed the password"
    assert not [line for line in r.cloud.lines if handout["password"] in line], "spaak-cloud logged the password"
    paired_through_the_api(r, mark, before, owner, "app")
    # Delivered once: asked again, the VOS refuses with its reason.
    again = r.api("POST", f"/v1/vehicles/{VIN}/pairing-password", owner)
    assert again.status_code == 409 and again.headers["Content-Type"].startswith("application/problem+json"), again.text


def test_op01b_the_emailed_link_is_redeemed_and_the_phone_pairs(arig, plant, tmp_path):
    r = arig
    portal, owner = r.token("alice", "portal"), r.token("alice", "owner")
    sent = r.api("POST", f"/v1/vehicles/{VIN}/pairing-link/email", portal)
    assert sent.status_code == 202, sent.text
    box = mailbox.Maildir(str(r.mail_dir), factory=None, create=False)
    mails = [email.message_from_bytes(box.get_bytes(k), policy=email.policy.default) for k in box.keys()]
    assert len(mails) == 1 and mails[0]["Message-ID"] == sent.json()["messageId"], mails
    mail = mails[0]
    assert mail["To"] == "alice@owners.spaak-sim.test" and VIN in mail["Subject"]
    links = [line for line in mail.get_body(("plain",)).get_content().splitlines() if DEEP_LINK.match(line)]
    assert len(links) == 1, mail.as_string()
    link = links[0]
    token = DEEP_LINK.match(link).group(2)
    assert r.vehicle(owner)["password"]["state"] == "link-issued"
    # The app's request for the password now meets the link channel.
    clash = r.api("POST", f"/v1/vehicles/{VIN}/pairing-password", owner)
    assert clash.status_code == 409 and clash.json()["reason"] == "delivery-channel-conflict", clash.text
    # A mangled link is refused by the phone before anything is sent.
    p = phone(r, plant, tmp_path, "--token", owner, "--deep-link", link.replace("spaak://pair", "spaak://evil"))
    assert p.returncode == 2 and "not a pairing link" in p.stderr and token not in p.stderr, p.stderr
    mark, before = r.rec.mark(), len(mode_requests(r))
    p = phone(r, plant, tmp_path, "--token", owner, "--deep-link", link, "--name", "Alice's phone")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert token not in out and f"spaak://pair?vin={VIN}&token=<43 characters>" in out
    assert not [line for line in r.cloud.lines if token in line], "spaak-cloud logged the deep link's token"
    paired_through_the_api(r, mark, before, owner, "link")
    # The link was good once.
    p = phone(r, plant, tmp_path, "--token", owner, "--deep-link", link, "--key", str(tmp_path / "other.key"))
    assert p.returncode == 1 and PROBLEM.search(p.stderr).group(1, 2) == ("410", "link-not-valid"), p.stderr


def test_tbm_offline_at_the_delivery(arig, plant, tmp_path):
    """The password is delivered (the app confirmed it), but the VOS cannot reach the vehicle:
    pairingModeRequest not-sent with the reason, no 0x0E on the bus; the phone waits for the
    window up to --timeout and gives up (a driver could still open it on the HU)."""
    r = arig
    owner = r.token("alice", "owner")
    r.cloud.ok("tbm offline")
    handout = r.api("POST", f"/v1/vehicles/{VIN}/pairing-password", owner)
    assert handout.status_code == 200, handout.text
    before = len(mode_requests(r))
    done = r.api("POST", f"/v1/vehicles/{VIN}/pairing-password/confirmation", owner,
                 json={"deliveryId": handout.json()["deliveryId"]})
    assert done.status_code == 200, done.text
    delivery = done.json()
    assert delivery["channel"] == "app"
    assert delivery["pairingModeRequest"]["state"] == "not-sent", delivery
    assert "offline" in delivery["pairingModeRequest"].get("detail", "").lower(), delivery
    assert r.vehicle(owner)["password"]["state"] == "delivered"
    # Confirmed again (a lost answer): the same delivery, still not sent.
    again = r.api("POST", f"/v1/vehicles/{VIN}/pairing-password/confirmation", owner,
                  json={"deliveryId": handout.json()["deliveryId"]})
    assert again.status_code == 200 and again.json()["deliveredAt"] == delivery["deliveredAt"], again.text
    r.quiet_cycles(5)
    assert len(mode_requests(r)) == before and r.now()[7] == NO_KEY
    # The phone asks now: the password is gone (delivered), refused with the reason.
    p = phone(r, plant, tmp_path, "--token", owner, "--vin", VIN, timeout=3)
    assert p.returncode == 1 and PROBLEM.search(p.stderr).group(1, 2) == ("409", "password-already-delivered"), p.stderr


def test_phone_waits_for_the_window_and_gives_up(arig, plant, tmp_path):
    """The TBM offline before the app's request: spaak-phone gets the password, confirms it,
    says the VOS could not send 0x0E, waits --timeout for byte 7 = 1 and exits 1."""
    r = arig
    owner = r.token("alice", "owner")
    r.cloud.ok("tbm offline")
    p = phone(r, plant, tmp_path, "--token", owner, "--vin", VIN, timeout=4)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "could not send OwnerPairingModeRequest 0x0E" in p.stdout, p.stdout
    assert "the pairing window did not open within 4.0 seconds (byte 7 = 0 (no owner key))" in p.stdout, p.stdout
    assert "the pairing window did not open" in p.stderr and "tap 1:" not in p.stdout
    assert r.vehicle(owner)["password"]["state"] == "delivered"
