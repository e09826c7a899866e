"""What the tester knows about each module, and how a step fails."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .nrc import describe_nrc
from .status import ProvisioningStatus

#: The provisioning steps in order (the table shows how many of them were done).
STEPS = ("identify", "session", "unlock", "roots", "vin", "keygen", "csr", "pki", "cert", "lock", "verify")

PROVISIONED = "provisioned"
ALREADY = "already provisioned"
FAILED = "FAILED"


@dataclass(frozen=True)
class ModuleAddress:
    """A module's physical UDS pair."""

    request_id: int
    response_id: int

    def __str__(self) -> str:
        return f"{self.request_id:03X}/{self.response_id:03X}"


def parse_module_list(text: str) -> list:
    """``7A0:7A8,7B0:7B8`` (or ``7A0`` alone: response = request + 8) into ModuleAddress
    values; ValueError on anything else."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        fields = item.split(":")
        if len(fields) > 2:
            raise ValueError(f"'{item}' is not REQ:RESP")
        try:
            ids = [int(f, 16) for f in fields]
        except ValueError:
            raise ValueError(f"'{item}' is not REQ:RESP in hex (e.g. 7A0:7A8)") from None
        if len(ids) == 1:
            ids.append(ids[0] + 8)
        if any(not 0 <= i <= 0x7FF for i in ids) or ids[0] == ids[1]:
            raise ValueError(f"'{item}': two different 11-bit identifiers needed")
        out.append(ModuleAddress(ids[0], ids[1]))
    if len({a.request_id for a in out}) != len(out):
        raise ValueError("a request identifier appears twice in --modules")
    return out


class StepError(Exception):
    """A step that failed on one module: which step, why, and the NRC if the module sent one."""

    def __init__(self, step: str, message: str, nrc: Optional[int] = None, timeout: bool = False,
                 stale: bool = False):
        self.step, self.message, self.nrc, self.timeout, self.stale = step, message, nrc, timeout, stale
        super().__init__(self.describe())

    @property
    def transient(self) -> bool:
        """Worth another try: no answer in time, a late answer to an earlier request, the
        module busy (0x21), or the session lost in between (0x7F, 0x33: S3 ran out while the
        tester or the module was slow)."""
        return self.timeout or self.stale or self.nrc in (0x21, 0x33, 0x7F)

    def describe(self) -> str:
        """``write J1 (0xD111): NRC 0x31 RequestOutOfRange (...)``."""
        return f"{self.message}: {describe_nrc(self.nrc)}" if self.nrc is not None else self.message


@dataclass
class ModuleResult:
    """Everything the report shows about one module."""

    address: ModuleAddress
    serial: Optional[str] = None
    vin: Optional[str] = None
    steps_done: list = field(default_factory=list)
    csr_path: Optional[str] = None
    cert_path: Optional[str] = None
    locked: Optional[bool] = None
    status: Optional[ProvisioningStatus] = None
    outcome: Optional[str] = None
    error: Optional[StepError] = None
    retries: int = 0

    @property
    def failed(self) -> bool:
        """A step failed (or the final check did not confirm the provisioning)."""
        return self.outcome == FAILED

    @property
    def active(self) -> bool:
        """Still to be worked on (neither finished nor failed)."""
        return self.outcome is None

    def done(self, step: str) -> None:
        """Records a finished step."""
        if step not in self.steps_done:
            self.steps_done.append(step)

    def fail(self, error: StepError) -> None:
        """Records the failure."""
        self.outcome, self.error = FAILED, error

    def as_dict(self) -> dict:
        """A JSON-ready summary."""
        return {
            "serial": self.serial, "request_id": f"{self.address.request_id:03X}",
            "response_id": f"{self.address.response_id:03X}", "vin": self.vin,
            "outcome": self.outcome, "steps_done": list(self.steps_done), "csr": self.csr_path,
            "certificate": self.cert_path, "locked": self.locked,
            "d120": self.status.raw.hex() if self.status else None,
            "status": self.status.words() if self.status else None,
            "error": self.error.describe() if self.error else None,
            "failed_step": self.error.step if self.error else None,
            "nrc": self.error.nrc if self.error else None,
            "retries": self.retries,
        }
