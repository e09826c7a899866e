"""udsoncan client for one module: connection (kernel ISO-TP socket, or python-can with the
can-isotp stack), client configuration, and calls that turn every failure into a StepError."""
from __future__ import annotations

import time

import isotp
from udsoncan.client import Client
from udsoncan.connections import PythonIsoTpConnection
from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                 UnexpectedResponseException)

from spaaklib.uds import PADDING, client_config, kernel_connection

from .model import ModuleAddress, StepError


def connection(interface: str, address: ModuleAddress, transport: str = "kernel", name: str = ""):
    """A udsoncan connection to one module. ``kernel``: an ISO-TP socket; ``python``:
    python-can and can-isotp's stack (when the kernel has no ISO-TP)."""
    if transport == "kernel":
        return kernel_connection(interface, address.request_id, address.response_id, name=name)
    import can
    addr = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=address.request_id, rxid=address.response_id)
    bus = can.Bus(interface="socketcan", channel=interface,
                  can_filters=[{"can_id": address.response_id, "can_mask": 0x7FF, "extended": False}])
    params = {"tx_padding": PADDING, "blocksize": 0, "stmin": 0, "rx_flowcontrol_timeout": 1000,
              "rx_consecutive_frame_timeout": 1000, "max_frame_size": 4095}
    stack = isotp.CanStack(bus, address=addr, params=params)
    conn = PythonIsoTpConnection(stack, name=name)
    conn.bus = bus  # shut down by ModuleClient.__exit__
    return conn


#: Client-side P2 default: generous, because a module busy in its store (and a batch on an
#: emulated machine) can answer later than the 50 ms it announces.
DEFAULT_P2_TIMEOUT = 5.0


#: P2*: after NRC 0x78, and for the work the ICD lets a module answer late.
DEFAULT_P2_STAR_TIMEOUT = 10.0


class ModuleClient:
    """A udsoncan Client for one module; every call raises StepError(step, ...) on failure."""

    def __init__(self, address: ModuleAddress, plant_key: bytes, conn, p2_timeout: float = DEFAULT_P2_TIMEOUT,
                 p2_star_timeout: float = DEFAULT_P2_STAR_TIMEOUT):
        self.address = address
        self.conn = conn
        self.p2_timeout = p2_timeout
        # Plant timing: P2 ``p2_timeout``, P2* after NRC 0x78; a cap of 60 s over any number of 0x78.
        self.client = Client(conn, config=client_config(plant_key, p2_timeout=p2_timeout,
                                                        p2_star_timeout=p2_star_timeout, request_timeout=60.0))

    @classmethod
    def on_bus(cls, interface: str, address: ModuleAddress, plant_key: bytes, transport: str = "kernel",
               p2_timeout: float = DEFAULT_P2_TIMEOUT):
        """A client on a SocketCAN interface; StepError when the socket cannot be opened."""
        try:
            return cls(address, plant_key, connection(interface, address, transport, name=str(address)),
                       p2_timeout)
        except OSError as e:
            raise StepError("connect", f"cannot open ISO-TP on {interface} for {address} ({e})") from None

    def __enter__(self) -> "ModuleClient":
        try:
            self.client.open()
        except OSError as e:
            raise StepError("connect", f"cannot bind ISO-TP for {self.address} ({e})") from None
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.client.close()
        finally:
            bus = getattr(self.conn, "bus", None)
            if bus is not None:
                bus.shutdown()

    def call(self, step: str, what: str, fn, *args, slow: bool = False):
        """Runs a client call; a negative response, timeout or bad answer becomes StepError.
        ``slow``: work the ICD lets the module answer with NRC 0x78 (certificate checks and
        store commits, key generation, the lock): the first answer may take up to P2*."""
        saved = self.client.config["p2_timeout"]
        if slow:
            self.client.config["p2_timeout"] = max(saved, self.client.config["p2_star_timeout"])
        try:
            return fn(*args)
        except NegativeResponseException as e:
            raise StepError(step, what, nrc=e.response.code) from None
        except TimeoutException:
            raise StepError(step, f"{what}: no answer from the module (timeout)", timeout=True) from None
        except UnexpectedResponseException as e:
            # typically the late answer to a request that timed out before
            raise StepError(step, f"{what}: unexpected answer ({e})", stale=True) from None
        except InvalidResponseException as e:
            raise StepError(step, f"{what}: invalid answer ({e})") from None
        except OSError as e:
            raise StepError(step, f"{what}: bus error ({e})") from None
        finally:
            self.client.config["p2_timeout"] = saved

    def drain(self, quiet: float, limit: float) -> int:
        """Swallows late answers (to requests that timed out) until the module has been
        quiet for ``quiet`` seconds, at most ``limit`` seconds; returns how many."""
        swallowed, end = 0, time.monotonic() + limit
        while (left := end - time.monotonic()) > 0:
            if self.conn.wait_frame(timeout=min(quiet, left)) is None:
                break
            swallowed += 1
        return swallowed

    def read(self, step: str, did: int, what: str) -> bytes:
        """The value of one DID."""
        response = self.call(step, f"read {what} (0x{did:04X})", self.client.read_data_by_identifier, did)
        return bytes(response.service_data.values[did])

    def write(self, step: str, did: int, value: bytes, what: str) -> None:
        """Writes one DID."""
        self.call(step, f"write {what} (0x{did:04X})", self.client.write_data_by_identifier, did, bytes(value),
                  slow=True)

    def extended_session(self, step: str = "session") -> None:
        """DiagnosticSessionControl 0x03."""
        self.call(step, "extended session (10 03)", self.client.change_session, 3)

    def unlock(self, step: str = "unlock") -> None:
        """SecurityAccess 0x01/0x02 with the CMAC key (an all-zero seed: already unlocked)."""
        self.call(step, "security access (27 01/02)", self.client.unlock_security_access, 1)

    def run_routine(self, step: str, rid: int, what: str, poll_timeout: float = 30.0) -> bytes:
        """startRoutine, waiting through NRC 0x78 (udsoncan does); if the module answers
        "running" (status 1), polls requestRoutineResults until done. Returns the status
        record; status 2 (failed) is a StepError."""
        label = f"{what} (31 01 {rid:04X})"
        response = self.call(step, label, self.client.start_routine, rid, slow=True)
        record = bytes(response.service_data.routine_status_record or b"")
        deadline = time.monotonic() + poll_timeout
        while record[:1] == b"\x01" and time.monotonic() < deadline:
            time.sleep(0.1)
            response = self.call(step, f"{what} results (31 03 {rid:04X})", self.client.get_routine_result, rid)
            record = bytes(response.service_data.routine_status_record or b"")
        if record[:1] == b"\x01":
            raise StepError(step, f"{label}: still running after {poll_timeout:.0f} s")
        if record[:1] == b"\x02":
            code = f" (error code 0x{record[1]:02X})" if len(record) > 1 else ""
            raise StepError(step, f"{label}: the module reports the routine failed{code}")
        return record
