"""The pieces of one module's life: the spaak-ecu process (plant line, then its vehicle),
the simulated TBM + VOS of its vehicle (spaak-cloud serve and ctl), the owner's phones
(spaak-phone) and the UDS tester calls of the demo (D120, D124), through the EOL tester's
udsoncan client.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

from eol.model import ModuleAddress, StepError
from eol.status import ProvisioningStatus
from eol.uds import ModuleClient
from spaaklib.signals import OWNER_PAIRING
from spaaklib.uds import kernel_isotp_available

from .owner_api import HTTP_LINE
from .procs import Children, Console, DemoError, Proc, run_tool, swift_log_text

#: Plant line: module k answers UDS on 0x7A0 + 0x10 (k - 1) and sends SPAAK_Status on
#: 0x3A8 + (k - 1) so that the trace can tell the modules apart; its vehicle uses the ICD
#: defaults (0x7A0/0x7A8, 0x3A8, 0x6A0/0x6A8).
PLANT_IFACE = "vcan0"
MAX_MODULES = 6
STATUS_ID, UDS_ID = 0x3A8, 0x7A0

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def short(text: str) -> str:
    """Paths in the project written relative to it."""
    return text.replace(ROOT + "/", "")


#: The time stamp in front of spaak-phone's step lines: ``[  1.234] tap 1: ...``.
PHONE_TIME = re.compile(r"^\[\s*[\d.]+\] ")


#: Module log lines not worth showing live (they are in out/demo/logs/): UDS details, each
#: APDU sent (the phone prints its side, the diagram has one arrow per APDU), the NFC field
#: (the phone prints its taps), the two other lines of each failed attempt (the machine's
#: "pairing phase 2 failed: REASON" stays; SPAAK_Status shows the count).
QUIET = ("UDS session", "UDS security access", "UDS negative response 7f3178", "counters:", "stopped by signal",
         *(f"pairing: {command} sent" for command in ("SELECT", "SPAKE2+ REQUEST", "SPAKE2+ VERIFY", "WRITE DATA",
                                                       "GET DATA", "AUTH0", "AUTH1")),
         "NFC: device in the field", "NFC: device gone", "NFC session: phase", "owner pairing attempt failed:",
         "failed owner pairing attempt ", "stored setFailedPairingAttempts(",
         # said again by "pairing phase 2 done: ..." and "pairing phase 3 done: ..." and "OP: ..."
         "stored pending owner key ", "stored active owner key ", "verifier used by a pairing:",
         "OwnerPairingStatus owed:")
#: Fields of spaak-cloud's log lines left out on the console (the trace file has them all).
CLOUD_NOISE = re.compile(r" (serial|vin|txn)=\S+")


@dataclass
class Module:
    """One SpaaK module of the demo."""

    number: int
    serial: str
    store: str
    vehicle_iface: str
    proc: Optional[Proc] = None
    iface: str = PLANT_IFACE
    vin: Optional[str] = None
    plant_outcome: Optional[str] = None
    d120: Optional[ProvisioningStatus] = None
    paired: Optional["OwnerPairingStatus"] = None  # D124 right after the owner paired
    notes: list = field(default_factory=list)

    @property
    def plant_uds_id(self) -> int:
        return UDS_ID + 0x10 * (self.number - 1)

    @property
    def plant_status_id(self) -> int:
        return STATUS_ID + self.number - 1

    @property
    def uds_id(self) -> int:
        """The UDS request id where the module is now."""
        return self.plant_uds_id if self.iface == PLANT_IFACE else UDS_ID

    @property
    def status_id(self) -> int:
        """The SPAAK_Status id where the module is now."""
        return self.plant_status_id if self.iface == PLANT_IFACE else STATUS_ID

    @property
    def tag(self) -> str:
        return self.serial


def make_modules(count: int, run_dir: str) -> list:
    """Modules 1..count: serials SPK0000000001.., stores <run_dir>/store-k, vehicle bus vcan k."""
    return [Module(k, f"SPK{k:010d}", os.path.join(run_dir, f"store-{k}"), f"vcan{k}") for k in range(1, count + 1)]


def start_module(module: Module, where: str, bins: dict, children: Children, console: Console, log_dir: str) -> None:
    """Starts spaak-ecu for ``module`` on the plant line or in its vehicle (``wait_ready`` next)."""
    module.iface = PLANT_IFACE if where == "plant" else module.vehicle_iface
    args = [bins["spaak-ecu"], "--interface", module.iface, "--serial", module.serial, "--store", module.store]
    if where == "plant":
        args += ["--uds-request-id", f"{module.plant_uds_id:X}", "--spaak-status-id", f"{module.plant_status_id:X}"]

    def show(line: str) -> None:
        level, text = swift_log_text(line)
        if level and level not in ("trace", "debug") and not text.startswith(QUIET):
            console.line(module.tag, short(text))

    log = os.path.join(log_dir, f"spaak-ecu-{module.number}.log")
    module.proc = children.start(f"spaak-ecu {module.serial}", args, log, on_line=show, ready_fd=True)


def wait_ready(module: Module, console: Console, timeout: float) -> None:
    """Waits for the READY=1 of the module's spaak-ecu (--ready-fd); shows its start line."""
    module.proc.wait_ready(timeout)
    # printed before READY=1: at most a moment behind in the reader
    ready = module.proc.wait_for(" — ready", 5, what="its start line")
    console.line(module.tag, short(ready.split(" — ")[0].replace(f"spaak-ecu {module.serial} ", "spaak-ecu ")))


