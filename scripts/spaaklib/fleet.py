"""The fleet's bookkeeping, shared by ``scripts/fleet`` (scripts/fleet_session) and the
``fleet`` section of ``scripts/bench`` (scripts/benchlib/fleet.py): no processes here.

- ``ctl``: one command on a ``spaak-cloud`` control socket (one line per connection, the
  reply until the server closes it; ``ok …`` or the refusal), without starting
  ``spaak-cloud ctl`` (a process start per command costs a second in the emulated VM);
- ``TraceTail``: the new complete JSON lines of a ``--trace`` file (``CloudEvent``: ``ms``,
  ``from``, ``to``, ``outcome``, ``direction``, ``type``, ``serial``, ``transaction``, ``detail``);
- ``VehicleProgress``: one vehicle's story from those events (SP-02, PP-01 and its time, the
  VOS's acceptance of 0x0B / 0x09), pure: events in, flags out;
- ``percentile``, ``summary`` and ``render``: the final numbers and their table.
"""
from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import dataclass, field
from typing import Iterable, Optional

#: ICD 7.2 message types the fleet follows.
SP02_RESPONSE = 0x08
PP01_STATUS, COMPLETION_ACK = 0x05, 0x06
PP03_REQUEST, VERIFIER_PUSH, VERIFIER_STATUS = 0x09, 0x0A, 0x0B
OWNER_KEY_TERMINATION = 0x0C


class ControlError(Exception):
    """The control socket could not be reached, or the command was refused (the reply)."""


