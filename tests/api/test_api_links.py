"""OP-01a/b, the link channel: a one-time deep link ``spaak://pair?vin=…&token=…`` that carries no
password; redeemed once (200) by the owner it was made for, then 410; a new link replaces an
unredeemed one; never both channels for one password (409 delivery-channel-conflict)."""
import datetime

import pytest

from apipeer import derive_verifier, expect_json, expect_problem, parse_deep_link, parse_verifier_record, sha256


def create_link(server, vehicle, role="owner") -> dict:
    body = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link", server.token(vehicle.user, role)), 201)
    assert body["vin"] == vehicle.vin, body
    link = parse_deep_link(body["deepLink"])
    assert link["vin"] == vehicle.vin, body
    return {**body, **link}


def redeem(server, user, token, role="owner"):
    return server.post("/v1/pairing-links/redemption", server.token(user, role), json={"token": token})


def iso(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_link_redeemed_once_by_its_owner(server, claim):
    vehicle, other = claim(), claim()
    link = create_link(server, vehicle)
    now = datetime.datetime.now(datetime.timezone.utc)
    expires = iso(link["expiresAt"])
    assert datetime.timedelta(hours=23) < expires - now < datetime.timedelta(hours=25), \
        f"the link should expire 24 h after its creation: {link['expiresAt']}"
    view = expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", server.token(vehicle.user)), 200)
    assert view["password"]["state"] == "link-issued" and view["password"].get("channel") == "link", view["password"]

    rows = server.query("SELECT * FROM pairing_links WHERE vin = ?", vehicle.vin)
    assert [bytes(r["token_hash"]) for r in rows] == [sha256(link["token"])], "the database keeps SHA-256(token) only"
    assert all(link["token"] not in str(value) for r in rows for value in r.values()), "the token itself is stored"

    expect_problem(redeem(server, other.user, link["token"]), 403, "not-owner")
    redeemed = expect_json(redeem(server, vehicle.user, link["token"]), 200)
    assert redeemed["vin"] == vehicle.vin and redeemed["pairingModeRequest"]["state"] in ("sent", "not-sent"), redeemed
    password = redeemed["password"]
    assert password not in link["deepLink"], "the deep link carries the password"
    record = parse_verifier_record(server.latest_verifier(vehicle.serial))
    assert derive_verifier(password, record["salt"], record["n"], record["r"], record["p"]) == (record["w0"], record["L"]), \
        "the redeemed password does not derive the vehicle's current verifier"

    expect_problem(redeem(server, vehicle.user, link["token"]), 410, "link-not-valid")
    late = redeem(server, other.user, link["token"])  # another owner: not his link, and used anyway
    assert (late.status_code, late.json().get("reason")) in ((403, "not-owner"), (410, "link-not-valid")), late.text
    row = server.password_row(vehicle.serial)
    assert row["password"] is None and row["delivered_at"] is not None and row["channel"] == "link", row
    token = server.token(vehicle.user)
    expect_problem(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password", token), 409, "password-already-delivered")
    expect_problem(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link", token), 409, "password-already-delivered")
    view = expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", token), 200)
    assert view["password"]["state"] == "delivered", view["password"]


def test_portal_role_makes_links_too(server, claim):
    vehicle = claim()
    link = create_link(server, vehicle, role="portal")
    expect_json(redeem(server, vehicle.user, link["token"]), 200)


def test_new_link_replaces_an_unredeemed_one(server, claim):
    vehicle = claim()
    first, second = create_link(server, vehicle), create_link(server, vehicle)
    assert first["token"] != second["token"]
    expect_problem(redeem(server, vehicle.user, first["token"]), 410, "link-not-valid")
    expect_json(redeem(server, vehicle.user, second["token"]), 200)


def test_unknown_and_malformed_tokens(server, claim):
    vehicle = claim()
    expect_problem(redeem(server, vehicle.user, "A" * 43), 410, "link-not-valid")
    for bad in ("short", "A" * 44, "A" * 42 + "=", "A" * 42 + "!"):
        expect_problem(redeem(server, vehicle.user, bad), 400, "invalid-request")
    response = server.post("/v1/pairing-links/redemption", server.token(vehicle.user),
                           data=b"token=" + b"A" * 43, headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_problem(response, 415, "unsupported-media-type")


def test_expired_link(server, claim):
    """A link past its 24 h (expires_at moved into the past in the database) is gone."""
    vehicle = claim()
    link = create_link(server, vehicle)
    import sqlite3
    connection = sqlite3.connect(str(server.db), timeout=10)
    try:
        (stored,) = connection.execute("SELECT expires_at FROM pairing_links WHERE token_hash = ?",
                                       (sha256(link["token"]),)).fetchone()
        past = "2001-01-01 00:00:00.000" if isinstance(stored, str) else 978307200
        with connection:
            connection.execute("UPDATE pairing_links SET expires_at = ? WHERE token_hash = ?", (past, sha256(link["token"])))
    finally:
        connection.close()
    expect_problem(redeem(server, vehicle.user, link["token"]), 410, "link-not-valid")
    # A new link is possible: the password was not delivered.
    expect_json(redeem(server, vehicle.user, create_link(server, vehicle)["token"]), 200)


@pytest.mark.parametrize("first", ["handout", "link", "email"])
def test_channel_conflict(server, claim, first):
    vehicle = claim()
    token = server.token(vehicle.user)
    base = f"/v1/vehicles/{vehicle.vin}"
    if first == "handout":
        expect_json(server.post(f"{base}/pairing-password", token), 200)
        expect_problem(server.post(f"{base}/pairing-link", token), 409, "delivery-channel-conflict")
        expect_problem(server.post(f"{base}/pairing-link/email", token), 409, "delivery-channel-conflict")
        assert server.query("SELECT COUNT(*) AS n FROM pairing_links WHERE vin = ?", vehicle.vin)[0]["n"] == 0
    else:
        if first == "link":
            create_link(server, vehicle)
        else:
            expect_json(server.post(f"{base}/pairing-link/email", server.token(vehicle.user, "portal")), 202)
        expect_problem(server.post(f"{base}/pairing-password", token), 409, "delivery-channel-conflict")
        expect_problem(server.post(f"{base}/pairing-password/confirmation", token, json={"deliveryId": "a" * 32}), 409)
    row = server.password_row(vehicle.serial)
    assert row["delivered_at"] is None and row["password"] is not None, "a refused request delivered or lost the password"
