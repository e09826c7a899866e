"""Owner change (``spaak-cloud ctl … register-owner VIN USER`` binding a VIN that had another
user): nothing the previous owner was given reaches the new one or stays usable. A password
handed to the previous owner's app and not confirmed is withdrawn (409 service-not-provisioned
until a new verifier; the previous owner's confirmation 403); the previous owner's deep links are
revoked (403 not-owner saying the vehicle changed owner) and a link-issued password is available
again; hotline requests awaiting authorization fail.

The users are suffixed ``.oc`` so that no other test's user gets a vehicle from here."""
from apipeer import derive_verifier, expect_json, expect_problem, parse_deep_link, parse_verifier_record


def vehicle_view(server, vin: str, user: str) -> dict:
    return expect_json(server.get(f"/v1/vehicles/{vin}", server.token(user)), 200)


def test_handed_out_password_is_withdrawn(server, claim):
    vehicle = claim("carol.oc")
    carol, dave = server.token("carol.oc"), server.token("dave.oc")
    path = f"/v1/vehicles/{vehicle.vin}/pairing-password"
    handout = expect_json(server.post(path, carol), 200)

    reply = server.register_owner(vehicle.vin, "dave.oc")
    assert "(replacing carol.oc)" in reply and "previous owner carol.oc: handed-out password withdrawn" in reply, reply
    row = server.password_row(vehicle.serial)
    assert row["password"] is None and row["end_reason"] == "withdrawn" and row["ended_at"] is not None, \
        {k: v for k, v in row.items() if k != "password"}
    assert row["delivered_at"] is None, "a withdrawn password is not delivered"

    # The new owner: neither the password nor a link nor an e-mail; the detail says why and what helps.
    for route in (path, f"/v1/vehicles/{vehicle.vin}/pairing-link", f"/v1/vehicles/{vehicle.vin}/pairing-link/email"):
        response = server.post(route, dave)
        problem = expect_problem(response, 409, "service-not-provisioned")
        detail = problem.get("detail", "")
        assert "withdrawn when the vehicle changed owner" in detail, detail
        assert f"push-verifier {vehicle.serial}" in detail and "PP-03" in detail, detail
        assert handout["password"] not in response.text, "the withdrawn password is in the refusal"
    # The previous owner's confirmation: not the owner any more; nothing was delivered.
    expect_problem(server.post(f"{path}/confirmation", carol, json={"deliveryId": handout["deliveryId"]}), 403, "not-owner")
    assert server.password_row(vehicle.serial)["delivered_at"] is None
    view = vehicle_view(server, vehicle.vin, "dave.oc")
    assert view["owner"] == "dave.oc" and view["password"]["state"] == "withdrawn", view["password"]
    assert view["serviceProvisioned"] is False, view
    vehicle.user = "dave.oc"


def test_link_issued_password_is_available_again(server, claim):
    vehicle = claim("alice.oc")
    alice, bob = server.token("alice.oc"), server.token("bob.oc")
    created = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link", alice), 201)
    token = parse_deep_link(created["deepLink"])["token"]

    reply = server.register_owner(vehicle.vin, "bob.oc")
    assert "previous owner alice.oc: 1 link revoked; link-issued password available again" in reply, reply
    links = server.query("SELECT replaced_at, redeemed_at FROM pairing_links WHERE vin = ?", vehicle.vin)
    assert len(links) == 1 and links[0]["replaced_at"] is not None and links[0]["redeemed_at"] is None, links

    # The previous owner is told the vehicle is no longer theirs (not "the link was not made for" them).
    problem = expect_problem(server.post("/v1/pairing-links/redemption", alice, json={"token": token}), 403, "not-owner")
    assert problem["detail"] == (f"alice.oc no longer owns {vehicle.vin}: "
                                 "the vehicle changed owner after the pairing link was made for alice.oc"), problem
    # The new owner cannot use the previous owner's link either (made for someone else, not named).
    problem = expect_problem(server.post("/v1/pairing-links/redemption", bob, json={"token": token}), 403, "not-owner")
    assert problem["detail"] == f"the pairing link was made for a previous owner of {vehicle.vin}, not for bob.oc", problem
    assert "alice" not in problem["detail"]

    view = vehicle_view(server, vehicle.vin, "bob.oc")
    assert view["password"]["state"] == "available" and view["password"].get("channel") is None, view["password"]
    # Either channel: the app channel here; the password is the current verifier's.
    handout = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password", bob), 200)
    record = parse_verifier_record(server.latest_verifier(vehicle.serial))
    assert derive_verifier(handout["password"], record["salt"], record["n"], record["r"], record["p"]) == \
        (record["w0"], record["L"]), "the password handed to the new owner does not derive the current verifier"
    delivered = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password/confirmation", bob,
                                        json={"deliveryId": handout["deliveryId"]}), 200)
    assert delivered["channel"] == "app", delivered
    vehicle.user = "bob.oc"


def test_waiting_hotline_request_fails(server, claim):
    vehicle = claim("erin.oc")
    agent = server.token("agent.oc", "hotline")
    request = expect_json(server.post("/v1/hotline/requests", agent, json={"vin": vehicle.vin}), 201)
    assert request["state"] == "awaiting-authorization", request

    reply = server.register_owner(vehicle.vin, "frank.oc")
    assert "previous owner erin.oc: 1 hotline request failed" in reply, reply
    failed = expect_json(server.get(f"/v1/hotline/requests/{request['id']}", agent), 200)
    assert failed["state"] == "failed" and failed["failure"] == "the vehicle changed owner", failed
    expect_problem(server.post(f"/v1/hotline/requests/{request['id']}/authorization", server.token("frank.oc")),
                   409, "request-not-pending")
    expect_problem(server.post(f"/v1/hotline/requests/{request['id']}/authorization", server.token("erin.oc")),
                   403, "not-owner")
    assert vehicle_view(server, vehicle.vin, "frank.oc")["password"]["state"] == "available"
    vehicle.user = "frank.oc"