def ctl(path: str, command: str, timeout: float = 30.0) -> str:
    """Sends ``command`` to the control socket at ``path``; the reply after ``ok`` (may be
    empty). ControlError with the reply when refused, or when the socket is unreachable."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        try:
            s.connect(path)
            s.sendall((command + "\n").encode())
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as error:
            raise ControlError(f"{os.path.basename(path)}: {command.split()[0]}: {error}") from None
    finally:
        s.close()
    reply = b"".join(chunks).decode("utf-8", "replace").removesuffix("\n")
    if reply == "ok":
        return ""
    if reply.startswith(("ok ", "ok\n")):
        return reply[3:]
    raise ControlError(reply or f"{os.path.basename(path)}: no reply to {command.split()[0]}")


class TraceTail:
    """Reads a JSON-lines trace file as it grows: ``read()`` returns the events of the
    complete lines written since the last call (a line being written is kept for later;
    a line that is not JSON is counted in ``bad`` and skipped)."""

    def __init__(self, path: str):
        self.path, self.offset, self.partial, self.bad = path, 0, b"", 0

    def read(self) -> list:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.bad += 1
                continue
            if isinstance(event, dict):
                events.append(event)
            else:
                self.bad += 1
        return events


def _type(event: dict) -> Optional[int]:
    value = event.get("type")
    return value if isinstance(value, int) else None


@dataclass
class VehicleProgress:
    """What the traces tell about one vehicle. ``tbm_event`` takes the events of its TBM's
    trace (one process per vehicle: every event is this vehicle's), ``vos_event`` the events
    of any VOS instance that name its serial."""

    serial: str
    first_v2c_ms: Optional[int] = None     # TBM clock: the first V2C the TBM took from the bus
    pp01_status_seen: bool = False         # a V2C 0x05 (VehicleIdentityCertStatus) relayed
    pp01_ms: Optional[int] = None          # TBM clock: the 0x06 that acks it, delivered on the bus
    sp02: bool = False                     # SP-02's response (0x08) delivered on the bus
    verifier_txns: set = field(default_factory=set)  # transactions of 0x0B the VOS accepted
    pp03_reasons: list = field(default_factory=list)  # the VOS accepted 0x09: its detail
    pushes_delivered: int = 0              # 0x0A / 0x0C delivered by the TBM
    connects: int = 0                      # "connected to" info lines of the TBM

    def tbm_event(self, event: dict) -> None:
        direction, outcome, kind = event.get("direction"), event.get("outcome"), _type(event)
        ms = event.get("ms") if isinstance(event.get("ms"), int) else None
        if direction == "V2C":
            if self.first_v2c_ms is None and ms is not None:
                self.first_v2c_ms = ms
            if kind == PP01_STATUS and outcome not in ("discarded", "refused"):
                self.pp01_status_seen = True
        elif direction == "C2V" and outcome == "delivered":
            if kind == COMPLETION_ACK and self.pp01_status_seen and self.pp01_ms is None:
                self.pp01_ms = ms if ms is not None else -1
            elif kind == SP02_RESPONSE:
                self.sp02 = True
            elif kind in (VERIFIER_PUSH, OWNER_KEY_TERMINATION):
                self.pushes_delivered += 1
        elif outcome == "info" and "connected to" in str(event.get("detail", "")) \
                and "disconnected" not in str(event.get("detail", "")):
            self.connects += 1

    def vos_event(self, event: dict) -> None:
        if event.get("direction") != "V2C" or event.get("outcome") != "accepted":
            return
        kind = _type(event)
        if kind == VERIFIER_STATUS:
            self.verifier_txns.add(event.get("transaction") or f"#{len(self.verifier_txns)}")
        elif kind == PP03_REQUEST:
            self.pp03_reasons.append(str(event.get("detail", "")))

    @property
    def pp01(self) -> bool:
        return self.pp01_ms is not None

    @property
    def pp01_time_s(self) -> Optional[float]:
        """PP-01 time: the first V2C to the delivered 0x06 acking 0x05 (both on the TBM's clock)."""
        if self.pp01_ms is None or self.pp01_ms < 0 or self.first_v2c_ms is None:
            return None
        return (self.pp01_ms - self.first_v2c_ms) / 1000.0


def percentile(values: Iterable[float], p: float) -> Optional[float]:
    """The p-th percentile (0..100) by the nearest-rank method; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def parse_stats(text: str) -> Optional[dict]:
    """The JSON object of a VOS's ``stats`` reply (its last line that parses), or None."""
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def summary(*, vehicles: int, done: int, failures: dict, pp01_times: list, window_s: float, pp01_span_s: Optional[float],
            stats: list, config: dict) -> dict:
    """The numbers of a run (also its ``--json``). ``stats``: the last ``stats`` object of
    each VOS instance (with ``"killed": true`` for the one killed); ``window_s``: seconds from
    the first TBM start to the end of the story; ``pp01_span_s``: to the last PP-01."""
    v2c = sum(s.get("v2c", 0) for s in stats)
    db_ms = sum(s.get("db_ms", 0.0) for s in stats)
    db_tx = sum(s.get("db_transactions", 0) for s in stats)
    pp01_done = len(pp01_times)
    return {
        **config,
        "vehicles": vehicles, "done": done, "failed": vehicles - done, "failures": dict(sorted(failures.items())),
        "pp01": {"count": pp01_done, "p50_s": _r(percentile(pp01_times, 50)), "p99_s": _r(percentile(pp01_times, 99)),
                 "max_s": _r(max(pp01_times) if pp01_times else None)},
        "vehicles_per_minute": _r(pp01_done / pp01_span_s * 60.0 if pp01_span_s else None, 2),
        "window_s": _r(window_s, 1),
        "vos": {"requests": v2c, "requests_per_s": _r(v2c / window_s if window_s > 0 else None, 2),
                "db_ms": _r(db_ms, 1), "db_transactions": db_tx,
                "db_ms_per_transaction": _r(db_ms / db_tx if db_tx else None, 3),
                "db_retries": sum(s.get("db_retries", 0) for s in stats),
                "instances": stats},
    }


def _r(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def _s(value: Optional[float], unit: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def render(result: dict) -> str:
    """The final table of ``scripts/fleet``."""
    pp = result["pp01"]
    vos = result["vos"]
    failures = ", ".join(f"{cause}: {n}" for cause, n in result["failures"].items()) or "none"
    lines = [
        f"vehicles          {result['vehicles']}: {result['done']} done, {result['failed']} failed",
        f"failures          {failures}",
    ]
    if result.get("stations") and result["stations"] < result["vehicles"]:
        lines.append(f"line              {result['stations']} stations: at most {result.get('most_on_line', '-')} "
                     f"vehicles on at once, each leaving when its story was done or failed")
    lines += [
        f"PP-01 time        p50 {_s(pp['p50_s'])}, p99 {_s(pp['p99_s'])}, max {_s(pp['max_s'])} "
        f"({pp['count']} vehicles; first V2C to the delivered 0x06, TBM traces)",
        f"provisioning      {'-' if result['vehicles_per_minute'] is None else result['vehicles_per_minute']} "
        f"vehicles/min (PP-01 done over the time from the first TBM start to the last PP-01)",
        f"VOS requests      {vos['requests']} V2C in {result['window_s']} s: "
        f"{'-' if vos['requests_per_s'] is None else vos['requests_per_s']}/s",
        f"database          {vos['db_ms']} ms in {vos['db_transactions']} transactions "
        f"({'-' if vos['db_ms_per_transaction'] is None else vos['db_ms_per_transaction']} ms each), "
        f"{vos['db_retries']} serialization retries",
    ]
    if result.get("busy_answers"):
        lines.append(f"VOS busy          {result['busy_answers']} control commands answered \"too many inputs waiting "
                     f"for a verifier\" (back-pressure), sent again 5 s later")
    lines += [
        "",
        f"{'instance':<12} {'conn':>5} {'v2c':>6} {'answered':>8} {'refused':>7} {'pushes':>6} {'outbox':>6} "
        f"{'db tx':>6} {'db ms':>8} {'uptime':>7}  state",
    ]
    for s in vos["instances"]:
        lines.append(f"{str(s.get('instance', '?')):<12} {s.get('connections', '-'):>5} {s.get('v2c', '-'):>6} "
                     f"{s.get('answered', '-'):>8} {s.get('refused', '-'):>7} {s.get('pushes', '-'):>6} "
                     f"{s.get('outbox_sent', '-'):>6} {s.get('db_transactions', '-'):>6} "
                     f"{s.get('db_ms', '-'):>8} {s.get('uptime_s', '-'):>7}  "
                     f"{'killed (last stats before)' if s.get('killed') else 'running'}")
    return "\n".join(lines)


#: The most idle load a fleet run is started with, in CPUs asked per CPU the machine has, as
#: fleet_session.capacity measures it (TBMs offline: a connected TBM also serves its WebSocket,
#: 16 wake-ups/s instead of 10, so the run's real idle load is higher). The vehicles' ISO-TP
#: timers (N_Bs = N_Cr = 1000 ms) and the TBMs' 10 s connect timeout allow some lateness: in the
#: 2-core emulated VM (docs/SCALING.md section 2) 50 vehicles finished (46 of 50 before the
#: story's control timeout was raised), 100 vehicles did not finish one PP-01.
IDLE_LOAD_LIMIT = 1.5


#: The idle load a production line (``scripts/fleet --stations C``) is sized for by
#: ``stations_that_fit``: the load at which all vehicles at once still finished in the VM
#: (N = 50, about 1.0x: docs/SCALING.md section 2), below the 1.5x where nothing is started.
LINE_LOAD = 1.0


def stations_that_fit(per_vehicle_cpu: float, cpus: int, load: float = LINE_LOAD) -> int:
    """The stations of a line whose vehicles, idle, ask at most ``load`` times the CPUs
    (0 when not even one fits)."""
    if per_vehicle_cpu <= 0:
        raise ValueError("the idle vehicle's CPU share must be positive")
    return int(load * max(1, cpus) / per_vehicle_cpu)


def idle_load(per_vehicle_cpu: float, vehicles: int, cpus: int) -> float:
    """The CPUs ``vehicles`` idle vehicles ask for, per CPU of the machine (1.0 = all busy)."""
    return per_vehicle_cpu * vehicles / max(1, cpus)


def too_big(per_vehicle_cpu: float, vehicles: int, cpus: int, limit: float = IDLE_LOAD_LIMIT) -> Optional[str]:
    """Why a fleet of ``vehicles`` cannot run on this machine (its idle vehicles alone would ask
    more than ``limit`` times its CPUs), or None when it can."""
    load = idle_load(per_vehicle_cpu, vehicles, cpus)
    if load <= limit:
        return None
    return (f"{vehicles} idle vehicles ask {load:.1f}x the {cpus} CPUs ({per_vehicle_cpu * 100:.1f} % of a CPU each, "
            f"measured): above {limit:g}x the vehicles' ISO-TP and connect timeouts expire (docs/SCALING.md)")
