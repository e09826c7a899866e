"""The server under test for tests/api (imported by conftest.py and the tests).

Once per session: ``spaak-soak vos-fixture`` makes a VOS database with provisioned vehicles
(the last ``UNPROVISIONED`` of them without a verifier), then ``spaak-cloud serve --no-bus
--http 127.0.0.1:0`` runs on it with its own control socket, IdP key, Maildir outbox and
trace. Tests claim vehicles of their own (``claim``) so that no test sees another's state;
owners are bound with ``spaak-cloud ctl … register-owner`` and tokens come from
``spaak-cloud token`` (the bad ones are signed by tests/api/apipeer.py).

Binaries: $SPAAK_BIN_DIR, else .build/release, else .build/debug (scripts/spaaklib).
"""
from __future__ import annotations

import itertools
import re
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from spaaklib.process import Child, binary_candidates, find_binary  # noqa: E402

#: Vehicles in the fixture; the last UNPROVISIONED get PP-01 but no verifier.
VEHICLES = 72
UNPROVISIONED = 3
SCRYPT_N = 1024
#: A VIN the VOS never heard of (valid ISO 3779 syntax).
UNKNOWN_VIN = "WVWZZZ1JZXW000001"


class ServerError(AssertionError):
    pass


class ServerChild(Child):
    error = ServerError
    tail = 60


def binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        pytest.fail(f"{name} is not built (looked in {', '.join(map(str, binary_candidates(name)))}); "
                    "build first: swift build (or scripts/test)", pytrace=False)
    return path


@dataclass
class Vehicle:
    serial: str
    vin: str
    user: Optional[str] = None
    email: Optional[str] = None


class VOSServer:
    """The running ``spaak-cloud serve`` and what the tests need around it."""

    def __init__(self, base: Path, fixture: Path, vehicles: list, unprovisioned: int = UNPROVISIONED):
        self.base, self.fixture = base, fixture
        self.cloud = binary("spaak-cloud")
        self.db = fixture / "vos.sqlite"
        self.pki = fixture / "pki"
        self.control = base / "ctl.sock"
        self.idp_key = base / "idp.pem"
        self.mail_dir = base / "mail"
        self.trace = base / "trace.jsonl"
        self.log_path = base / "server.log"
        provisioned = len(vehicles) - unprovisioned
        self._free = [Vehicle(v["serial"], v["vin"]) for v in vehicles[:provisioned]]
        self.unprovisioned = [Vehicle(v["serial"], v["vin"]) for v in vehicles[provisioned:]]
        self._lock = threading.Lock()
        self._users = itertools.count(1)
        self._tokens: dict = {}
        #: Every password and deep-link token the tests saw (none may reach a log).
        self.secrets: set = set()
        self.child = ServerChild(
            "spaak-cloud", [self.cloud, "serve", "--no-bus", "--http", "127.0.0.1:0", "--db", self.db,
                            "--pki", self.pki, "--control", self.control, "--idp-key", self.idp_key,
                            "--mail-dir", self.mail_dir, "--trace", self.trace, "--scrypt-n", str(SCRYPT_N)],
            ready_fd=True, log_path=str(self.log_path))
        self.child.wait_ready(timeout=60)
        line = self.child.wait_for("HTTP on", timeout=10)
        match = re.search(r"HTTP on (http://127\.0\.0\.1:\d+)", line)
        assert match, f"no HTTP URL in: {line}"
        self.url = match.group(1)

    # --- operator side ------------------------------------------------------------------

    def ctl(self, *words: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([self.cloud, "ctl", str(self.control), *words], capture_output=True, text=True, timeout=30)
        if check:
            assert result.returncode == 0, f"ctl {' '.join(words)} → {result.returncode}: {result.stdout}{result.stderr}"
        return result

    def register_owner(self, vin: str, user: str, email: Optional[str] = None) -> str:
        return self.ctl("register-owner", vin, user, *([email] if email else [])).stdout

    def token(self, user: str, role: str = "owner", *extra: str) -> str:
        key = (user, role, extra)
        if key not in self._tokens:
            result = subprocess.run([self.cloud, "token", "--idp-key", str(self.idp_key), "--user", user, "--role", role,
                                     *extra], capture_output=True, text=True, timeout=30)
            assert result.returncode == 0, f"spaak-cloud token {user} {role} {extra} → {result.returncode}: {result.stderr}"
            token = result.stdout.strip()
            assert token.count(".") == 2 and "\n" not in token, f"spaak-cloud token printed more than a JWT: {result.stdout!r}"
            self._tokens[key] = token
        return self._tokens[key]

    def claim(self, user: Optional[str] = None, email: Optional[str] = None, register: bool = True) -> Vehicle:
        """A provisioned vehicle no other test has used, bound to ``user`` (a fresh one by default)."""
        with self._lock:
            assert self._free, "the fixture's provisioned vehicles are used up: raise VEHICLES"
            vehicle = self._free.pop(0)
            user = user or f"owner{next(self._users):03d}"
        if register:
            self.register_owner(vehicle.vin, user, email)
            vehicle.user = user
            vehicle.email = email or f"{user}@owners.spaak-sim.test"
        return vehicle

    def query(self, sql: str, *args) -> list:
        """Rows of a read-only query on the server's database (while it runs)."""
        connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(sql, args).fetchall()]
        finally:
            connection.close()

    def password_row(self, serial: str) -> dict:
        """The passwords row of ``serial``'s newest verifier."""
        rows = self.query("SELECT p.* FROM passwords p JOIN verifiers v ON v.id = p.verifier_id "
                          "WHERE v.serial = ? ORDER BY v.id DESC LIMIT 1", serial)
        assert rows, f"no passwords row for {serial}"
        return rows[0]

    def latest_verifier(self, serial: str) -> bytes:
        rows = self.query("SELECT record FROM verifiers WHERE serial = ? ORDER BY id DESC LIMIT 1", serial)
        assert rows, f"no verifier for {serial}"
        return bytes(rows[0]["record"])

    def log_text(self) -> str:
        return self.child.text()

    # --- HTTP ---------------------------------------------------------------------------

    def request(self, method: str, path: str, token: Optional[str] = None, session=None, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = (session or requests).request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        self._remember(response)
        return response

    def get(self, path: str, token: Optional[str] = None, **kwargs) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: Optional[str] = None, **kwargs) -> requests.Response:
        return self.request("POST", path, token, **kwargs)

    def _remember(self, response: requests.Response) -> None:
        """Keeps passwords and deep-link tokens seen in answers (tests/api/test_zz_secrets.py)."""
        if "json" not in response.headers.get("content-type", ""):
            return
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict):
            with self._lock:
                if isinstance(body.get("password"), str):
                    self.secrets.add(body["password"])
                link = body.get("deepLink")
                if isinstance(link, str) and "token=" in link:
                    self.secrets.add(link.split("token=", 1)[1].split("&")[0])

    def stop(self) -> None:
        self.child.stop()


