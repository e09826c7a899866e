"""The TBE (document: "Authorization"): bearer JWTs, ES256 under the IdP key, iss spaak-sim-idp,
aud spaak-vos, not expired, a known role. 401 with WWW-Authenticate (RFC 6750) otherwise;
403 for a role that may not call an operation or a user who does not own the vehicle."""
import os
import stat
import time

import pytest

from apipeer import claims, expect_json, expect_problem, jwt_parts, load_key, new_key, sign_jwt, verify_es256, b64url

REALM = 'realm="spaak-vos"'


def expect_unauthorized(response, reason: str, *, error_code: bool = True) -> dict:
    problem = expect_problem(response, 401, reason)
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer ") and REALM in challenge, \
        f"401 without a Bearer challenge for realm spaak-vos (RFC 6750 3): {challenge!r}"
    if error_code:
        assert 'error="invalid_token"' in challenge, f"RFC 6750 3.1: a rejected token → error=\"invalid_token\": {challenge!r}"
    else:
        assert "error=" not in challenge, f"RFC 6750 3.1: no error code when the request has no token: {challenge!r}"
    return problem


@pytest.fixture(scope="module")
def owned(server):
    return server.claim()


def test_idp_key_file_is_a_private_p256_key_readable_by_owner_only(server):
    mode = stat.S_IMODE(os.stat(server.idp_key).st_mode)
    assert mode == 0o600, f"{server.idp_key} has mode {oct(mode)}, not 0600"
    load_key(str(server.idp_key))


def test_cli_token_has_the_documented_claims(server, owned):
    token = server.token(owned.user, "owner")
    header, body = jwt_parts(token)
    assert header.get("alg") == "ES256", header
    assert body.get("iss") == "spaak-sim-idp" and body.get("aud") in ("spaak-vos", ["spaak-vos"]), body
    assert body.get("sub") == owned.user and body.get("role") == "owner", body
    assert isinstance(body.get("exp"), int) and body["exp"] > time.time(), body
    assert verify_es256(token, load_key(str(server.idp_key)).public_key()), "the CLI's token does not verify under the IdP key"


def test_token_signed_by_this_peer_is_accepted(server, owned):
    """An ES256 JWT made here (not by the project's code) with the IdP key works: the server
    follows RFC 7515/7519, not a private format."""
    token = sign_jwt(load_key(str(server.idp_key)), claims(owned.user, "owner"))
    body = expect_json(server.get(f"/v1/vehicles/{owned.vin}", token), 200)
    assert body["vin"] == owned.vin and body["owner"] == owned.user


def test_missing_token(server, owned):
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}"), "missing-token", error_code=False)


@pytest.mark.parametrize("header", ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer ", "bearer-ish abc", "Bearer a.b"])
def test_garbled_authorization_header(server, owned, header):
    response = server.get(f"/v1/vehicles/{owned.vin}", headers={"Authorization": header})
    problem = expect_problem(response, 401)
    assert problem["reason"] in ("missing-token", "invalid-token"), f"{header!r}: {problem}"
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer "), response.headers


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_auth_scheme_is_case_insensitive(server, owned, scheme):
    """RFC 9110 11.1: the authentication scheme is case-insensitive."""
    response = server.get(f"/v1/vehicles/{owned.vin}", headers={"Authorization": f"{scheme} {server.token(owned.user)}"})
    assert expect_json(response, 200)["vin"] == owned.vin


def test_expired_token(server, owned):
    token = sign_jwt(load_key(str(server.idp_key)), claims(owned.user, "owner", now=int(time.time()) - 7200, ttl=3600))
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "expired-token")


def test_cli_token_with_negative_ttl_is_expired(server, owned):
    """``spaak-cloud token --ttl`` 0 or less makes an already expired token (for tests)."""
    import subprocess
    result = subprocess.run([server.cloud, "token", "--idp-key", str(server.idp_key), "--user", owned.user,
                             "--role", "owner", "--ttl=-60"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", result.stdout.strip()), "expired-token")


def test_wrong_signature_another_key(server, owned):
    token = sign_jwt(new_key(), claims(owned.user, "owner"))
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "invalid-token")


def test_tampered_claims_keep_the_old_signature(server, owned):
    other = server.claim()
    good = sign_jwt(load_key(str(server.idp_key)), claims(owned.user, "owner"))
    head, _, signature = good.split(".")
    forged = head + "." + b64url(__import__("json").dumps(claims(other.user, "owner")).encode()) + "." + signature
    expect_unauthorized(server.get(f"/v1/vehicles/{other.vin}", forged), "invalid-token")


def test_wrong_audience(server, owned):
    token = sign_jwt(load_key(str(server.idp_key)), claims(owned.user, "owner", aud="another-service"))
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "wrong-audience")


