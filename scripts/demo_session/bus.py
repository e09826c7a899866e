"""The live trace of the buses: ``candump -L`` of every interface, decoded with cantools and
can-dbc/spaak.dbc. Every frame goes to the log; a SPAAK_Status or TBM_Status line is shown
only when a signal changes (not every 100 ms), and the demo waits on the decoded values.
UDS requests of the plant and the NFC lane of each vehicle (nfc.py) are kept for the
sequence diagram.
"""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import cantools

from spaaklib.e2e import e2e_valid as e2e_ok
from spaaklib.signals import FLAGS, OWNER_PAIRING, USE_CASES
from spaaklib.signals import flag_short_words as flag_words  # the live trace's words

from .nfc import IDS as NFC_IDS
from .nfc import NfcTrace
from .procs import Children, Console, DemoError


@dataclass(frozen=True)
class Status:
    """The decoded signals of one SPAAK_Status frame."""

    flags: int
    use_case: int
    step: int
    error: int
    failed: int
    owner: int  # byte 7: owner pairing (ICD 8)
    t: float  # time.monotonic() of the frame

    @classmethod
    def from_signals(cls, s: dict, t: float) -> "Status":
        flags = sum(int(s[f.signal]) << f.bit for f in FLAGS)
        return cls(flags, int(s["ActiveUseCase"]), int(s["UseCaseStep"]), int(s["LastErrorCode"]),
                   int(s["FailedPairingAttempts"]), int(s["OwnerPairingState"]), t)

    def key(self) -> tuple:
        return self.flags, self.use_case, self.step, self.error, self.failed, self.owner

    def describe(self, before: Optional["Status"]) -> str:
        """What changed, then where the module is: ``+ECU cert · RP-02 step 0``;
        ``byte 7 = 3 owner key active · idle`` when the owner pairing state changed."""
        owner = f"byte 7 = {self.owner} {OWNER_PAIRING.get(self.owner, 'unknown')}"
        if before is None:
            head = "flags: " + (", ".join(flag_words(self.flags)) or "none") + (f", {owner}" if self.owner else "")
        else:
            gained = flag_words(self.flags & ~before.flags)
            lost = flag_words(before.flags & ~self.flags)
            head = " ".join([f"+{w}" for w in gained] + [f"-{w}" for w in lost]
                            + ([owner] if before.owner != self.owner else []))
        where = "idle" if self.use_case == 0 else f"{USE_CASES.get(self.use_case, self.use_case)} step {self.step}"
        extra = (f", last error {self.error}" if self.error else "") + (
            f", {self.failed} failed pairing(s)" if self.failed else "")
        return f"{head} · {where}{extra}" if head else f"{where}{extra}"


@dataclass(frozen=True)
class UdsFrame:
    """The start of an ISO-TP message seen on a watched UDS identifier."""

    t: float
    module: int
    request: bool
    payload: bytes  # the first bytes of the message (single frame, or first frame)


