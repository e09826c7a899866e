"""The EOL sequence (RP-01, RP-02) over a batch of modules, in three phases so that the CSRs
go to the PKI as one batch:

1. per module: identify (serial, D120), extended session, unlock, the five roots, the VIN,
   key pair generation (0xD200, through NRC 0x78), CSR read and saved as <serial>.csr.pem;
2. the whole batch of CSRs to the PKI (one spaak-pki call);
3. per module: session and unlock again (S3 may have passed), the ECU certificate (0xD101),
   the plant lock (0xD201), and D120 read back to confirm.

Phases 1 and 3 work on up to ``parallel`` modules at once, one udsoncan client each.
"""
from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from .model import ALREADY, PROVISIONED, STEPS, ModuleResult, StepError
from .pki import PKI, ROOTS
from .report import ProgressBar
from .status import ProvisioningStatus
from .uds import DEFAULT_P2_TIMEOUT, ModuleClient


@dataclass
class Options:
    """What every module gets."""

    interface: str
    out_dir: str
    plant_key: bytes
    vin_for: Callable[[str], str]
    parallel: int = 1
    lock: bool = True
    transport: str = "kernel"
    p2_timeout: float = DEFAULT_P2_TIMEOUT
    retries: int = 2
    retry_pause: float = 0.5


