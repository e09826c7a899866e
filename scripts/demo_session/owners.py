"""The owners' part of the demo's story (issue 10): the VOS's owner services over HTTP.

- The owners are bound to their vehicles at the VOS (``spaak-cloud ctl register-owner``).
- OP-01a (the app), vehicles 1, 3, 5: the owner's token from the identity provider;
  ``spaak-phone pair --api … --vin``: POST …/pairing-password, POST …/confirmation; the VOS
  sends OwnerPairingModeRequest 0x0E, the module opens its pairing window (no HU_Request),
  the phone waits for SPAAK_Status byte 7 = 1 and pairs.
- OP-01b (the customer portal), vehicles 2, 4, 6: a portal token; POST …/pairing-link/email;
  the e-mail read from the VOS's Maildir; its deep link to ``spaak-phone pair --api …
  --deep-link``: POST /v1/pairing-links/redemption, 0x0E, the pairing.
- The fleet view (GET /v1/fleet, a hotline token) of every vehicle's VOS as a table.

The HTTP calls are drawn in the sequence diagram on the lane "App / portal (HTTP)" (A): the
demo's own calls when it makes them, the phone's from its output lines.
"""
from __future__ import annotations

import os
import re
import time

from . import diagram
from .owner_api import Problem, call, fleet_table, read_link, redact, token
from .procs import DemoError
from .vehicle import read_d124

#: The owner of vehicle k (the identity provider's user names).
OWNERS = ("alice", "bob", "carol", "dave", "erin", "frank")
#: The help-centre agent whose token reads the fleet view.
AGENT = "hana"


def owner_of(m) -> str:
    return OWNERS[m.number - 1]


def by_app(m) -> bool:
    """Vehicles 1, 3, 5 take the app's path (OP-01a), 2, 4, 6 the portal's (OP-01b)."""
    return m.number % 2 == 1


#: The phone's lines about the API (PairCommand+API.swift) and the arrows they stand for.
PHONE_API_LINES = (
    ("OP-01a: asking the VOS", "A", "V", "POST /v1/vehicles/{vin}/pairing-password (owner token)", "msg"),
    ("redeeming the deep link", "A", "V", "POST /v1/pairing-links/redemption (the link's token)", "msg"),
)


#: A refusal as spaak-phone prints it: ``<status> <reason>: <detail>``.
PROBLEM_LINE = re.compile(r"^\d{3} [a-z-]+: ")


