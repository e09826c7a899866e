"""The demo's story, phase by phase (see the package docstring for the design)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time

from eol.cli import main as eol_main
from eol.status import SLOTS, status_name
from spaaklib.process import find_binary
from spaaklib.signals import DRM_UUID, K_CERT, PLANT_DONE, TBM_ONLINE, VERIFIER
from spaaklib.uds import DEFAULT_PLANT_KEY_HEX, parse_plant_key

from . import diagram, report
from .bus import BusMonitor, flag_words
from .owner_api import maildir_path, redact
from .owners import OwnerPhases, by_app, owner_of
from .procs import Children, Console, Deadline, DemoError, run_in_process, run_tool
from .vehicle import (MAX_MODULES, PLANT_IFACE, Cloud, make_modules, read_d120, read_d124, start_module, start_phone,
                      wait_ready)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAILED_PAIRINGS = 8  # the 8th failed attempt deletes the verifier (ICD 8.3, seed PP-03 2a)
#: Seconds the phone waits for the module's next command or verdict (the emulated VM is slow).
PHONE_TIMEOUT = 30
#: scrypt cost of the VOS's verifiers without --scrypt-n: natively 32768; in the QEMU VM 4096
#: (the ICD 7.6 vector's): its emulated CPU is ~20x slower than a phone, and the phone's
#: derivation at 32768 takes 5-20 s there, over the module's 5 s limit for its answer (ICD 8.3).
NATIVE_SCRYPT_N = 32768
VM_SCRYPT_N = 4096
MARKER = ".spaak-demo"


def in_vm() -> bool:
    """Running in scripts/vcan-run's VM (its kernel command line has vcan.debug=)."""
    try:
        with open("/proc/cmdline", encoding="utf-8") as f:
            return "vcan.debug=" in f.read()
    except OSError:
        return False


def find_binaries(names=("spaak-ecu", "spaak-pki", "spaak-cloud", "spaak-phone")) -> dict:
    """$SPAAK_BIN_DIR, else .build/release."""
    bins = {name: find_binary(name, builds=("release",)) for name in names}
    missing = [name for name, path in bins.items() if path is None]
    if missing:
        folder = os.environ.get("SPAAK_BIN_DIR") or os.path.join(ROOT, ".build", "release")
        raise DemoError(f"not built: {', '.join(missing)} in {folder} (run: swift build -c release)")
    return bins