def test_cli_token_for_another_audience(server, owned):
    token = server.token(owned.user, "owner", "--audience", "another-service")
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "wrong-audience")


def test_wrong_issuer(server, owned):
    token = sign_jwt(load_key(str(server.idp_key)), claims(owned.user, "owner", iss="https://idp.example.test"))
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "invalid-token")


def test_alg_none(server, owned):
    token = sign_jwt(None, claims(owned.user, "owner"))
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "invalid-token")


def test_hs256_with_the_public_key_as_secret(server, owned):
    """The classic algorithm confusion: HMAC over the token with the public key's bytes."""
    import hashlib
    import hmac
    import json
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    public = load_key(str(server.idp_key)).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        b64url(json.dumps(claims(owned.user, "owner")).encode())
    token = signing_input + "." + b64url(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", token), "invalid-token")


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "..", "eyJhbGciOiJFUzI1NiJ9.e30.", "x" * 5000])
def test_garbage_token(server, owned, garbage):
    expect_unauthorized(server.get(f"/v1/vehicles/{owned.vin}", garbage), "invalid-token")


@pytest.mark.parametrize("change", [{"role": "admin"}, {"role": None}, {"exp": None}, {"sub": None}])
def test_token_without_required_claims(server, owned, change):
    body = {k: v for k, v in {**claims(owned.user, "owner"), **change}.items() if v is not None}
    token = sign_jwt(load_key(str(server.idp_key)), body)
    response = server.get(f"/v1/vehicles/{owned.vin}", token)
    expect_unauthorized(response, "invalid-token")


def test_health_and_document_need_no_token(server):
    assert expect_json(server.get("/health"), 200) == {"status": "ok"}
    response = server.get("/openapi.yaml")
    assert response.status_code == 200 and "openapi: 3.0.3" in response.text, response.status_code


# --- 403 ------------------------------------------------------------------------------------

def test_another_users_vehicle_is_forbidden(server):
    alice, bob = server.claim("alice"), server.claim("bob")
    token = server.token("alice", "owner")
    expect_json(server.get(f"/v1/vehicles/{alice.vin}", token), 200)
    for method, path in [("GET", f"/v1/vehicles/{bob.vin}"), ("POST", f"/v1/vehicles/{bob.vin}/pairing-password"),
                         ("POST", f"/v1/vehicles/{bob.vin}/pairing-link"),
                         ("POST", f"/v1/vehicles/{bob.vin}/pairing-link/email")]:
        expect_problem(server.request(method, path, token), 403, "not-owner")
    expect_problem(server.post(f"/v1/vehicles/{bob.vin}/pairing-password/confirmation", token,
                               json={"deliveryId": "0" * 32}), 403, "not-owner")
    assert [v["vin"] for v in expect_json(server.get("/v1/vehicles", token), 200)["vehicles"]] == [alice.vin]
    # Bob's password is untouched by Alice's attempts.
    state = expect_json(server.get(f"/v1/vehicles/{bob.vin}", server.token("bob")), 200)["password"]["state"]
    assert state == "available", state


@pytest.mark.parametrize("role, method, path", [
    ("hotline", "POST", "/v1/vehicles/{vin}/pairing-password"),
    ("portal", "POST", "/v1/vehicles/{vin}/pairing-password"),
    ("hotline", "POST", "/v1/vehicles/{vin}/pairing-link"),
    ("owner", "GET", "/v1/fleet"),
    ("portal", "GET", "/v1/fleet"),
    ("hotline", "GET", "/v1/vehicles"),
])
def test_role_not_allowed(server, owned, role, method, path):
    token = server.token(owned.user, role)
    expect_problem(server.request(method, path.format(vin=owned.vin), token), 403, "role-not-allowed")


def test_role_not_allowed_to_redeem_or_take_hotline_requests(server, owned):
    problem = expect_problem(server.post("/v1/pairing-links/redemption", server.token(owned.user, "hotline"),
                                         json={"token": "A" * 43}), 403)
    assert problem["reason"] in ("role-not-allowed", "not-owner"), problem
    expect_problem(server.post("/v1/hotline/requests", server.token(owned.user, "owner"),
                               json={"vin": owned.vin}), 403, "role-not-allowed")


def test_hotline_sees_any_vehicle_and_the_fleet(server, owned):
    token = server.token("agent-smith", "hotline")
    assert expect_json(server.get(f"/v1/vehicles/{owned.vin}", token), 200)["vin"] == owned.vin
    fleet = expect_json(server.get("/v1/fleet", token), 200)
    assert fleet["count"] == len(fleet["vehicles"]) and owned.serial in {v["serial"] for v in fleet["vehicles"]}