class BusMonitor:
    """candump -L of ``interfaces`` decoded on the fly."""

    def __init__(self, interfaces: list, dbc_path: str, log_path: str, console: Console, children: Children):
        self.interfaces = interfaces
        self.console = console
        self.children = children
        self.log_path = log_path
        db = cantools.database.load_file(dbc_path, strict=True)
        self.spaak = db.get_message_by_name("SPAAK_Status")
        self.tbm = db.get_message_by_name("TBM_Status")
        self.status_ids: dict = {}     # (iface, can id) -> (module number, label)
        self.uds_ids: dict = {}        # (iface, can id) -> (module number, is request)
        self.latest: dict = {}         # (iface, can id) -> Status
        self.tbm_state: dict = {}      # iface -> (connected, subscribed)
        self.transitions: list = []    # (t, module, before, after) of SPAAK_Status changes
        self.uds: list = []            # UdsFrame
        self.nfc = NfcTrace(db)        # the NFC lanes of the vehicle buses
        self.frames = 0
        self.e2e_errors = 0
        self.shown = True
        self._cv = threading.Condition()
        self._offset = time.time() - time.monotonic()
        self.proc = None

    def watch_status(self, iface: str, can_id: int, module: int, label: str) -> None:
        """Decode SPAAK_Status frames of ``can_id`` on ``iface`` as those of ``module``."""
        with self._cv:
            self.status_ids[(iface, can_id)] = (module, label)
            self.latest.pop((iface, can_id), None)

    def watch_uds(self, iface: str, request_id: int, response_id: int, module: int) -> None:
        """Keep the UDS messages of a module's physical pair (for the diagram)."""
        self.uds_ids[(iface, request_id)] = (module, True)
        self.uds_ids[(iface, response_id)] = (module, False)

    def watch_nfc(self, iface: str, module: int) -> None:
        """Keep HU_Request, the taps of NFC_Status and the APDUs on ``iface`` (for the diagram)."""
        with self._cv:
            self.nfc.watch(iface, module)

    def forget(self, iface: str) -> None:
        """Stop decoding on ``iface`` (its modules moved away)."""
        with self._cv:
            for key in [k for k in self.status_ids if k[0] == iface]:
                del self.status_ids[key]
            for key in [k for k in self.uds_ids if k[0] == iface]:
                del self.uds_ids[key]

    def start(self) -> None:
        candump = shutil.which("candump")
        if candump is None:
            raise DemoError("candump (can-utils) is not installed: run scripts/setup")
        cmd = ([shutil.which("stdbuf"), "-oL"] if shutil.which("stdbuf") else []) + [candump, "-L", *self.interfaces]
        self.proc = self.children.start("candump", cmd, self.log_path, on_line=self._frame, header=False,
                                        flush=False)

    def _frame(self, line: str) -> None:
        try:
            stamp, iface, frame = line.split()
            can_id_text, data_text = frame.split("#", 1)
            can_id, data = int(can_id_text, 16), bytes.fromhex(data_text.lstrip("#"))
            # never later than now: an emulated machine's wall clock drifts from its monotonic one
            t = min(float(stamp.strip("()")) - self._offset, time.monotonic())
        except ValueError:
            return
        self.frames += 1
        key = (iface, can_id)
        if key in self.uds_ids and data:
            module, request = self.uds_ids[key]
            pci = data[0] >> 4
            if pci == 0:
                self.uds.append(UdsFrame(t, module, request, data[1:1 + (data[0] & 0x0F)]))
            elif pci == 1:
                self.uds.append(UdsFrame(t, module, request, data[2:]))
            return
        if can_id == 0x3A0:
            self._tbm_frame(iface, data)
            return
        if iface in self.nfc.modules and can_id in NFC_IDS:
            with self._cv:
                latest = self.latest.get((iface, 0x3A8))
                self.nfc.feed(iface, can_id, data, t, latest.owner if latest else 0)
            return
        if key not in self.status_ids or len(data) != 8:
            return
        if not e2e_ok(can_id, data):
            self.e2e_errors += 1
            return
        status = Status.from_signals(self.spaak.decode(data, decode_choices=False), t)
        with self._cv:
            module, label = self.status_ids.get(key, (0, "?"))
            before = self.latest.get(key)
            self.latest[key] = status
            changed = before is None or before.key() != status.key()
            if changed:
                self.transitions.append((t, module, before, status))
            self._cv.notify_all()
        if changed and self.shown:
            self.console.line(label, "SPAAK_Status " + status.describe(before))

    def _tbm_frame(self, iface: str, data: bytes) -> None:
        if len(data) != 8 or not e2e_ok(0x3A0, data):
            self.e2e_errors += 1
            return
        s = self.tbm.decode(data, decode_choices=False)
        state = (int(s["GsdpConnected"]), int(s["SpaakTopicSubscribed"]))
        if self.tbm_state.get(iface) != state:
            self.tbm_state[iface] = state
            words = {(1, 1): "GSDP connected, SpaaK topic subscribed (online)"}.get(
                state, f"GsdpConnected={state[0]} SpaakTopicSubscribed={state[1]}")
            if self.shown:
                self.console.line(f"{iface} TBM", f"TBM_Status {words}")

    def status(self, iface: str, can_id: int) -> Optional[Status]:
        """The latest decoded SPAAK_Status on (iface, can_id)."""
        with self._cv:
            return self.latest.get((iface, can_id))

    def seen(self, module: int, since: float) -> list:
        """The SPAAK_Status values of ``module`` that changed something since ``since``, in order."""
        with self._cv:
            return [after for t, m, _, after in self.transitions if m == module and t >= since]

    def wait_seen(self, module: int, since: float, predicate: Callable[[list], bool], timeout: float,
                  what: str) -> list:
        """Waits until ``predicate`` holds for ``seen(module, since)`` (the trace runs a moment
        behind the bus: a value may come and go before the demo looks); that list."""
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                values = [after for t, m, _, after in self.transitions if m == module and t >= since]
                if predicate(values):
                    return values
                left = end - time.monotonic()
                if left <= 0:
                    raise DemoError(f"{what}: not seen within {timeout:.0f} s")
                self._cv.wait(min(left, 0.2))

    def wait_status(self, iface: str, can_id: int, predicate: Callable[[Status], bool], timeout: float,
                    what: str, since: float = 0.0) -> Status:
        """Waits for a SPAAK_Status (received after ``since``) that satisfies ``predicate``."""
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                status = self.latest.get((iface, can_id))
                if status is not None and status.t >= since and predicate(status):
                    return status
                left = end - time.monotonic()
                if left <= 0:
                    now = status.describe(None) if status else "no SPAAK_Status frame at all"
                    raise DemoError(f"{what}: not seen within {timeout:.0f} s on {iface} (last status: {now})")
                if self.proc is not None and not self.proc.alive:
                    raise DemoError("candump stopped: the bus trace is gone")
                self._cv.wait(min(left, 0.2))