def csr_to_pem(der: bytes, serial: str, step: str = "csr") -> bytes:
    """The CSR read from 0xD100 as PEM, after checking that it parses, that its signature
    is valid and that its CN is the serial (RP-02 2a); StepError otherwise."""
    try:
        csr = x509.load_der_x509_csr(bytes(der))
    except ValueError as error:
        raise StepError(step, f"the CSR read from 0xD100 is not a PKCS#10 DER ({error})") from None
    if not csr.is_signature_valid:
        raise StepError(step, "the CSR's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = names[0].value if names else None
    if cn != serial:
        raise StepError(step, f"the CSR's CN is {cn!r}, expected the serial {serial!r}")
    return csr.public_bytes(Encoding.PEM)


class Provisioner:
    """Runs the phases over ``results`` (one ModuleResult per module)."""

    def __init__(self, options: Options, pki: PKI, progress: ProgressBar, client_factory=None):
        self.options, self.pki, self.progress = options, pki, progress
        self.roots: dict = {}
        self.client_factory = client_factory or (lambda result: ModuleClient.on_bus(
            options.interface, result.address, options.plant_key, options.transport, options.p2_timeout))

    # --- bookkeeping --------------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, result: ModuleResult, name: str):
        """Runs one step: marks it done and advances the bar, or lets StepError through."""
        yield
        result.done(name)
        self.progress.advance(f"{result.serial or result.address} {name}")

    def _close(self, result: ModuleResult) -> None:
        """A module is finished (or failed): the bar skips what it will not do."""
        self.progress.advance(f"{result.serial or result.address} {result.outcome}",
                              n=len(STEPS) - len(result.steps_done))

    def _guarded(self, phase: Callable, result: ModuleResult) -> None:
        if not result.active:
            return
        pending = [s for s in STEPS if s not in result.steps_done]
        first_pending = pending[0] if pending else "?"
        try:
            phase(result)
        except StepError as error:
            if error.step == "connect":  # opening the client: charged to the step it was for
                error.step = first_pending
            result.fail(error)
        except OSError as error:
            result.fail(StepError(first_pending, f"bus error: {error}"))
        except Exception as error:  # a bug must not stop the other modules
            result.fail(StepError(first_pending, f"internal error: {error!r}"))
        if not result.active:
            self._close(result)

    def for_each(self, phase: Callable, results: list) -> None:
        """Runs ``phase`` on every active module, ``parallel`` at a time."""
        active = [r for r in results if r.active]
        if self.options.parallel <= 1 or len(active) <= 1:
            for r in active:
                self._guarded(phase, r)
            return
        with ThreadPoolExecutor(max_workers=self.options.parallel, thread_name_prefix="eol") as pool:
            list(pool.map(lambda r: self._guarded(phase, r), active))

    def attempt(self, result: ModuleResult, body: Callable, resume: Callable = None, c: ModuleClient = None):
        """Runs ``body``; after a transient failure (timeout, late answer, busy, session
        lost) lets late answers of ``c`` arrive and swallows them, runs ``resume``
        (re-entering the session and unlocking) and tries again, up to ``retries`` times.
        Each retry is counted in the report."""
        for n in range(self.options.retries + 1):
            try:
                if n > 0 and resume is not None:
                    resume()
                return body()
            except StepError as error:
                if not error.transient or n == self.options.retries:
                    raise
                result.retries += 1
                if c is not None and (error.timeout or error.stale):
                    c.drain(quiet=max(self.options.retry_pause, 0.01), limit=c.p2_timeout)
                else:
                    time.sleep(self.options.retry_pause)

    @staticmethod
    def reopen(c: ModuleClient, step: str) -> Callable:
        """Extended session and unlock again (a resume for ``attempt``)."""
        def resume():
            c.extended_session(step)
            c.unlock(step)
        return resume

    def client(self, result: ModuleResult) -> ModuleClient:
        """A udsoncan client for this module (not yet open)."""
        return self.client_factory(result)

    # --- phases ---------------------------------------------------------------------------

    def identify(self, result: ModuleResult) -> None:
        """Serial (0xF18C) unless discovery gave it, and D120: a module that is plant locked
        with every plant certificate VALID is reported and left alone."""
        with self.client(result) as c, self.step(result, "identify"):
            if not result.serial:
                result.serial = self.attempt(result, c=c, body=lambda: c.read("identify", 0xF18C, "serial")).decode(
                    "ascii", errors="replace")
            result.status = self.attempt(result, c=c, body=lambda: self._status(c, "identify"))
            result.locked = result.status.plant_locked
        if result.status.fully_provisioned:
            result.outcome = ALREADY
        elif result.status.plant_locked:
            raise StepError("identify", "plant locked but not fully provisioned (" + ", ".join(
                result.status.problems()) + "): it cannot be provisioned again")

    def prepare(self, result: ModuleResult) -> None:
        """Phase 1: session, unlock, roots, VIN, key generation, CSR."""
        serial = result.serial
        result.vin = self.options.vin_for(serial)
        with self.client(result) as c:
            with self.step(result, "session"):
                self.attempt(result, c=c, body=lambda: c.extended_session())
            with self.step(result, "unlock"):
                self.attempt(result, c=c, body=lambda: c.unlock(), resume=lambda: c.extended_session("unlock"))
            with self.step(result, "roots"):
                for name, did in ROOTS:
                    self.attempt(result, c=c, body=lambda: c.write("roots", did, self.roots[name], f"[{name}]"),
                                 resume=self.reopen(c, "roots"))
            with self.step(result, "vin"):
                self.attempt(result, c=c, body=lambda: c.write("vin", 0xF190, result.vin.encode("ascii"), "VIN"),
                             resume=self.reopen(c, "vin"))
            with self.step(result, "keygen"):
                self.attempt(result, c=c, body=lambda: c.run_routine("keygen", 0xD200, "generate key pair and CSR"),
                             resume=self.reopen(c, "keygen"))
            with self.step(result, "csr"):
                pem = csr_to_pem(self.attempt(result, c=c, body=lambda: c.read("csr", 0xD100, "CSR")), serial)
                path = os.path.join(self.options.out_dir, f"{serial}.csr.pem")
                with open(path, "wb") as f:
                    f.write(pem)
                result.csr_path = path

    def sign(self, results: list) -> None:
        """Phase 2: every CSR of the batch to the PKI in one call."""
        batch = {r.csr_path: r for r in results if r.active and r.csr_path}
        if not batch:
            return
        try:
            outcomes = self.pki.sign(list(batch), self.options.out_dir)
        except Exception as error:
            outcomes = None
            failure = str(error)
        for path, result in batch.items():
            if outcomes is None:
                result.fail(StepError("pki", f"PKI batch failed: {failure}"))
            elif outcomes[path].refusal is not None:
                result.fail(StepError("pki", f"PKI refused the CSR: {outcomes[path].refusal}"))
            else:
                result.cert_path = outcomes[path].certificate_pem
                result.done("pki")
                self.progress.advance(f"{result.serial} pki")
                continue
            self._close(result)

    def install(self, result: ModuleResult) -> None:
        """Phase 3: certificate, lock, confirmation through D120."""
        der_path = os.path.splitext(result.cert_path)[0] + ".der"
        try:
            with open(der_path, "rb") as f:
                certificate = f.read()
        except OSError as error:
            raise StepError("cert", f"cannot read {der_path}: {error.strerror}") from None
        with self.client(result) as c:
            self.attempt(result, c=c, body=self.reopen(c, "cert"))
            with self.step(result, "cert"):
                self.attempt(result, c=c, body=lambda: c.write("cert", 0xD101, certificate, "ECU identity certificate"),
                             resume=self.reopen(c, "cert"))
            if self.options.lock:
                with self.step(result, "lock"):
                    self.attempt(result, c=c, body=lambda: c.run_routine("lock", 0xD201, "plant lock"),
                                 resume=self.reopen(c, "lock"))
            with self.step(result, "verify"):
                result.status = self.attempt(result, c=c, body=lambda: self._status(c, "verify"))
                result.locked = result.status.plant_locked
                self._confirm(result.status)
            with contextlib.suppress(StepError):
                c.call("verify", "default session (10 01)", c.client.change_session, 1)
        result.outcome = PROVISIONED

    def _confirm(self, status: ProvisioningStatus) -> None:
        problems = status.problems()
        if problems:
            raise StepError("verify", "D120 after provisioning: " + ", ".join(problems))
        if self.options.lock and not status.plant_locked:
            raise StepError("verify", "D120 after the lock routine does not show the plant lock")

    @staticmethod
    def _status(c: ModuleClient, step: str) -> ProvisioningStatus:
        raw = c.read(step, 0xD120, "provisioning status")
        try:
            return ProvisioningStatus.decode(raw)
        except ValueError as error:
            raise StepError(step, f"D120: {error}") from None

    def run(self, results: list, register: Callable[[list], None]) -> None:
        """All phases; ``register`` gets the serials to add to the PKI before any write."""
        self.for_each(self.identify, results)
        serials = [r.serial for r in results if r.active]
        if serials:
            register(serials)
        self.for_each(self.prepare, results)
        self.sign(results)
        self.for_each(self.install, results)
