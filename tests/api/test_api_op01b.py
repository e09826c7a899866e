"""OP-01b: the deep link by e-mail (portal, owner), the hotline request → the owner's
authorization → the e-mail, and a mail failure (503, nothing left behind). The Maildir is
read with Python's ``mailbox`` and ``email`` (policy=default), as a mail server would."""
import contextlib
import datetime
import email
import email.policy
import email.utils
import mailbox
import os
import re
import shutil

import pytest

from apipeer import expect_json, expect_problem, parse_deep_link

LINK = re.compile(r"spaak://pair\?[^\s<>\"]+")


def mails(server) -> dict:
    """Message-ID → (message, raw bytes) of every e-mail in the outbox's ``new``/``cur``."""
    box = mailbox.Maildir(str(server.mail_dir), factory=None, create=False)
    out = {}
    for key in box.keys():
        raw = box.get_bytes(key)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        out[message["Message-ID"]] = (message, raw)
    return out


def find_mail(server, message_id: str):
    found = mails(server)
    wanted = message_id if message_id.startswith("<") else f"<{message_id}>"
    assert wanted in found, f"no e-mail with Message-ID {wanted} in {server.mail_dir}: {sorted(found)}"
    return found[wanted]


def check_mail(message, raw: bytes, vehicle) -> dict:
    """RFC 5322 + MIME as the design promises; returns the deep link in the body."""
    assert b"\n" not in raw.replace(b"\r\n", b""), "a line ends with a bare LF (RFC 5322 2.1: CRLF)"
    assert b"\r" not in raw.replace(b"\r\n", b""), "a bare CR"
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998, f"a line of {len(line)} characters (RFC 5322 2.1.1: at most 998)"
    assert "Vehicle OEM Server" in message["From"] and message["From"].addresses[0].addr_spec.endswith(".test"), message["From"]
    assert [a.addr_spec for a in message["To"].addresses] == [vehicle.email], message["To"]
    date = email.utils.parsedate_to_datetime(message["Date"])
    assert abs(datetime.datetime.now(datetime.timezone.utc) - date) < datetime.timedelta(minutes=10), message["Date"]
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", message["Message-ID"]), message["Message-ID"]
    assert vehicle.vin in message["Subject"], message["Subject"]
    assert message["MIME-Version"] == "1.0" and message.get_content_type() == "text/plain", message.get_content_type()
    body = message.get_content()
    links = LINK.findall(body)
    assert len(set(links)) == 1, f"the body should carry one deep link: {links}"
    assert any(line.strip() == links[0] for line in body.splitlines()), "the deep link is not on its own line"
    link = parse_deep_link(links[0])
    assert link["vin"] == vehicle.vin
    return link


def test_email_link_portal(server, claim):
    vehicle = claim(email="erin.owner@example.test")
    before = set(mails(server))
    sent = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link/email", server.token(vehicle.user, "portal")), 202)
    assert sent["vin"] == vehicle.vin, sent
    assert sent["sentTo"] != vehicle.email and sent["sentTo"].endswith("@example.test") and "*" in sent["sentTo"], \
        f"sentTo should be the owner's address partly masked: {sent['sentTo']}"
    message, raw = find_mail(server, sent["messageId"])
    assert len(set(mails(server)) - before) == 1, "one request, one e-mail"
    assert os.listdir(server.mail_dir / "tmp") == [], "a delivered e-mail stays in Maildir tmp/"
    link = check_mail(message, raw, vehicle)
    view = expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", server.token(vehicle.user, "portal")), 200)
    assert view["password"]["state"] == "link-issued", view["password"]

    redeemed = expect_json(server.post("/v1/pairing-links/redemption", server.token(vehicle.user),
                                       json={"token": link["token"]}), 200)
    assert redeemed["password"].encode() not in raw, "the e-mail carries the password"


def test_email_link_owner_role(server, claim):
    vehicle = claim()
    sent = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link/email", server.token(vehicle.user)), 202)
    check_mail(*find_mail(server, sent["messageId"]), vehicle)