class Story(OwnerPhases):
    """One run: ``run()`` returns the summary (also written to out/demo/summary.json)."""

    def __init__(self, modules: int, out: str, timeout: float, scrypt_n, plant_key: str = DEFAULT_PLANT_KEY_HEX):
        """``scrypt_n`` None: NATIVE_SCRYPT_N, or VM_SCRYPT_N in the VM."""
        if not 1 <= modules <= MAX_MODULES:
            raise DemoError(f"--modules must be 1..{MAX_MODULES}")
        self.n, self.out, self.scrypt_n = modules, os.path.abspath(out), scrypt_n
        self.plant_key = parse_plant_key(plant_key)
        self.deadline = Deadline(timeout)
        self.children = Children()
        self.modules = []
        self.phases: list = []          # (title, start time)
        self.actions: list = []         # diagram.Arrow of the demo's own tester calls
        self.clouds: list = []
        self.console = None
        self.bus = None
        self.run_dir = None
        self.idp_key = None
        self.in_vm = False

    # --- helpers ---------------------------------------------------------------------------

    def phase(self, title: str) -> None:
        self.phases.append((title, time.monotonic()))
        self.console.section(f"{len(self.phases)}. {title}")

    def phase_of(self, t: float) -> int:
        index = 0
        for i, (_, start) in enumerate(self.phases):
            if t >= start - 0.05:
                index = i
        return index

    def left(self, cap: float = 60.0) -> float:
        return self.deadline.left(cap)

    def say(self, text: str) -> None:
        self.console.line("demo", text)

    def wait_flags(self, module, mask: int, what: str, idle: bool = True, since: float = 0.0, extra=None):
        return self.bus.wait_status(
            module.iface, module.status_id,
            lambda s: s.flags & mask == mask and (not idle or s.use_case == 0) and (extra is None or extra(s)),
            self.left(), f"{module.serial}: {what}", since)

    def in_parallel(self, work, items) -> None:
        """Runs work(item) for every item at once; the first DemoError is raised."""
        errors: list = []

        def guarded(item):
            try:
                work(item)
            except Exception as error:
                errors.append(error)
        threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in items]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.left(600))
        if errors:
            raise errors[0] if isinstance(errors[0], DemoError) else DemoError(repr(errors[0]))

    # --- the run ---------------------------------------------------------------------------

    def prepare(self) -> None:
        ifaces = [PLANT_IFACE] + [f"vcan{k}" for k in range(1, self.n + 1)]
        missing = [i for i in ifaces if not os.path.exists(f"/sys/class/net/{i}")]
        if missing:
            raise DemoError(f"no {', '.join(missing)} here: run the session through scripts/vcan-run with "
                            f"VCAN_IFACES=\"{' '.join(ifaces)}\" (scripts/demo does)")
        self.bins = find_binaries()
        if os.path.isdir(self.out):
            if os.listdir(self.out) and not os.path.exists(os.path.join(self.out, MARKER)):
                raise DemoError(f"{self.out} exists and was not made by the demo: choose another --out")
            shutil.rmtree(self.out)
        for sub in ("logs", "plant", "cloud"):
            os.makedirs(os.path.join(self.out, sub))
        open(os.path.join(self.out, MARKER), "w").close()
        self.logs = os.path.join(self.out, "logs")
        self.console = Console(self.deadline, log_path=os.path.join(self.out, "demo.txt"))
        # Stores, VOS databases, traces and control sockets live on the machine of the bus
        # while the demo runs (in the VM: in its memory: every fsync through the VM's shared
        # folder costs the event loops tens of milliseconds); copied to --out at the end.
        self.run_dir = tempfile.mkdtemp(prefix="spaak-demo-")
        self.modules = make_modules(self.n, self.run_dir)
        os.makedirs(os.path.join(self.run_dir, "cloud"))
        self.bus = BusMonitor(ifaces, os.path.join(ROOT, "can-dbc", "spaak.dbc"),
                              os.path.join(self.logs, "candump.log"), self.console, self.children)

    def plant(self) -> None:
        self.phase(f"Plant line ({PLANT_IFACE}): PKI, {self.n} module(s), EOL tester (RP-01, RP-02)")
        pki = os.path.join(self.out, "pki")
        run_tool([self.bins["spaak-pki"], "init", pki], self.left(), "spaak-pki init")
        self.say(f"spaak-pki init {os.path.relpath(pki)}: [J] [J1] [J_PhysicalKey] [Z1] [ZZ2] + VOS signer")
        self.actions += [diagram.Arrow(time.monotonic(), "P", "T", "5 root certificates (spaak-pki init)", m.number,
                                       0, "reply") for m in self.modules]
        self.bus.start()
        for m in self.modules:
            self.bus.watch_status(PLANT_IFACE, m.plant_status_id, m.number, m.serial)
            self.bus.watch_uds(PLANT_IFACE, m.plant_uds_id, m.plant_uds_id + 8, m.number)
            start_module(m, "plant", self.bins, self.children, self.console, self.logs)
        for m in self.modules:
            wait_ready(m, self.console, self.left(30))
        for m in self.modules:
            self.bus.wait_status(PLANT_IFACE, m.plant_status_id, lambda s: True, self.left(10),
                                 f"{m.serial}: first SPAAK_Status")
        report = os.path.join(self.out, "plant", "eol.json")
        argv = ["--interface", PLANT_IFACE, "--pki", pki, "--out", os.path.join(self.out, "plant"),
                "--discover-timeout", "3", "--parallel", str(self.n), "--json", report, "--no-progress",
                "--p2-timeout", "10", "--spaak-pki", self.bins["spaak-pki"]]
        self.say(f"scripts/eol-tester {' '.join(os.path.relpath(a) if a.startswith('/') else a for a in argv)}")
        self.say("(run in this process: its Python modules are loaded already)")
        with open(os.path.join(self.logs, "eol-tester.log"), "w", encoding="utf-8") as log:
            def emit(line: str) -> None:
                log.write(line + "\n")
                self.console.line("EOL tester", line)
            status = run_in_process("eol-tester", eol_main, argv, self.left(300), emit)
        if status != 0:
            raise DemoError(f"the EOL tester failed (exit {status}); see {os.path.relpath(self.logs)}/eol-tester.log")
        with open(report, encoding="utf-8") as f:
            results = {r["serial"]: r for r in json.load(f)["modules"]}
        missing = [m.serial for m in self.modules if m.serial not in results]
        if missing:
            raise DemoError(f"the EOL tester did not discover {', '.join(missing)} (no answer to 22 F18C on 0x7DF)")
        for m in self.modules:
            m.vin, m.plant_outcome = results[m.serial]["vin"], results[m.serial]["outcome"]
            self.wait_flags(m, PLANT_DONE, "roots, ECU key, ECU certificate and plant lock in SPAAK_Status")

    def into_vehicles(self) -> None:
        self.phase("Into the vehicles: module k on vcan k with its own TBM and VOS (spaak-cloud)")
        for m in self.modules:
            self.children.stop(m.proc)
        self.bus.forget(PLANT_IFACE)
        pki = os.path.join(self.out, "pki")
        # The simulated identity provider's key (ES256), made by its first token: every VOS checks
        # the tokens with it. Kept in the run folder only (it is not copied to --out).
        self.idp_key = os.path.join(self.run_dir, "idp.pem")
        self.token("demo", "hotline")
        self.say("identity provider key made (spaak-cloud token --idp-key): each VOS verifies the owners' tokens with it")
        for m in self.modules:
            db = os.path.join(self.run_dir, "cloud", f"vos-{m.number}.sqlite")
            cloud = Cloud(m, self.bins, pki, db, os.path.join(self.run_dir, f"cloud-{m.number}.sock"),
                          os.path.join(self.run_dir, "cloud", f"trace-{m.number}.jsonl"), self.scrypt_n,
                          self.children, self.console, self.logs, self.idp_key, maildir_path(self.run_dir, m.number))
            self.clouds.append(cloud)
        for m in self.modules:
            self.bus.watch_status(m.vehicle_iface, 0x3A8, m.number, m.serial)
            self.bus.watch_nfc(m.vehicle_iface, m.number)
            start_module(m, "vehicle", self.bins, self.children, self.console, self.logs)
        for m in self.modules:
            wait_ready(m, self.console, self.left(30))
        for cloud in self.clouds:
            cloud.wait_ready(self.left(30))
            cert = os.path.join(self.out, "plant", f"{cloud.module.serial}.crt.der")
            cloud.ctl("register-ecu", cert, timeout=self.left(30))  # spaak-cloud logs it
        for m in self.modules:
            self.wait_flags(m, PLANT_DONE, "plant provisioning kept across the power cycle", idle=False)

    def tbm_online(self) -> None:
        self.phase("TBM online: SP-02 (drmUUID), then PP-01 (vehicle identity [K])")
        for cloud in self.clouds:
            cloud.ctl("tbm", "online")  # spaak-cloud logs the command
        for m in self.modules:
            self.wait_flags(m, TBM_ONLINE | DRM_UUID | K_CERT, "drmUUID and [K] installed (SP-02, PP-01)")

    def push_verifier(self) -> None:
        self.phase("PP-02: the VOS pushes a SPAKE2+ verifier")
        self.in_parallel(lambda cloud: self.push(cloud, "push-verifier", 0x0A), self.clouds)

    def push(self, cloud, command: str, message_type: int) -> None:
        """A C2V push (``ctl COMMAND SERIAL``) and the module's answer: the use case ends
        with the module's Spake2VerifierStatus (0x0B) accepted by the VOS and the verifier
        present again in SPAAK_Status. When the TBM could not deliver the push (a module
        stalled past N_Bs), or delivered it but no answer came within 60 s (the module lost
        it), spaak-cloud sends it again itself, up to 3 times (ICD 7.4, as the module retries
        its requests; docs/ICD-CHOICES.md): the demo only waits for it."""
        m, code = cloud.module, f" 0x{message_type:02X} "
        start, t = len(cloud.proc.lines), time.monotonic()
        reply = cloud.ctl(command, m.serial, timeout=self.left(30))
        if "queued" in reply:
            self.console.line(f"{m.vehicle_iface} cloud", reply)
        line = cloud.wait_line(lambda text: (code in text and (" delivered " in text or " dropped " in text))
                               or "push given up" in text, self.left(), f"{m.serial}: {command} on the bus", start)
        if " delivered " not in line:
            raise DemoError(f"{m.serial}: the TBM could not deliver {command}: {line}")
        cloud.wait_line(lambda text: " accepted 0x0B " in text, self.left(), f"{m.serial}: Spake2VerifierStatus", start)
        self.wait_flags(m, VERIFIER, "verifier present, use case done", since=t)

    # --- owner pairing (ICD 8) -------------------------------------------------------------

    def which(self, modules: list) -> str:
        """`` (vehicles 2, 3)`` when ``modules`` are not all of them."""
        if len(modules) == len(self.modules):
            return ""
        numbers = [str(m.number) for m in modules]
        return f" (vehicle{'s' if len(numbers) > 1 else ''} {', '.join(numbers)})"

    def pairing_window(self, modules: list) -> None:
        self.phase("OP-02: the driver starts owner pairing on the HU (HU_Request 0x01): pairing window open"
                   + self.which(modules))
        self.in_parallel(self.start_window, modules)

    def start_window(self, m) -> None:
        """``spaak-phone hu-start`` on the module's bus; SPAAK_Status byte 7 = 1."""
        t = time.monotonic()
        reply = run_tool([self.bins["spaak-phone"], "hu-start", "--interface", m.vehicle_iface,
                          "--counter-file", os.path.join(self.run_dir, f"hu-counter-{m.number}")],
                         self.left(30), "spaak-phone hu-start")
        self.console.line(f"{m.vehicle_iface} HU", reply.strip().removeprefix("spaak-phone: "))
        self.bus.wait_status(m.iface, m.status_id, lambda s: s.owner == 1, self.left(30),
                             f"{m.serial}: pairing window open (SPAAK_Status byte 7 = 1)", t)

    def phone(self, m, role: str, args: list, key: str, terse: bool, on_line=None) -> int:
        """One ``spaak-phone pair`` run on the module's bus; its exit status. The command line is
        shown without the password, the bearer token and the deep link's token."""
        argv = [*args, "--pki", os.path.join(self.out, "pki"), "--key", os.path.join(self.run_dir, key),
                "--timeout", str(PHONE_TIMEOUT)]
        hidden = {"--password": "<the password from the VOS>", "--token": "<the owner's token>"}

        def show(i: int, a: str) -> str:
            before = argv[i - 1] if i > 0 else ""
            if before in hidden:
                return hidden[before]
            if before == "--deep-link":
                return "'" + redact(a) + "'"
            return os.path.relpath(a) if a.startswith(self.out) else a.replace(self.run_dir + "/", "")
        shown = " ".join(show(i, a) for i, a in enumerate(argv))
        self.say(f"{m.serial}: spaak-phone pair --interface {m.vehicle_iface} {shown}")
        proc = start_phone(m, role, argv, self.bins, self.children, self.console, self.logs, self.run_dir, terse,
                           on_line, shown)
        try:
            return proc.wait_exit(self.left())
        finally:
            self.children.stop(proc)

    def check_cloud_pairing(self, cloud, *expected: str) -> None:
        """``spaak-cloud ctl status`` (spaak-cloud logs its answer): the module's owner pairing
        line holds every ``expected`` text."""
        lines = cloud.ctl("status", timeout=self.left(30)).splitlines()
        found = [lines[i + 1].strip() for i, line in enumerate(lines[:-1])
                 if line.startswith(cloud.module.serial + " ") and "pairing=" in lines[i + 1]]
        if not found or not all(text in found[0] for text in expected):
            raise DemoError(f"{cloud.module.serial}: spaak-cloud ctl status shows no {' '.join(expected)}:\n"
                            + "\n".join(lines))

    def wrong_password(self, modules: list) -> None:
        self.phase(f"A phone with a wrong password taps {FAILED_PAIRINGS} times: the module deletes the verifier "
                   f"and runs PP-03 on its own" + self.which(modules))
        clouds = {cloud.module.number: cloud for cloud in self.clouds}

        def one(m):
            cloud = clouds[m.number]
            password = cloud.ctl("password", m.serial, timeout=self.left(30))
            self.say(f"{m.serial}: the VOS hands out the pairing password once (spaak-cloud ctl password); "
                     f"this phone derives w0/w1 from a wrong one")
            start, t = len(cloud.proc.lines), time.monotonic()
            status = self.phone(m, "wrong", ["--password", password, "--wrong-password", "--phase", "2",
                                             "--attempts", str(FAILED_PAIRINGS)], f"wrong-phone-{m.number}.key", True)
            if status != 1:
                raise DemoError(f"{m.serial}: the phone with a wrong password ended with exit status {status}, "
                                f"1 (pairing failed) expected; see {os.path.relpath(self.logs)}/spaak-phone-{m.number}-wrong.log")
            every = set(range(1, FAILED_PAIRINGS + 1))
            try:
                self.bus.wait_seen(m.number, t, lambda seen: every <= {s.failed for s in seen}, self.left(30),
                                   f"{m.serial}: SPAAK_Status byte 6 counting 1..{FAILED_PAIRINGS}")
            except DemoError:
                counts = [s.failed for s in self.bus.seen(m.number, t)]
                raise DemoError(f"{m.serial}: SPAAK_Status byte 6 went {counts} during the taps, "
                                f"1..{FAILED_PAIRINGS} expected") from None
            line = cloud.wait_line(lambda text: " accepted 0x09 " in text, self.left(),
                                   f"{m.serial}: Spake2VerifierRequest", start)
            if "reason 2" not in line:
                raise DemoError(f"{m.serial}: PP-03 with another reason than 2 (failed attempts): {line}")
            cloud.wait_line(lambda text: " accepted 0x0B " in text, self.left(), f"{m.serial}: Spake2VerifierStatus",
                            start)
            self.wait_flags(m, VERIFIER, "new verifier stored (PP-03), failed attempts reset", since=t,
                            extra=lambda s: s.failed == 0)
        self.in_parallel(one, modules)

    def owners_pair_by_app(self, modules: list) -> None:
        self.phase("OP-01a (the owner's app): the password from the VOS over HTTP, receipt confirmed; the VOS opens "
                   "the pairing window (0x0E); the phone pairs (phase 2, phase 3, 0x0D)" + self.which(modules))
        self.in_parallel(self.app_pairing, modules)

    def owners_pair_by_email(self, modules: list) -> None:
        self.phase("OP-01b (the customer portal): the VOS e-mails the pairing link; the app redeems it, the VOS opens "
                   "the pairing window (0x0E); the phone pairs" + self.which(modules))
        self.in_parallel(self.email_pairing, modules)

    def owner_key_termination(self) -> None:
        self.phase("KTS: owner key termination (0x0C, signed with [ZZ2]): owner key and verifier deleted, PP-03")

        def one(cloud):
            m, start, t = cloud.module, len(cloud.proc.lines), time.monotonic()
            self.push(cloud, "terminate-owner-key", 0x0C)
            self.bus.wait_status(m.iface, m.status_id, lambda s: s.owner == 0, self.left(30),
                                 f"{m.serial}: owner key deleted (SPAAK_Status byte 7 = 0)", t)
            line = cloud.wait_line(lambda text: " accepted 0x09 " in text, self.left(),
                                   f"{m.serial}: Spake2VerifierRequest", start)
            if "reason 1" not in line:
                raise DemoError(f"{m.serial}: PP-03 with another reason than 1 (owner key termination): {line}")
            self.check_cloud_pairing(cloud, "activeKey=- ", f"terminatedKey={m.paired.key_id} ")
        self.in_parallel(one, self.clouds)

    def summary(self) -> dict:
        self.phase("What each module holds (DIDs 0xD120, 0xD124) and where the files are")
        rows = []
        for m in self.modules:
            m.d120 = read_d120(m, self.plant_key)
            owner = read_d124(m, self.plant_key)
            certs = {slot: status_name(m.d120.certificates[slot]) for slot in SLOTS if slot in m.d120.certificates}
            rows.append({"serial": m.serial, "bus": m.iface, "vin": m.vin, "plant": m.plant_outcome,
                         "d120": m.d120.raw.hex(), "flags": flag_words(m.d120.flags), "certificates": certs,
                         "owner_pairing": owner.as_dict(),
                         "paired": m.paired.as_dict() if m.paired else None,
                         "owner": owner_of(m), "password_path": "OP-01a app" if by_app(m) else "OP-01b e-mail"})
        self.console.raw(report.table(rows))
        return {"modules": rows, "fleet": self.fleet_view()}

    def choose_scrypt_n(self) -> str:
        """Settles the verifiers' scrypt N (its default depends on where the session runs); says which."""
        if self.scrypt_n is not None:
            return f"scrypt N = {self.scrypt_n} for the VOS's verifiers (as asked)"
        if not self.in_vm:
            self.scrypt_n = NATIVE_SCRYPT_N
            return f"scrypt N = {NATIVE_SCRYPT_N} for the VOS's verifiers"
        self.scrypt_n = VM_SCRYPT_N
        return (f"scrypt N = {VM_SCRYPT_N} for the VOS's verifiers (the ICD 7.6 vector's cost), not {NATIVE_SCRYPT_N}: "
                f"the VM's emulated CPU is ~20x slower than a phone, and the phone's derivation at {NATIVE_SCRYPT_N} "
                f"takes longer there than the 5 s the module allows for its answer (natively N stays "
                f"{NATIVE_SCRYPT_N}; --scrypt-n N to choose)")

    def run(self) -> dict:
        """The whole story; the summary. Children are stopped whatever happens."""
        try:
            self.prepare()
            self.in_vm = in_vm()
            where = ("in the QEMU VM of scripts/vcan-run (an emulated CPU: slow)" if self.in_vm
                     else "on this machine's kernel")
            buses = f"vcan0 (plant line), vcan1..vcan{self.n} (one vehicle each)" if self.n > 1 else "vcan0, vcan1"
            self.console.raw(f"spaak-sim demo: {self.n} module(s); buses {buses} {where}; "
                             f"files in {os.path.relpath(self.out)}/")
            self.console.raw(self.choose_scrypt_n())
            self.plant()
            self.into_vehicles()
            self.tbm_online()
            self.push_verifier()
            self.register_owners()
            # Vehicle 1's owner pairs through the app without anyone at the head unit (the VOS
            # opens the window); the others first see a wrong password tapped 8 times.
            at_hu = [m for m in self.modules if m.number != 1] or self.modules
            self.pairing_window(at_hu)
            self.wrong_password(at_hu)
            self.owners_pair_by_app([m for m in self.modules if by_app(m)])
            if any(not by_app(m) for m in self.modules):
                self.owners_pair_by_email([m for m in self.modules if not by_app(m)])
            self.owner_key_termination()
            result = self.summary()
        finally:
            t = time.monotonic()
            count = len(self.children.procs)
            self.children.stop_all()
            if self.console:
                self.say(f"stopped the {count} processes of the demo in {time.monotonic() - t:.1f} s")
            if self.run_dir:
                t = time.monotonic()
                report.keep_files(self.run_dir, self.out)
                if self.console:
                    self.say(f"stores, VOS databases and traces copied to {os.path.relpath(self.out)}/ "
                             f"in {time.monotonic() - t:.1f} s")
        result.update(report.finish(self))
        return result
