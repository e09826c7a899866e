"""Concurrent requests for one password deliver it once: 32 threads released together (a
barrier) against the same vehicle, each with its own connection."""
import threading

import requests

from apipeer import expect_json, parse_deep_link

THREADS = 32


def race(server, calls):
    """Runs ``calls`` (method, path, token, kwargs) at once; the responses in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, method, path, token, kwargs):
        with requests.Session() as session:
            try:
                barrier.wait(timeout=30)
                results[index] = server.request(method, path, token, session=session, **kwargs)
            except Exception as error:  # reported below, with the others
                results[index] = error

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if not isinstance(r, requests.Response)]
    assert not errors, f"{len(errors)} of {len(calls)} requests failed: {errors[:3]}"
    return results


def statuses(responses):
    counts = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


def test_racing_handouts_and_confirmations_deliver_once(server, claim):
    vehicle = claim()
    token = server.token(vehicle.user)
    path = f"/v1/vehicles/{vehicle.vin}/pairing-password"
    handouts = race(server, [("POST", path, token, {})] * THREADS)
    assert statuses(handouts) == {200: THREADS}, statuses(handouts)
    answers = {(r.json()["password"], r.json()["deliveryId"]) for r in handouts}
    assert len(answers) == 1, f"{THREADS} racing handouts gave {len(answers)} different (password, deliveryId)"
    (_, delivery_id), = answers

    confirmations = race(server, [("POST", f"{path}/confirmation", token, {"json": {"deliveryId": delivery_id}})] * THREADS)
    assert statuses(confirmations) == {200: THREADS}, statuses(confirmations)
    delivered = {(r.json()["deliveredAt"], r.json()["channel"]) for r in confirmations}
    assert len(delivered) == 1, f"racing confirmations disagree on the delivery: {delivered}"
    row = server.password_row(vehicle.serial)
    assert row["password"] is None and row["delivered_at"] is not None, row


def test_racing_redemptions_of_one_link(server, claim):
    vehicle = claim()
    token = server.token(vehicle.user)
    body = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-link", token), 201)
    link = parse_deep_link(body["deepLink"])
    redemptions = race(server, [("POST", "/v1/pairing-links/redemption", token, {"json": {"token": link["token"]}})] * THREADS)
    assert statuses(redemptions) == {200: 1, 410: THREADS - 1}, \
        f"exactly one redemption must win, the others 410: {statuses(redemptions)}"


def test_racing_channels_never_both(server, claim):
    """Handouts and link requests for one password at once: one channel wins, the other is
    refused (409); never a password handed out AND a link issued."""
    vehicle = claim()
    token = server.token(vehicle.user)
    base = f"/v1/vehicles/{vehicle.vin}"
    calls = [("POST", f"{base}/pairing-password", token, {}), ("POST", f"{base}/pairing-link", token, {})] * (THREADS // 2)
    responses = race(server, calls)
    handouts = [r.status_code for r in responses[0::2]]
    links = [r.status_code for r in responses[1::2]]
    assert set(handouts) <= {200, 409} and set(links) <= {201, 409}, (handouts, links)
    assert not (200 in handouts and 201 in links), \
        f"both channels succeeded for one password: handouts {statuses(responses[0::2])}, links {statuses(responses[1::2])}"
    for response in responses:
        if response.status_code == 409:
            assert response.json()["reason"] == "delivery-channel-conflict", response.text


def test_racing_requests_of_different_vehicles_all_succeed(server, claim):
    """Requests for different vehicles do not block each other into errors."""
    vehicles = [claim() for _ in range(4)]
    calls = [("POST", f"/v1/vehicles/{v.vin}/pairing-password", server.token(v.user), {}) for v in vehicles] * 8
    responses = race(server, calls)
    assert statuses(responses) == {200: len(calls)}, statuses(responses)
    for vehicle in vehicles:
        passwords = {r.json()["password"] for r in responses if r.json()["vin"] == vehicle.vin}
        assert len(passwords) == 1, f"{vehicle.vin}: {len(passwords)} different passwords"


def test_racing_link_creations_leave_one_valid_link(server, claim):
    """Each new link replaces the unredeemed one: after 16 links made at once, exactly one of
    their tokens redeems (200), every other is gone (410)."""
    vehicle = claim()
    token = server.token(vehicle.user)
    made = race(server, [("POST", f"/v1/vehicles/{vehicle.vin}/pairing-link", token, {})] * (THREADS // 2))
    assert statuses(made) == {201: THREADS // 2}, statuses(made)
    tokens = [parse_deep_link(r.json()["deepLink"])["token"] for r in made]
    assert len(set(tokens)) == len(tokens), "two links share a token"
    outcomes = [server.post("/v1/pairing-links/redemption", token, json={"token": t}).status_code for t in tokens]
    assert sorted(outcomes) == [200] + [410] * (len(tokens) - 1), \
        f"after racing link creations exactly one link may be valid: {outcomes}"


def test_racing_hotline_authorizations_send_one_mail(server, claim):
    vehicle = claim()
    agent = server.token("agent-race", "hotline")
    created = expect_json(server.post("/v1/hotline/requests", agent, json={"vin": vehicle.vin}), 201)
    portal = server.token(vehicle.user, "portal")
    path = f"/v1/hotline/requests/{created['id']}/authorization"
    answers = race(server, [("POST", path, portal, {})] * (THREADS // 2))
    assert statuses(answers) == {200: 1, 409: THREADS // 2 - 1}, \
        f"one authorization sends the e-mail, the others find it no longer pending: {statuses(answers)}"
    sent_to_owner = 0
    for path in list((server.mail_dir / "new").iterdir()) + list((server.mail_dir / "cur").iterdir()):
        if vehicle.vin.encode() in path.read_bytes():
            sent_to_owner += 1
    assert sent_to_owner == 1, f"{sent_to_owner} e-mails for {vehicle.vin}"
