"""OP-01a, the app channel: the password handed out with a delivery id, the same again before
the confirmation (a lost answer), delivered only by the confirmation (idempotent), then 409
password-already-delivered; the checks' reasons (not provisioned, unknown vehicle, not the
owner, malformed requests)."""
import re

import pytest

from apipeer import derive_verifier, expect_json, expect_problem, parse_verifier_record
from apiserver import UNKNOWN_VIN


def vehicle_view(server, vehicle, role="owner"):
    return expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", server.token(vehicle.user, role)), 200)


def check_password_matches_verifier(server, vehicle, password: str) -> None:
    """The handed-out password derives (ICD 7.6) the w0 and L of the vehicle's newest verifier."""
    record = parse_verifier_record(server.latest_verifier(vehicle.serial))
    w0, point = derive_verifier(password, record["salt"], record["n"], record["r"], record["p"])
    assert (w0, point) == (record["w0"], record["L"]), \
        f"the password handed out for {vehicle.vin} does not derive its current verifier"


def test_provisioned_vehicle_view(server, claim):
    vehicle = claim()
    view = vehicle_view(server, vehicle)
    assert view["serial"] == vehicle.serial and view["vin"] == vehicle.vin and view["owner"] == vehicle.user, view
    assert view["serviceProvisioned"] is True, view
    assert view["vehicleIdentity"]["state"] == "installed" and view["verifier"]["state"] == "installed", view
    assert view["password"]["state"] == "available", view
    assert re.fullmatch(r"[0-9A-Fa-f]{32}", view["drmUUID"] or ""), view["drmUUID"]
    assert view["lastUseCase"] is None or view["lastUseCase"]["useCase"] == "PP-02", view["lastUseCase"]


def test_handout_retry_confirm_then_already_delivered(server, claim):
    vehicle = claim()
    token = server.token(vehicle.user)
    path = f"/v1/vehicles/{vehicle.vin}/pairing-password"

    first = expect_json(server.post(path, token), 200)
    assert first["vin"] == vehicle.vin, first
    assert re.fullmatch(r"[0-9]{4,32}", first["password"]), "the password is not decimal digits"
    assert re.fullmatch(r"[0-9a-f]{32}", first["deliveryId"]), first["deliveryId"]
    check_password_matches_verifier(server, vehicle, first["password"])

    view = vehicle_view(server, vehicle)
    assert view["password"]["state"] == "handed-out" and view["password"].get("channel") == "app", view["password"]
    assert first["password"] not in server.get(f"/v1/vehicles/{vehicle.vin}", token).text, "the vehicle view shows the password"

    again = expect_json(server.post(path, token), 200)
    assert (again["password"], again["deliveryId"]) == (first["password"], first["deliveryId"]), \
        "a retry before the confirmation must return the same password and delivery id"
    row = server.password_row(vehicle.serial)
    assert row["password"] is not None and row["delivered_at"] is None, "not delivered before the confirmation"

    confirmation = f"{path}/confirmation"
    expect_problem(server.post(confirmation, token, json={"deliveryId": "f" * 32}), 404, "unknown-delivery")
    delivered = expect_json(server.post(confirmation, token, json={"deliveryId": first["deliveryId"]}), 200)
    assert delivered["vin"] == vehicle.vin and delivered["channel"] == "app", delivered
    assert delivered["pairingModeRequest"]["state"] in ("sent", "not-sent"), delivered
    repeated = expect_json(server.post(confirmation, token, json={"deliveryId": first["deliveryId"]}), 200)
    assert (repeated["deliveredAt"], repeated["channel"]) == (delivered["deliveredAt"], "app"), \
        f"confirming again must answer the same: {delivered} then {repeated}"

    expect_problem(server.post(path, token), 409, "password-already-delivered")
    expect_problem(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link", token), 409, "password-already-delivered")
    row = server.password_row(vehicle.serial)
    assert row["password"] is None, "the database still holds the password after its delivery"
    assert row["delivered_at"] is not None and row["channel"] == "app", row
    view = vehicle_view(server, vehicle)
    assert view["password"]["state"] == "delivered" and view["password"].get("deliveredAt"), view["password"]


def test_confirmation_without_handout_is_unknown_delivery(server, claim):
    vehicle = claim()
    response = server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password/confirmation", server.token(vehicle.user),
                           json={"deliveryId": "0123456789abcdef0123456789abcdef"})
    expect_problem(response, 404, "unknown-delivery")
    assert vehicle_view(server, vehicle)["password"]["state"] == "available"


