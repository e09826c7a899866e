"""Runs last (file name): no password, deep-link token or bearer token the session saw appears
in the server's output, its trace or its database; the e-mails carry links, never passwords.
Run alone, it makes its own secrets first (a handout + confirmation, a link + redemption)."""
import re

import pytest

from apipeer import expect_json, parse_deep_link


@pytest.fixture(scope="module")
def secrets(server):
    vehicle = server.claim()
    token = server.token(vehicle.user)
    handout = expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password", token), 200)
    expect_json(server.post(f"/v1/vehicles/{vehicle.vin}/pairing-password/confirmation", token,
                            json={"deliveryId": handout["deliveryId"]}), 200)
    other = server.claim()
    token = server.token(other.user)
    link = parse_deep_link(expect_json(server.post(f"/v1/vehicles/{other.vin}/pairing-link", token), 201)["deepLink"])
    expect_json(server.post("/v1/pairing-links/redemption", token, json={"token": link["token"]}), 200)
    passwords = {s for s in server.secrets if re.fullmatch(r"[0-9]+", s)}
    links = server.secrets - passwords
    bearer = set(server._tokens.values())
    assert passwords and links and bearer
    return passwords, links, bearer


def leaks(text: str, values) -> list:
    return sorted(v for v in values if v in text)


def test_server_output_has_no_secrets(server, secrets):
    passwords, links, bearer = secrets
    log = server.log_text()
    assert "pairing-password" in log or "/v1/" in log, "the server logs no request line at all"
    assert not leaks(log, passwords), f"{len(leaks(log, passwords))} pairing passwords in the server's output"
    assert not leaks(log, links), f"{len(leaks(log, links))} deep-link tokens in the server's output"
    assert not leaks(log, bearer), f"{len(leaks(log, bearer))} bearer tokens in the server's output"


def test_trace_has_no_secrets(server, secrets):
    passwords, links, bearer = secrets
    trace = server.trace.read_text() if server.trace.exists() else ""
    for name, values in (("passwords", passwords), ("deep-link tokens", links), ("bearer tokens", bearer)):
        assert not leaks(trace, values), f"{len(leaks(trace, values))} {name} in the trace {server.trace}"


def test_mails_have_no_passwords(server, secrets):
    passwords, _, _ = secrets
    for path in (server.mail_dir / "new").iterdir():
        text = path.read_bytes().decode("ascii", "replace")
        assert not leaks(text, passwords), f"{path.name} carries a pairing password"


def test_database_keeps_no_delivered_password_and_no_token(server, secrets):
    passwords, links, _ = secrets
    delivered = server.query("SELECT verifier_id, serial FROM passwords WHERE delivered_at IS NOT NULL AND password IS NOT NULL")
    assert not delivered, f"delivered passwords still stored: {delivered}"
    columns = [row["name"] for row in server.query("PRAGMA table_info(pairing_links)")]
    assert "token" not in columns, f"pairing_links has a token column: {columns}"
    for row in server.query("SELECT * FROM pairing_links"):
        assert isinstance(row["token_hash"], bytes) and len(row["token_hash"]) == 32, row
        assert not leaks(" ".join(str(v) for v in row.values()), links), "a deep-link token in pairing_links"


def _undelivered(server, password: str) -> bool:
    return bool(server.query("SELECT 1 FROM passwords WHERE password = ? AND delivered_at IS NULL", password))


def test_database_file_bytes_hold_no_delivered_password(server, secrets):
    """The raw file (free pages, WAL) too: a copy of the database must not give away a
    delivered password or a link token (SQLite keeps deleted bytes unless secure_delete)."""
    passwords, links, _ = secrets
    delivered = {p for p in passwords if not _undelivered(server, p)}
    raw = b""
    for suffix in ("", "-wal", "-journal"):
        path = server.db.with_name(server.db.name + suffix)
        if path.exists():
            raw += path.read_bytes()
    found = sorted(p for p in delivered if p.encode() in raw)
    assert not found, f"{len(found)} of {len(delivered)} delivered passwords are still in the database file's bytes"
    assert not [t for t in links if t.encode() in raw], "a deep-link token is in the database file's bytes"