class OwnerPhases:
    """The phases of the owner services; mixed into ``story.Story``."""

    def token(self, user: str, role: str) -> str:
        return token(self.bins["spaak-cloud"], self.idp_key, user, role, self.left(30))

    def api_arrow(self, m, src: str, dst: str, label: str, kind: str = "msg", t: float = None) -> None:
        t = time.monotonic() if t is None else t
        self.actions.append(diagram.Arrow(t, src, dst, label, m.number, self.phase_of(t), kind))

    def phone_api_line(self, m, text: str) -> None:
        """Arrows for a line of ``spaak-phone pair --api`` (called as the line arrives)."""
        text = text.removeprefix("spaak-phone: ")
        for prefix, src, dst, label, kind in PHONE_API_LINES:
            if text.startswith(prefix):
                self.api_arrow(m, src, dst, label, kind)
        if text.startswith("password received") and "delivery id" in text:
            self.api_arrow(m, "V", "A", "200: the password + a delivery id", "reply")
            self.api_arrow(m, "A", "V", "POST .../pairing-password/confirmation (delivery id)", t=time.monotonic() + 0.001)
        elif text.startswith("password received"):
            self.api_arrow(m, "V", "A", "200: the password, delivered, "
                           + ("0x0E sent" if "sent OwnerPairingModeRequest" in text else "0x0E NOT sent"), "reply")
        elif text.startswith("delivered at"):
            self.api_arrow(m, "V", "A", "200: delivered, " + ("0x0E sent" if "sent OwnerPairingModeRequest" in text
                                                              else "0x0E NOT sent"), "reply")
        elif PROBLEM_LINE.match(text):  # "403 not-owner: ...": the VOS refused
            self.api_arrow(m, "V", "A", text.split(":")[0], "bad")

    def register_owners(self) -> None:
        self.phase("The owners are bound to their vehicles at the VOS (spaak-cloud ctl register-owner VIN USER)")
        for cloud in self.clouds:
            m = cloud.module
            reply = cloud.ctl("register-owner", m.vin, owner_of(m), timeout=self.left(30))
            self.api_arrow(m, "V", "V", "operator: register-owner VIN user (the owner's account)", "note")
            if reply.startswith("error") or owner_of(m) not in reply:
                raise DemoError(f"{m.serial}: spaak-cloud ctl register-owner {m.vin} {owner_of(m)} refused: {reply}")

    def app_pairing(self, m) -> None:
        """OP-01a for ``m``: the phone gets the password through the API and pairs."""
        cloud, user = self.cloud_of(m), owner_of(m)
        owner_token = self.token(user, "owner")
        before = self.bus.status(m.iface, m.status_id)
        window = ("open (byte 7 = 1, from the HU earlier): the VOS's 0x0E will restart it" if before and before.owner == 1
                  else f"closed (byte 7 = {before.owner if before else '?'}): the VOS's 0x0E will open it, no HU button")
        self.say(f"{m.serial}: {user} signs in to the app (spaak-cloud token --user {user} --role owner); "
                 f"the pairing window is {window}")
        start, t = len(cloud.proc.lines), time.monotonic()
        name = f"Owner {m.number}'s phone"
        status = self.phone(m, "owner", ["--api", cloud.url, "--token", owner_token, "--vin", m.vin, "--name", name],
                            f"phone-{m.number}.key", False, on_line=lambda text: self.phone_api_line(m, text))
        self.paired(m, cloud, status, start, t, name)

    def email_pairing(self, m) -> None:
        """OP-01b for ``m``: the portal has the link e-mailed; the phone redeems it and pairs."""
        cloud, user = self.cloud_of(m), owner_of(m)
        portal = self.token(user, "portal")
        path = f"/v1/vehicles/{m.vin}/pairing-link/email"
        self.say(f"{m.serial}: {user} signs in to the customer portal (spaak-cloud token --user {user} --role portal) "
                 f"and asks for the pairing link by e-mail: POST {cloud.url}{path}")
        t0 = time.monotonic()
        try:
            status, sent = call(cloud.url, "POST", path, portal, timeout=self.left(30))
        except Problem as problem:
            self.api_arrow(m, "A", "V", "POST /v1/vehicles/{vin}/pairing-link/email (portal token)", t=t0)
            self.api_arrow(m, "V", "A", f"{problem.status} {problem.body.get('reason', '')}", "bad")
            raise
        self.api_arrow(m, "A", "V", "POST /v1/vehicles/{vin}/pairing-link/email (portal token)", t=t0)
        self.api_arrow(m, "V", "A", f"{status}: the e-mail is in the outbox", "reply")
        if status != 202:
            raise DemoError(f"{m.serial}: POST {path} answered {status}, 202 expected: {sent}")
        self.say(f"{m.serial}: {status}: e-mail {sent['messageId']} to {sent['sentTo']}, link valid until {sent['expiresAt']}")
        message, link = read_link(cloud.mail_dir, sent["messageId"])
        self.api_arrow(m, "V", "A", "e-mail to the owner (Maildir): spaak://pair?vin=...&token=...")
        self.say(f"{m.serial}: the e-mail in the VOS's outbox {os.path.relpath(cloud.mail_dir, self.run_dir)}/new/: "
                 f"\"{message['Subject']}\"; its deep link {redact(link)}")
        start, t = len(cloud.proc.lines), time.monotonic()
        owner_token = self.token(user, "owner")
        name = f"Owner {m.number}'s phone"
        status = self.phone(m, "owner", ["--api", cloud.url, "--token", owner_token, "--deep-link", link, "--name", name],
                            f"phone-{m.number}.key", False, on_line=lambda text: self.phone_api_line(m, text))
        self.paired(m, cloud, status, start, t, name)

    def cloud_of(self, m):
        return next(cloud for cloud in self.clouds if cloud.module is m)

    def paired(self, m, cloud, status: int, start: int, t: float, name: str) -> None:
        """The owner's phone (exit ``status``) paired through the API: the VOS sent 0x0E and the
        module answered it (0x0D); byte 7 went 1 (window), 2 (pending), 3 (active); 0x0D state 3
        accepted and acknowledged; D124 and ``ctl status`` show the owner key."""
        if status != 0:
            raise DemoError(f"{m.serial}: the owner's phone did not pair (exit status {status}); see "
                            f"{os.path.relpath(self.logs)}/spaak-phone-{m.number}-owner.log and spaak-ecu-{m.number}.log")
        line = cloud.wait_line(lambda text: " 0x0E " in text and (" delivered " in text or " dropped " in text),
                               self.left(30), f"{m.serial}: OwnerPairingModeRequest 0x0E on the bus", start)
        if " delivered " not in line:
            raise DemoError(f"{m.serial}: the VOS's OwnerPairingModeRequest did not reach the module: {line}")
        self.bus.wait_status(m.iface, m.status_id, lambda s: s.owner == 3, self.left(30),
                             f"{m.serial}: owner key active (SPAAK_Status byte 7 = 3)", t)
        states = [s.owner for s in self.bus.seen(m.number, t)]  # 3 is seen, so is everything before it
        if 2 not in states:
            raise DemoError(f"{m.serial}: SPAAK_Status byte 7 went {states}: no owner key pending (2) before active")
        line = cloud.wait_line(lambda text: " accepted 0x0D " in text and "state 3" in text, self.left(),
                               f"{m.serial}: OwnerPairingStatus state 3", start)
        cloud.wait_line(lambda text: " delivered 0x06 " in text, self.left(),
                        f"{m.serial}: the VOS's acknowledgement (0x06) of OwnerPairingStatus",
                        cloud.proc.lines.index(line, start))
        m.paired = read_d124(m, self.plant_key)
        self.console.line(m.tag, f"D124: {m.paired.describe()}")
        if m.paired.state != 3 or m.paired.name != name or not m.paired.key_id:
            raise DemoError(f"{m.serial}: D124 after pairing: {m.paired.describe()}, expected state 3 and \"{name}\"")
        self.check_cloud_pairing(cloud, "pairing=3 ", f"activeKey={m.paired.key_id}")
        self.check_vehicle_view(m, cloud)

    def check_vehicle_view(self, m, cloud) -> None:
        """GET /v1/vehicles/{vin} as the owner: the password ended by the pairing, the owner key active."""
        owner_token = self.token(owner_of(m), "owner")
        t0 = time.monotonic()
        status, view = call(cloud.url, "GET", f"/v1/vehicles/{m.vin}", owner_token, timeout=self.left(30))
        self.api_arrow(m, "A", "V", "GET /v1/vehicles/{vin} (owner token)", t=t0)
        self.api_arrow(m, "V", "A", f"{status}: password {view['password']['state']}, owner key "
                       + view["ownerPairing"]["state"].replace("owner-key-", ""), "reply")
        self.say(f"{m.serial}: GET /v1/vehicles/{m.vin}: password {view['password']['state']} "
                 f"(channel {view['password'].get('channel')}), owner pairing {view['ownerPairing']['state']}")
        if view["ownerPairing"]["state"] != "owner-key-active" or view["password"]["state"] != "paired":
            raise DemoError(f"{m.serial}: the VOS's view after pairing: {view['ownerPairing']} {view['password']}")

    def fleet_view(self) -> list:
        """GET /v1/fleet of every vehicle's VOS with an agent's token; the table printed."""
        agent = self.token(AGENT, "hotline")
        vehicles = []
        for cloud in self.clouds:
            t0 = time.monotonic()
            status, fleet = call(cloud.url, "GET", "/v1/fleet", agent, timeout=self.left(30))
            self.api_arrow(cloud.module, "A", "V", "GET /v1/fleet (hotline token)", t=t0)
            self.api_arrow(cloud.module, "V", "A", f"{status}: every vehicle's state", "reply")
            if status != 200 or fleet.get("count") != len(fleet.get("vehicles", [])):
                raise DemoError(f"{cloud.module.serial}: GET /v1/fleet answered {status}: {fleet}")
            vehicles += fleet["vehicles"]
        self.console.raw(f"\nFleet view of the VOS (GET /v1/fleet as help-centre agent {AGENT}, one VOS per vehicle):")
        self.console.raw(fleet_table(vehicles))
        return vehicles