def transport() -> str:
    """Kernel ISO-TP sockets where the kernel has them, else python-can + can-isotp."""
    return "kernel" if kernel_isotp_available() else "python"


def uds_client(module: Module, plant_key: bytes) -> ModuleClient:
    """A udsoncan client for the module where it is now (P2 10 s: an emulated VM is slow)."""
    address = ModuleAddress(module.uds_id, module.uds_id + 8)
    return ModuleClient.on_bus(module.iface, address, plant_key, transport(), p2_timeout=10.0)


def read_d120(module: Module, plant_key: bytes) -> ProvisioningStatus:
    """DID 0xD120, decoded."""
    try:
        with uds_client(module, plant_key) as c:
            return ProvisioningStatus.decode(c.read("d120", 0xD120, "provisioning status"))
    except StepError as error:
        raise DemoError(f"{module.serial}: reading D120 failed: {error.describe()}") from None


@dataclass(frozen=True)
class OwnerPairingStatus:
    """DID 0xD124 (ICD 5.2): SPAAK_Status byte 7, seconds left in the pairing window, owner
    key id (zeros: none), friendly name."""

    state: int
    seconds_left: int
    key_id: Optional[str]  # hex, None when there is no owner key
    name: str

    @classmethod
    def decode(cls, record: bytes) -> "OwnerPairingStatus":
        if len(record) < 11:
            raise ValueError(f"D124 has {len(record)} bytes, at least 11 expected")
        key = record[3:11]
        return cls(record[0], int.from_bytes(record[1:3], "big"), key.hex().upper() if any(key) else None,
                   record[11:].decode("utf-8", "replace"))

    @property
    def words(self) -> str:
        return OWNER_PAIRING.get(self.state, "unknown")

    def describe(self) -> str:
        """``3 owner key active, key 5A11223344556677 "Owner 1's phone", window closed``."""
        key = f', key {self.key_id} "{self.name}"' if self.key_id else ""
        window = f", window {self.seconds_left} s left" if self.seconds_left else ", window closed"
        return f"{self.state} {self.words}{key}{window}"

    def as_dict(self) -> dict:
        return {"state": self.state, "words": self.words, "seconds_left": self.seconds_left, "key_id": self.key_id,
                "name": self.name}


def read_d124(module: Module, plant_key: bytes) -> OwnerPairingStatus:
    """DID 0xD124, decoded."""
    try:
        with uds_client(module, plant_key) as c:
            return OwnerPairingStatus.decode(c.read("d124", 0xD124, "owner pairing status"))
    except StepError as error:
        raise DemoError(f"{module.serial}: reading D124 failed: {error.describe()}") from None
    except ValueError as error:
        raise DemoError(f"{module.serial}: {error}") from None