@pytest.mark.parametrize("kwargs, status, reason", [
    ({"data": b"{", "headers": {"Content-Type": "application/json"}}, 400, "invalid-request"),
    ({"json": {}}, 400, "invalid-request"),
    ({"json": {"deliveryId": "XYZ"}}, 400, "invalid-request"),
    ({"json": {"deliveryId": 42}}, 400, "invalid-request"),
    ({"json": {"deliveryId": "0" * 32, "extra": 1}}, 400, "invalid-request"),
    ({"json": ["0" * 32]}, 400, "invalid-request"),
    ({"data": b"deliveryId=00", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported-media-type"),
    ({"data": b'{"deliveryId":"' + b"0" * 20000 + b'"}', "headers": {"Content-Type": "application/json"}}, 400, None),
])
def test_malformed_confirmation(server, claim, kwargs, status, reason):
    vehicle = claim()
    token = server.token(vehicle.user)
    expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password", token), 200)
    response = server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password/confirmation", token, **kwargs)
    if reason is None:  # a body over the size limit: 400 or 413, a problem either way
        assert response.status_code in (400, 413), response.status_code
        expect_problem(response, response.status_code)
    else:
        expect_problem(response, status, reason)
    assert vehicle_view(server, vehicle)["password"]["state"] == "handed-out", "a malformed confirmation changed the state"


@pytest.mark.parametrize("vin", ["ZFA2500000000000I", "ZFA250000000000", "zfa25000000000001", "ZFA25000000000001X"])
def test_invalid_vin(server, vin):
    token = server.token("owner-of-nothing")
    expect_problem(server.post(f"/v1/vehicles/{vin}/pairing-password", token), 400, "invalid-request")
    expect_problem(server.get(f"/v1/vehicles/{vin}", token), 400, "invalid-request")


def test_vin_of_another_owner_or_none(server, claim):
    unowned = claim(register=False)
    token = server.token("nobody-owns-this")
    expect_problem(server.post(f"/v1/vehicles/{unowned.vin}/pairing-password", token), 403, "not-owner")
    view = expect_json(server.get(f"/v1/vehicles/{unowned.vin}", server.token("agent", "hotline")), 200)
    assert view["owner"] is None and view["vin"] == unowned.vin, "hotline sees a vehicle without owner with owner null"


def test_unknown_vehicle(server):
    reply = server.register_owner(UNKNOWN_VIN, "early-bird")
    assert UNKNOWN_VIN in reply or reply.strip(), reply
    token = server.token("early-bird")
    expect_problem(server.post(f"/v1/vehicles/{UNKNOWN_VIN}/pairing-password", token), 404, "unknown-vehicle")
    expect_problem(server.post(f"/v1/vehicles/{UNKNOWN_VIN}/pairing-link", token), 404, "unknown-vehicle")
    expect_problem(server.get(f"/v1/vehicles/{UNKNOWN_VIN}", token), 404, "unknown-vehicle")
    listed = expect_json(server.get("/v1/vehicles", token), 200)["vehicles"]
    assert UNKNOWN_VIN not in [v.get("vin") for v in listed], listed


def test_service_not_provisioned(server):
    vehicle = server.unprovisioned[0]
    server.register_owner(vehicle.vin, "no-verifier-yet")
    token = server.token("no-verifier-yet")
    for path in ("pairing-password", "pairing-link", "pairing-link/email"):
        problem = expect_problem(server.post(f"/v1/vehicles/{vehicle.vin}/{path}", token), 409, "service-not-provisioned")
        assert problem.get("detail"), f"{path}: the detail should say what is missing: {problem}"
    view = expect_json(server.get(f"/v1/vehicles/{vehicle.vin}", token), 200)
    assert view["serviceProvisioned"] is False and view["verifier"]["state"] == "none", view
    assert view["vehicleIdentity"]["state"] == "installed" and view["password"]["state"] == "none", view


def test_unknown_route_and_method(server, claim):
    vehicle = claim()
    token = server.token(vehicle.user)
    expect_problem(server.get("/v1/no-such-thing", token), 404, "not-found")
    response = server.request("DELETE", f"/v1/vehicles/{vehicle.vin}", token)
    assert response.status_code in (404, 405), response.status_code
    problem = expect_problem(response, response.status_code)
    assert problem["reason"] in ("not-found", "method-not-allowed"), problem
    if response.status_code == 405:
        assert "GET" in response.headers.get("Allow", ""), "RFC 9110 15.5.6: a 405 carries Allow"
