"""A vehicle of the fleet: its SpaaK module (spaak-ecu on bus vcan<k>) and its TBM
(``spaak-cloud tbm`` on the same bus, connected to every VOS instance's GSDP URL), where it is
on the line (``Power``), and what the story asked of it and saw of it."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from spaaklib.fleet import TraceTail, VehicleProgress

from .plant import serial_of
from .procs import Children, Proc


class Power(Enum):
    """Where a vehicle is on the line (``--stations``): every vehicle goes WAITING → STARTING
    (its module, then its TBM, starting) → ON → LEAVING (both stopped, done or failed) → OFF.
    Without ``--stations`` every vehicle is ON from the start to the end of the run."""
    WAITING = "waiting"
    STARTING = "starting"
    ON = "on"
    LEAVING = "leaving"
    OFF = "off"

    @property
    def holds_station(self) -> bool:
        """The vehicle has (or is about to have, or is still leaving) a station of the line."""
        return self in (Power.STARTING, Power.ON, Power.LEAVING)


@dataclass
class Vehicle:
    number: int
    store: str
    trace: str
    wants_password: bool = False
    wants_termination: bool = False
    ecu: Optional[Proc] = None
    tbm: Optional[Proc] = None
    tail: Optional[TraceTail] = None
    progress: VehicleProgress = None
    push_sent: Optional[str] = None        # the instance that took the push (its reply)
    password: Optional[str] = None
    termination_sent: bool = False
    pp01_seen_at: Optional[float] = None   # monotonic time the story saw its PP-01 done
    failure: Optional[str] = None
    busy: bool = False                      # a control command for it is under way
    not_before: float = 0.0                 # monotonic time its next control command may go
    busy_answers: int = 0                   # "too many inputs waiting for a verifier" answers
    notes: list = field(default_factory=list)
    power: Power = Power.WAITING

    def __post_init__(self):
        self.progress = VehicleProgress(self.serial)
        self.tail = TraceTail(self.trace)

    @property
    def serial(self) -> str:
        return serial_of(self.number)

    @property
    def iface(self) -> str:
        return f"vcan{self.number}"

    @property
    def pp02(self) -> bool:
        return self.push_sent is not None and len(self.progress.verifier_txns) >= 1

    @property
    def terminated(self) -> bool:
        """PP-03 after the KTS's 0x0C: the VOS accepted a 0x09 and a second 0x0B."""
        return self.termination_sent and bool(self.progress.pp03_reasons) and len(self.progress.verifier_txns) >= 2

    @property
    def done(self) -> bool:
        p = self.progress
        return (p.sp02 and p.pp01 and self.pp02 and (not self.wants_password or self.password is not None)
                and (not self.wants_termination or self.terminated))

    def pending(self) -> str:
        """The first step not done (a failure's cause when the time is up)."""
        p = self.progress
        if self.power is Power.WAITING:
            return "never on the line (the time was up before a station was free)"
        if self.power is Power.STARTING:
            return "still starting when the time was up"
        if p.first_v2c_ms is None:
            return "no V2C from the module (TBM never subscribed?)"
        if not p.sp02:
            return "SP-02 not done"
        if not p.pp01:
            return "PP-01 not done"
        if self.push_sent is None:
            return "PP-02 push not sent"
        if not self.pp02:
            return "PP-02 not done (no 0x0B accepted)"
        if self.wants_password and self.password is None:
            return "pairing password not handed out"
        if self.wants_termination and not self.termination_sent:
            return "termination not sent"
        if self.wants_termination and not self.terminated:
            return "PP-03 after the termination not done"
        return "?"


def start_module(v: Vehicle, spaak_ecu: str, children: Children, log_dir: str) -> None:
    """spaak-ecu on the vehicle's bus, from its store (``ecu.wait_ready`` next)."""
    v.ecu = children.start(f"spaak-ecu {v.serial}", [spaak_ecu, "--interface", v.iface, "--serial", v.serial,
                                                     "--store", v.store],
                           os.path.join(log_dir, f"ecu-{v.number}.log"), ready_fd=True)


def start_tbm(v: Vehicle, spaak_cloud: str, urls: list, run_dir: str, children: Children, log_dir: str) -> None:
    """``spaak-cloud tbm`` on the vehicle's bus with every VOS URL (``tbm.wait_ready`` next)."""
    v.tbm = children.start(f"spaak-cloud tbm {v.iface}",
                           [spaak_cloud, "tbm", "--interface", v.iface, "--vos", ",".join(urls), "--serial", v.serial,
                            "--name", f"tbm-{v.number}", "--control", os.path.join(run_dir, f"tbm-{v.number}.sock"),
                            "--trace", v.trace],
                           os.path.join(log_dir, f"tbm-{v.number}.log"), ready_fd=True)


def chosen(count: int, fraction: float, offset: int = 0) -> set:
    """``round(fraction * count)`` vehicle numbers (1..count) spread evenly, shifted by ``offset``;
    at least one when ``fraction`` > 0 (``--terminations 0.1`` of 5 vehicles is one, not none)."""
    k = max(0, min(count, round(fraction * count)))
    if fraction > 0 and count > 0:
        k = max(1, k)
    return {((j * count) // k + offset) % count + 1 for j in range(k)} if k else set()
