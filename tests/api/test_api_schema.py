"""Schemathesis against the served OpenAPI document (/openapi.yaml): generated requests, every
response checked against the document (no 5xx, status codes, content types, schemas, headers,
auth ignored or not, …). Once with an owner token and once with a hotline token (so /v1/fleet
and the hotline routes answer 200 too). Path and body VINs are drawn half the time from the
fixture's vehicles (owned by the token's user, another user's, not provisioned, unknown) so
that the success answers are generated and checked, not only the refusals."""
import subprocess
import sys
from pathlib import Path

import pytest

from apiserver import UNKNOWN_VIN

#: Test cases per operation and phase; with 12 operations the run stays well under 2 minutes.
MAX_EXAMPLES = 40


def st_binary() -> str:
    return str(Path(sys.executable).with_name("st"))


def config(path: Path, vins: list) -> Path:
    values = ", ".join(f'"{v}"' for v in vins)
    path.write_text(f"""
[dictionaries.vins]
values = [{values}]

[parameters]
"path.vin" = {{ dictionary = "vins", probability = 0.5 }}
"body.vin" = {{ dictionary = "vins", probability = 0.5 }}

# A well-formed token nobody issued is gone (410 is documented for this operation).
[[operations]]
include-operation-id = "redeemPairingLink"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "410"]
""")
    return path


def run_schemathesis(server, tmp_path: Path, token: str, vins: list):
    cfg = config(tmp_path / "schemathesis.toml", vins)
    cmd = [st_binary(), "--config-file", str(cfg), "--no-color", "run", f"{server.url}/openapi.yaml",
           "--checks", "all", "--header", f"Authorization: Bearer {token}",
           "--max-examples", str(MAX_EXAMPLES), "--seed", "20261", "--workers", "1",
           "--generation-database", "none", "--request-timeout", "20"]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, "schemathesis found responses that break the document:\n" + output[-12000:]
    assert "passed" in output or "Test cases" in output, output[-3000:]
    return output


def test_schemathesis_owner(server, tmp_path):
    own, other = server.claim("stella"), server.claim("sam")
    spare = server.claim("stella")
    output = run_schemathesis(server, tmp_path, server.token("stella", "owner"),
                              [own.vin, spare.vin, other.vin, server.unprovisioned[-1].vin, UNKNOWN_VIN])
    print(output[-3000:])


def test_schemathesis_hotline(server, tmp_path):
    owned = server.claim("harry")
    output = run_schemathesis(server, tmp_path, server.token("agent-st", "hotline"),
                              [owned.vin, server.claim(register=False).vin, server.unprovisioned[-1].vin, UNKNOWN_VIN])
    print(output[-3000:])


@pytest.mark.parametrize("role", ["portal"])
def test_schemathesis_portal(server, tmp_path, role):
    owned = server.claim("penny")
    output = run_schemathesis(server, tmp_path, server.token("penny", role), [owned.vin, UNKNOWN_VIN])
    print(output[-3000:])