def start_phone(module: Module, role: str, args: list, bins: dict, children: Children, console: Console,
                log_dir: str, run_dir: str, terse: bool, on_line=None, shown: Optional[str] = None) -> Proc:
    """``spaak-phone pair`` on the module's vehicle bus (``wait_exit`` next). Its lines go to
    the console but the module's SPAAK_Status bytes that it echoes (the bus monitor shows them)
    and the commands it receives (its answer names them); ``terse`` also leaves out its
    answers, its set-up and every line of a shape shown already (the second to eighth tap of
    a wrong password look like the first). ``on_line`` gets every line's text first. The log
    begins with ``shown``, the command line without its secrets (password, tokens)."""
    tag = f"{module.vehicle_iface} phone"
    shapes: set = set()

    def show(line: str) -> None:
        text = short(PHONE_TIME.sub("", line).replace(run_dir + "/", ""))
        if on_line is not None:
            on_line(text)
        if text.startswith(("module: ", "← ")):
            return
        if terse:
            if text.startswith(("→ ", "the phone leaves", "spaak-phone: trusts", "spaak-phone: reader on")):
                return
            shape = re.sub(r"\d+", "#", text)
            if shape in shapes:
                return
            shapes.add(shape)
        console.line(tag, text)

    log = os.path.join(log_dir, f"spaak-phone-{module.number}-{role}.log")
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"$ spaak-phone pair --interface {module.vehicle_iface} {shown or '(options not shown)'}\n")
    return children.start(f"spaak-phone {role} {module.serial}",
                          [bins["spaak-phone"], "pair", "--interface", module.vehicle_iface, *args], log, on_line=show,
                          header=False)


class Cloud:
    """``spaak-cloud serve`` on one vehicle bus: the vehicle's TBM and the VOS, with the VOS's
    owner services on an HTTP port of the loopback interface (``url`` once ``wait_ready``
    returned), tokens signed by ``idp_key``, e-mails in the Maildir ``mail_dir``."""

    def __init__(self, module: Module, bins: dict, pki: str, db: str, control: str, trace: str, scrypt_n: int,
                 children: Children, console: Console, log_dir: str, idp_key: str, mail_dir: str):
        self.module, self.bin, self.control, self.trace = module, bins["spaak-cloud"], control, trace
        self.idp_key, self.mail_dir, self.url = idp_key, mail_dir, None
        tag = f"{module.vehicle_iface} cloud"

        def show(line: str) -> None:
            if line.startswith("[") and "] " in line:  # "[1234 ms] V2C ..." trace lines
                line = line.split("] ", 1)[1]
            if " queued " in line:  # the 'delivered' line follows when the TBM sent it
                return
            line = CLOUD_NOISE.sub("", line).replace("--- ", "").replace(" info — ", ": ")
            console.line(tag, short(line).split(" — ready")[0])

        # port 0: the kernel picks a free port, spaak-cloud says which ("HTTP on http://…")
        args = [self.bin, "serve", "--interface", module.vehicle_iface, "--pki", pki, "--db", db,
                "--control", control, "--trace", trace, "--tbm", "offline", "--scrypt-n", str(scrypt_n),
                "--http", "127.0.0.1:0", "--idp-key", idp_key, "--mail-dir", mail_dir]
        self.proc = children.start(f"spaak-cloud {module.vehicle_iface}", args,
                                   os.path.join(log_dir, f"spaak-cloud-{module.number}.log"), on_line=show,
                                   ready_fd=True)

    def wait_ready(self, timeout: float) -> None:
        """READY=1 on its --ready-fd: the CAN, control and HTTP sockets are open; ``url`` is the
        owner services' address it printed before."""
        self.proc.wait_ready(timeout)
        line = self.proc.wait_for("", 5, predicate=lambda text: HTTP_LINE.search(text) is not None,
                                  what="its 'HTTP on http://127.0.0.1:PORT' line")
        self.url = HTTP_LINE.search(line).group(1)

    def wait_line(self, predicate, timeout: float, what: str, start: int = 0) -> str:
        """The first output line from ``start`` on that satisfies ``predicate``."""
        return self.proc.wait_for("", timeout, start, predicate=predicate, what=what)

    def ctl(self, *words: str, timeout: float = 10.0) -> str:
        """Sends a control command; its reply."""
        return run_tool([self.bin, "ctl", self.control, *words], timeout, f"spaak-cloud ctl {' '.join(words)}").strip()

