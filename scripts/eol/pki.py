"""The simulated OEM PKI backend, through the ``spaak-pki`` command."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Optional

from spaaklib.process import find_binary
from spaaklib.uds import ROOT_DIDS

#: The root certificates of RP-01 and the DIDs they go to (ICD 5.2), in chain order.
ROOTS = tuple(ROOT_DIDS.items())


class PKIError(Exception):
    """spaak-pki is missing or failed as a whole."""


def find_spaak_pki(explicit: Optional[str] = None) -> str:
    """--spaak-pki, else $SPAAK_BIN_DIR, .build/release, .build/debug, then $PATH."""
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise PKIError(f"--spaak-pki {explicit} is not executable")
        return explicit
    built = find_binary("spaak-pki")
    if built:
        return built
    found = shutil.which("spaak-pki")
    if found:
        return found
    raise PKIError("spaak-pki not found (build it: swift build -c release --product spaak-pki), or pass --spaak-pki")


@dataclass
class SignOutcome:
    """One line of ``spaak-pki sign-csrs``."""

    source: str
    serial: Optional[str] = None
    certificate_pem: Optional[str] = None
    refusal: Optional[str] = None


_OK = re.compile(r"^ok (\S+) (.+) -> (.+)$")
_REFUSED = re.compile(r"^refused (.+?): (.*)$")


def parse_sign_output(text: str) -> dict:
    """``ok SERIAL SOURCE -> PEM`` / ``refused SOURCE: REASON`` lines into {source: SignOutcome}."""
    outcomes = {}
    for line in text.splitlines():
        if m := _OK.match(line):
            outcomes[m.group(2)] = SignOutcome(m.group(2), serial=m.group(1), certificate_pem=m.group(3))
        elif m := _REFUSED.match(line):
            outcomes[m.group(1)] = SignOutcome(m.group(1), refusal=m.group(2))
    return outcomes


class PKI:
    """A hierarchy directory and the command that manages it."""

    def __init__(self, directory: str, command: str):
        self.directory = os.path.abspath(directory)
        self.command = command

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self.command, *args], capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PKIError(f"{self.command} {args[0]}: {error}") from None

    @property
    def exists(self) -> bool:
        """The directory holds a hierarchy (manifest.json)."""
        return os.path.exists(os.path.join(self.directory, "manifest.json"))

    def ensure(self) -> bool:
        """Creates the hierarchy when missing; True if it was created."""
        if self.exists:
            return False
        done = self._run("init", self.directory)
        if done.returncode != 0:
            raise PKIError(f"spaak-pki init failed: {(done.stderr or done.stdout).strip()}")
        return True

    def register(self, serials: list) -> str:
        """Registers ECU serials (idempotent); returns spaak-pki's line."""
        done = self._run("register", self.directory, *serials)
        if done.returncode != 0:
            raise PKIError(f"spaak-pki register failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout.strip()

    def root_der(self, name: str) -> bytes:
        """The DER of one root certificate (J, J1, J_PhysicalKey, Z1, ZZ2)."""
        path = os.path.join(self.directory, f"{name}.der")
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as error:
            raise PKIError(f"cannot read {path}: {error.strerror}") from None

    def sign(self, csr_paths: list, out_dir: str) -> dict:
        """Signs a batch; {csr path: SignOutcome}. A CSR without a line gets a refusal."""
        done = self._run("sign-csrs", self.directory, *csr_paths, "--out", out_dir)
        if done.returncode not in (0, 1):
            raise PKIError(f"spaak-pki sign-csrs failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
        outcomes = parse_sign_output(done.stdout)
        return {p: outcomes.get(p, SignOutcome(p, refusal="no answer from spaak-pki for this CSR")) for p in csr_paths}