def test_hotline_request_authorized_by_the_owner(server, claim):
    vehicle, stranger = claim(), claim()
    agent = server.token("agent-jones", "hotline")
    created = expect_json(server.post("/v1/hotline/requests", agent, json={"vin": vehicle.vin}), 201)
    assert re.fullmatch(r"[0-9a-f]{32}", created["id"]) and created["vin"] == vehicle.vin, created
    assert created["agent"] == "agent-jones" and created["state"] == "awaiting-authorization", created
    path = f"/v1/hotline/requests/{created['id']}"
    assert expect_json(server.get(path, agent), 200)["state"] == "awaiting-authorization"
    assert expect_json(server.get(path, server.token(vehicle.user, "portal")), 200)["id"] == created["id"]
    expect_problem(server.get(path, server.token(stranger.user)), 403, "not-owner")
    expect_problem(server.post(f"{path}/authorization", server.token(stranger.user, "portal")), 403, "not-owner")
    expect_problem(server.post(f"{path}/authorization", agent), 403, "role-not-allowed")
    view = expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", agent), 200)
    assert view["password"]["state"] == "available", "nothing may be sent before the owner authorizes"

    authorized = expect_json(server.post(f"{path}/authorization", server.token(vehicle.user, "portal")), 200)
    assert authorized["state"] == "sent" and authorized.get("authorizedAt") and authorized.get("messageId"), authorized
    check_mail(*find_mail(server, authorized["messageId"]), vehicle)
    expect_problem(server.post(f"{path}/authorization", server.token(vehicle.user, "portal")), 409, "request-not-pending")
    assert expect_json(server.get(path, agent), 200)["state"] == "sent"


def test_hotline_request_refusals(server, claim):
    agent = server.token("agent-brown", "hotline")
    unowned = claim(register=False)
    expect_problem(server.post("/v1/hotline/requests", agent, json={"vin": unowned.vin}), 404, "unknown-vehicle")
    not_provisioned = server.unprovisioned[1]
    server.register_owner(not_provisioned.vin, "waiting-owner")
    expect_problem(server.post("/v1/hotline/requests", agent, json={"vin": not_provisioned.vin}), 409,
                   "service-not-provisioned")
    expect_problem(server.post("/v1/hotline/requests", agent, json={"vin": "NOT-A-VIN"}), 400, "invalid-request")
    expect_problem(server.post("/v1/hotline/requests", agent, json={"vin": unowned.vin, "note": "x"}), 400, "invalid-request")
    expect_problem(server.get("/v1/hotline/requests/" + "0" * 32, agent), 404, "unknown-request")
    expect_problem(server.get("/v1/hotline/requests/not-an-id", agent), 400, "invalid-request")


@contextlib.contextmanager
def broken_outbox(server):
    """The Maildir's tmp/ replaced by a plain file: no e-mail can be written (as root too)."""
    tmp = server.mail_dir / "tmp"
    aside = server.mail_dir.with_name(server.mail_dir.name + ".tmp-aside")
    if tmp.exists():
        shutil.move(str(tmp), str(aside))
    tmp.write_text("not a directory\n")
    try:
        yield
    finally:
        tmp.unlink()
        if aside.exists():
            shutil.move(str(aside), str(tmp))


def test_mail_failure_leaves_no_link(server, claim):
    vehicle = claim()
    portal = server.token(vehicle.user, "portal")
    before = set(mails(server))
    with broken_outbox(server):
        response = server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link/email", portal)
        expect_problem(response, 503, "mail-delivery-failed")
    assert set(mails(server)) == before
    assert server.query("SELECT COUNT(*) AS n FROM pairing_links WHERE vin = ?", vehicle.vin)[0]["n"] == 0, \
        "a link is left in the database after the mail failure"
    view = expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", portal), 200)
    assert view["password"]["state"] == "available", view["password"]
    sent = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link/email", portal), 202)
    check_mail(*find_mail(server, sent["messageId"]), vehicle)


def test_mail_failure_on_hotline_authorization(server, claim):
    vehicle = claim()
    agent = server.token("agent-white", "hotline")
    created = expect_json(server.post("/v1/hotline/requests", agent, json={"vin": vehicle.vin}), 201)
    path = f"/v1/hotline/requests/{created['id']}"
    with broken_outbox(server):
        expect_problem(server.post(f"{path}/authorization", server.token(vehicle.user, "portal")), 503,
                       "mail-delivery-failed")
    failed = expect_json(server.get(path, agent), 200)
    assert failed["state"] == "failed" and failed.get("failure"), f"the request should show the failure: {failed}"
    assert server.query("SELECT COUNT(*) AS n FROM pairing_links WHERE vin = ?", vehicle.vin)[0]["n"] == 0
    expect_problem(server.post(f"{path}/authorization", server.token(vehicle.user, "portal")), 409, "request-not-pending")


@pytest.mark.parametrize("role", ["hotline"])
def test_email_route_refuses_hotline(server, claim, role):
    vehicle = claim()
    expect_problem(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link/email", server.token("agent", role)), 403,
                   "role-not-allowed")
