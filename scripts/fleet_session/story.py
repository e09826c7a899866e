"""The fleet's story, phase by phase (see the package docstring)."""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from spaaklib.fleet import ControlError, TraceTail, render, summary
from spaaklib.process import binary_candidates, find_binary

from .backend import BACKEND_NICE, Database, VOSInstance, backend_priority
from .plant import Plant, provision
from .procs import Children, Console, Deadline, FleetError
from .vehicles import Power, Vehicle, chosen, start_module, start_tbm

#: How long the story waits for an instance's answer to a control command (push-verifier,
#: password, terminate-owner-key). The command waits for the instance's loop, a scrypt verifier
#: and a database transaction: in the VM at N = 50 (the vehicles keep both emulated CPUs busy)
#: the answer took more than a minute for 4 of 50 vehicles, whose story then failed on time
#: alone; a command that gets no answer in this time is the vehicle's failure.
CONTROL_TIMEOUT_S = 300
#: The refusal of an instance whose verifier queue is full (spaak-cloud's VerifierWaitQueue:
#: 16 inputs wait for a scrypt verifier at most): back-pressure, not the vehicle's failure.
#: The story sends that command again after ``BUSY_RETRY_S``, as a backend client would.
BUSY_REPLY = "too many inputs waiting for a verifier"
BUSY_RETRY_S = 5.0

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
#: scrypt N of the VOS's verifiers without --scrypt-n (see __main__'s help).
DEFAULT_SCRYPT_N = 1024
TICK = 0.5
PROGRESS_EVERY = 5.0


def newest_binary(name: str):
    """$SPAAK_BIN_DIR/<name> when set, else the newer of .build/release/<name> and
    .build/debug/<name> (a stale release build must not hide today's subcommands)."""
    if os.environ.get("SPAAK_BIN_DIR"):
        return find_binary(name)
    found = [c for c in binary_candidates(name) if os.access(c, os.X_OK)]
    return str(max(found, key=lambda c: os.stat(c).st_mtime)) if found else None


def find_binaries() -> dict:
    bins = {name: newest_binary(name) for name in ("spaak-ecu", "spaak-pki", "spaak-cloud")}
    missing = [name for name, path in bins.items() if path is None]
    if missing:
        raise FleetError(f"not built: {', '.join(missing)} (run: swift build -c release)")
    return bins


def in_vm() -> bool:
    try:
        with open("/proc/cmdline", encoding="utf-8") as f:
            return "vcan.debug=" in f.read()
    except OSError:
        return False


class Fleet:
    """One run of the story: ``run()`` returns the summary (``--json``)."""

    def __init__(self, args):
        self.args = args
        self.n, self.k = args.vehicles, args.vos_instances
        #: The line's stations: at most this many vehicles on (module and TBM running) at once.
        self.stations = min(self.n, args.stations or self.n)
        self.out = os.path.abspath(args.out)
        self.deadline = Deadline(args.timeout)
        self.children = Children()
        self.console = None
        self.run_dir = None
        self.database = None
        self.instances: list = []
        self.vehicles: list = []
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ctl")
        # Vehicles arriving at and leaving the line (--stations): starting a module and its TBM
        # waits for both to be ready, which must not hold up the story's loop.
        self.line_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="line")
        self.most_on = 0
        self.futures: list = []
        self.killed_at = None
        self.turn = 0

    # --- helpers ------------------------------------------------------------------------------

    def say(self, text: str, tag: str = "fleet") -> None:
        self.console.line(tag, text)

    def left(self, cap=None) -> float:
        return self.deadline.left(cap)

    def alive_instances(self) -> list:
        return [i for i in self.instances if i.alive]

    # --- phases -------------------------------------------------------------------------------

    def prepare(self) -> None:
        ifaces = [f"vcan{k}" for k in range(1, self.n + 1)]
        missing = [i for i in ifaces if not os.path.exists(f"/sys/class/net/{i}")]
        if missing:
            raise FleetError(f"no {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''} here: run the session "
                             f"through scripts/vcan-run with VCAN_IFACES=\"vcan0 … vcan{self.n}\" (scripts/fleet does)")
        self.bins = find_binaries()
        os.makedirs(self.out, exist_ok=True)
        shutil.rmtree(os.path.join(self.out, "run"), ignore_errors=True)
        self.console = Console(self.deadline, os.path.join(self.out, "fleet.txt"))
        # Stores, traces, sockets and the database live on the machine of the buses (in the
        # VM: its memory; an fsync through its shared folder stalls the event loops); the
        # logs and traces are copied to <out>/run at the end.
        self.run_dir = tempfile.mkdtemp(prefix="spaak-fleet-")
        os.chmod(self.run_dir, 0o711)  # PostgreSQL's cluster (<run>/pg) runs as user postgres
        self.logs = os.path.join(self.run_dir, "logs")
        for sub in ("logs", "traces", "ecu-certs"):
            os.makedirs(os.path.join(self.run_dir, sub))
        passwords = chosen(self.n, self.args.passwords)
        terminations = chosen(self.n, self.args.terminations, offset=max(1, self.n // 3))
        for k in range(1, self.n + 1):
            self.vehicles.append(Vehicle(k, os.path.join(self.run_dir, f"store-{k}"),
                                         os.path.join(self.run_dir, "traces", f"tbm-{k}.jsonl"),
                                         wants_password=k in passwords, wants_termination=k in terminations))

    def start_modules(self, what: str, vehicles: list) -> None:
        """Starts the modules of ``vehicles`` all at once and waits for them; says so unless
        ``what`` is empty."""
        t = time.monotonic()
        for v in vehicles:
            start_module(v, self.bins["spaak-ecu"], self.children, self.logs)
        for v in vehicles:
            v.ecu.wait_ready(self.left(120))
        if what:
            self.say(f"{len(vehicles)} spaak-ecu {what} in {time.monotonic() - t:.1f} s (vcan1..vcan{len(vehicles)})"
                     + (f"; the other {self.n - len(vehicles)} wait for a station" if len(vehicles) < self.n else ""))

    @property
    def first_on_line(self) -> list:
        """The vehicles that start at once: all, or the first ``--stations`` of them."""
        return self.vehicles[:self.stations]

    def plant(self) -> None:
        plant = self.plant_cache = Plant(self.out)
        have = 0 if self.args.fresh_plant else plant.cached(self.n)
        if have:
            for v in self.vehicles:
                plant.restore(v.number, v.store)
            self.say(f"plant: reusing {os.path.relpath(plant.dir)} ({have} modules provisioned, RP-01/RP-02 done, "
                     f"plant locked; pristine stores copied; --fresh-plant to redo it)")
            self.start_modules("started from the provisioned stores", self.first_on_line)
        else:
            plant.reset()
            self.provision_in_batches(plant)
            self.start_modules("started from their provisioned stores", self.first_on_line)
        for v in self.vehicles:
            shutil.copy2(plant.cert(v.number), os.path.join(self.run_dir, "ecu-certs"))

    def provision_in_batches(self, plant: Plant) -> None:
        """RP-01/RP-02 for ``--plant-batch`` modules at a time (only they run: idle modules
        would take the emulated CPU the plant needs), all of a batch at once; each batch's
        modules stopped after it (the power cycle) and their stores kept; the failed ones
        tried again in a last batch."""
        size = self.args.plant_batch
        t = time.monotonic()
        self.say(f"plant: RP-01/RP-02 by the EOL tester's code on each module's own bus, {size} modules at a time")
        todo, failed = list(self.vehicles), []
        for attempt in (1, 2):
            for first in range(0, len(todo), size):
                batch = todo[first:first + size]
                self.start_modules("", batch)
                try:
                    results = provision(plant, batch, self.bins["spaak-pki"], len(batch), lambda text: None)
                finally:
                    for v in batch:
                        self.children.stop(v.ecu)
                by_serial = {r.serial: r for r in results}
                for v in batch:
                    r = by_serial[v.serial]
                    if r.failed or r.outcome is None:
                        failed.append((v, r))
                    else:
                        plant.keep(v.number, v.store)
                done = first + len(batch)
                self.say(f"plant: {done}/{len(todo)} {'(again) ' if attempt == 2 else ''}in "
                         f"{time.monotonic() - t:.0f} s, {len(failed)} to try again")
            if not failed:
                break
            if attempt == 2:
                raise FleetError("plant failed for " + ", ".join(
                    f"{v.serial} ({r.error.describe() if r.error else r.outcome})" for v, r in failed[:5]))
            todo, failed = [v for v, _ in failed], []
        elapsed = time.monotonic() - t
        plant.seal(self.n, elapsed, size)
        self.say(f"plant: {self.n} modules provisioned in {elapsed:.1f} s ({self.n / elapsed * 60:.1f} per minute); "
                 f"stores kept in {os.path.relpath(plant.dir)} as the pristine copies")

    def backend(self) -> None:
        t = time.monotonic()
        self.database = Database(self.args.database, self.run_dir, self.left(120), self.say)
        for k in range(1, self.k + 1):
            self.instances.append(VOSInstance(k, self.bins["spaak-cloud"], self.plant_cache.pki, self.database.url,
                                              os.path.join(self.run_dir, "ecu-certs"), self.run_dir,
                                              self.args.scrypt_n, self.children, self.logs))
        for i in self.instances:
            i.wait_ready(self.left(180))
        self.say(f"{self.k} VOS instance(s) on {self.args.database} in {time.monotonic() - t:.1f} s: "
                 + ", ".join(f"{i.name} {i.url}" for i in self.instances))

    def tbms(self) -> None:
        self.t_tbm = time.monotonic()
        urls = [i.url for i in self.instances]
        first = self.first_on_line
        for v in first:
            v.power = Power.STARTING
            start_tbm(v, self.bins["spaak-cloud"], urls, self.run_dir, self.children, self.logs)
        for v in first:
            v.tbm.wait_ready(self.left(120))
            v.power = Power.ON
        self.most_on = len(first)
        self.say(f"{len(first)} TBMs started in {time.monotonic() - self.t_tbm:.1f} s, each with the {self.k} VOS URL(s): "
                 f"SP-02 and PP-01 run as each TBM subscribes"
                 + (f"; a line of {self.stations} stations: a vehicle leaves (module and TBM stopped) when its story "
                    f"is done or failed, and the next one arrives" if self.stations < self.n else ""))

    # --- the line (--stations) ----------------------------------------------------------------

    def arrive(self, v: Vehicle) -> None:
        """A vehicle takes a free station: its module, then its TBM (in a worker thread)."""
        try:
            start_module(v, self.bins["spaak-ecu"], self.children, self.logs)
            v.ecu.wait_ready(self.left(120))
            start_tbm(v, self.bins["spaak-cloud"], [i.url for i in self.instances], self.run_dir, self.children,
                      self.logs)
            v.tbm.wait_ready(self.left(120))
            v.power = Power.ON
        except (FleetError, OSError) as error:  # (in a worker thread: said here or nowhere)
            v.failure = "could not start"
            v.notes.append(str(error).splitlines()[0])
            self.leave(v)

    def leave(self, v: Vehicle) -> None:
        """A vehicle leaves the line: its TBM, then its module stopped (SIGTERM, then SIGKILL);
        its station is free afterwards whatever happened."""
        try:
            for proc in (v.tbm, v.ecu):
                if proc is not None:
                    self.children.stop(proc)
        except (FleetError, OSError) as error:
            v.notes.append(f"leaving the line: {str(error).splitlines()[0]}")
        finally:
            v.power = Power.OFF

    def line(self) -> None:
        """With fewer stations than vehicles: a vehicle whose story is done or failed leaves,
        the next waiting one arrives when a station is free (never more than ``stations`` on)."""
        if self.stations >= self.n:
            return
        for v in self.vehicles:
            if v.power is Power.ON and (v.done or v.failure) and not v.busy:
                v.power = Power.LEAVING
                self.futures.append(self.line_pool.submit(self.leave, v))
        free = self.stations - sum(1 for v in self.vehicles if v.power.holds_station)
        for v in self.vehicles:
            if free <= 0:
                break
            if v.power is Power.WAITING:
                v.power = Power.STARTING
                free -= 1
                self.futures.append(self.line_pool.submit(self.arrive, v))
        self.most_on = max(self.most_on, sum(1 for v in self.vehicles if v.power.holds_station))

    # --- the story's loop ---------------------------------------------------------------------

    def read_traces(self) -> None:
        for v in self.vehicles:
            had = v.progress.pp01
            for event in v.tail.read():
                v.progress.tbm_event(event)
            if v.progress.pp01 and not had:
                v.pp01_seen_at = time.monotonic()
        by_serial = {v.serial: v for v in self.vehicles}
        for tail in self.vos_tails:
            for event in tail.read():
                v = by_serial.get(event.get("serial"))
                if v is not None:
                    v.progress.vos_event(event)

    def submit(self, v: Vehicle, what: str, command: str, on_reply) -> None:
        """Runs a control command on the next live instance in a worker thread; a refused
        command is the vehicle's failure, an unreachable instance is tried again later."""
        alive = self.alive_instances()
        if not alive:
            v.failure = "no VOS instance left"
            return
        instance = alive[self.turn % len(alive)]
        self.turn += 1
        v.busy = True

        def work():
            try:
                on_reply(instance, instance.ctl(f"{command} {v.serial}", timeout=CONTROL_TIMEOUT_S))
            except ControlError as error:
                if instance.alive and BUSY_REPLY in str(error):
                    v.busy_answers += 1
                    v.not_before = time.monotonic() + BUSY_RETRY_S
                elif instance.alive:
                    v.failure = f"{what} refused"
                    v.notes.append(f"{what} on {instance.name}: {error}")
                # else: the instance died under it; the next tick sends it to another one
            finally:
                v.busy = False
        self.futures.append(self.pool.submit(work))

    def step(self, v: Vehicle) -> None:
        """The next control command the vehicle's story needs, if any."""
        if v.power is not Power.ON or v.busy or v.failure or v.done or time.monotonic() < v.not_before:
            return
        p = v.progress
        if p.pp01 and p.sp02 and v.push_sent is None:
            self.submit(v, "PP-02 push", "push-verifier", lambda i, reply: setattr(v, "push_sent", f"{i.name}: {reply}"))
        elif v.pp02 and v.wants_password and v.password is None:
            self.submit(v, "pairing password", "password", lambda i, reply: setattr(v, "password", reply.strip()))
        elif v.pp02 and v.wants_termination and not v.termination_sent \
                and (not v.wants_password or v.password is not None):
            self.submit(v, "termination", "terminate-owner-key", lambda i, reply: setattr(v, "termination_sent", True))

    def progress_line(self) -> None:
        n = self.n
        count = lambda f: sum(1 for v in self.vehicles if f(v))  # noqa: E731
        pw = sum(1 for v in self.vehicles if v.wants_password)
        term = sum(1 for v in self.vehicles if v.wants_termination)
        vos = []
        for i in self.instances:
            s = i.stats() if i.alive else i.last_stats
            state = "killed" if i.killed else f"{(s or {}).get('connections', '?')} conn"
            vos.append(f"{i.name} {state}")
        self.say(f"SP-02 {count(lambda v: v.progress.sp02)}/{n} · PP-01 {count(lambda v: v.progress.pp01)}/{n} · "
                 f"PP-02 {count(lambda v: v.pp02)}/{n} · passwords {count(lambda v: v.password is not None)}/{pw} · "
                 f"terminations {count(lambda v: v.terminated)}/{term} · done {count(lambda v: v.done)}/{n}"
                 f"{' · failed ' + str(count(lambda v: v.failure)) if count(lambda v: v.failure) else ''} · "
                 + (f"on the line {count(lambda v: v.power.holds_station)}/{self.stations}, "
                    f"left {count(lambda v: v.power is Power.OFF)} · " if self.stations < n else "")
                 + ", ".join(vos), tag="progress")

    def maybe_kill(self) -> None:
        f = self.args.kill_instance_at
        if f is None or self.killed_at is not None:
            return
        if sum(1 for v in self.vehicles if v.progress.pp01) < math.ceil(f * self.n):
            return
        victim = self.instances[0]
        victim.kill()
        self.killed_at = time.monotonic()
        self.say(f"SIGKILL {victim.name} (PP-01 done for {f:.0%} of the vehicles): its TBMs reconnect to the others",
                 tag="kill")

    def check_processes(self) -> None:
        for v in self.vehicles:
            if v.failure or v.power is not Power.ON:
                continue
            if not v.ecu.alive:
                v.failure = f"spaak-ecu exited ({v.ecu.proc.returncode})"
            elif not v.tbm.alive:
                v.failure = f"tbm exited ({v.tbm.proc.returncode})"
        for i in self.instances:
            if not i.killed and not i.proc.alive:
                raise FleetError(f"{i.name} exited with status {i.proc.returncode}; its last lines:\n"
                                 f"{i.proc.last_lines()}")

    def drive(self) -> None:
        self.vos_tails = [TraceTail(i.trace) for i in self.instances]
        last_progress = 0.0
        while True:
            self.read_traces()
            self.check_processes()
            self.maybe_kill()
            for v in self.vehicles:
                self.step(v)
            self.line()
            finished = all(v.done or v.failure for v in self.vehicles) and not any(v.busy for v in self.vehicles)
            now = time.monotonic()
            if finished or now - last_progress >= PROGRESS_EVERY:
                self.progress_line()
                last_progress = now
            if finished:
                break
            if self.deadline.spent:
                self.say(f"time limit ({self.args.timeout:.0f} s, --timeout) reached: the vehicles not done fail")
                break
            time.sleep(TICK)
        self.t_end = time.monotonic()

    # --- the end ------------------------------------------------------------------------------

    def result(self) -> dict:
        failures: dict = {}
        for v in self.vehicles:
            if v.done:
                continue
            cause = v.failure or v.pending()
            failures[cause] = failures.get(cause, 0) + 1
        times = [v.progress.pp01_time_s for v in self.vehicles if v.progress.pp01_time_s is not None]
        seen = [v.pp01_seen_at for v in self.vehicles if v.pp01_seen_at is not None]
        stats = []
        for i in self.instances:
            s = dict(i.stats() or {"instance": i.name})
            if i.killed:
                s["killed"] = True
            stats.append(s)
        config = {"vos_instances": self.k, "database": self.args.database, "scrypt_n": self.args.scrypt_n,
                  "kill_instance_at": self.args.kill_instance_at, "passwords": self.args.passwords,
                  "terminations": self.args.terminations, "stations": self.stations}
        result = summary(vehicles=self.n, done=sum(1 for v in self.vehicles if v.done), failures=failures,
                         pp01_times=times, window_s=self.t_end - self.t_tbm,
                         pp01_span_s=(max(seen) - self.t_tbm) if seen else None, stats=stats, config=config)
        result["reconnects"] = sum(max(0, v.progress.connects - 1) for v in self.vehicles)
        result["vehicle_notes"] = {v.serial: v.notes for v in self.vehicles if v.notes}
        result["busy_answers"] = sum(v.busy_answers for v in self.vehicles)
        result["most_on_line"] = self.most_on
        return result

    def keep_files(self) -> None:
        dst = os.path.join(self.out, "run")
        for sub in ("logs", "traces"):
            shutil.copytree(os.path.join(self.run_dir, sub), os.path.join(dst, sub), dirs_exist_ok=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def run(self) -> dict:
        try:
            self.prepare()
            where = "in the QEMU VM of scripts/vcan-run (emulated CPU)" if in_vm() else "on this machine's kernel"
            priority = (f"backend (VOS, PostgreSQL) at nice {BACKEND_NICE}" if backend_priority()
                        else "backend at the vehicles' priority (no CAP_SYS_NICE)")
            line = f", at most {self.stations} at once (a line of {self.stations} stations)" if self.stations < self.n else ""
            self.console.raw(f"spaak-sim fleet: {self.n} vehicles (spaak-ecu + spaak-cloud tbm on vcan1..vcan{self.n}){line}, "
                             f"{self.k} VOS instance(s) on {self.args.database}, {where}; scrypt N = {self.args.scrypt_n}; "
                             f"{priority}; "
                             f"files in {os.path.relpath(self.out)}/")
            self.console.raw("binaries: " + ", ".join(os.path.relpath(b, ROOT) for b in self.bins.values()))
            self.plant()
            if self.args.plant_only:
                result = None
            else:
                self.backend()
                self.tbms()
                self.drive()
                result = self.result()
        finally:
            t = time.monotonic()
            self.pool.shutdown(wait=False, cancel_futures=True)
            # (a vehicle still arriving ends within its readiness waits, bounded by the deadline;
            # waiting for it keeps a process it starts from outliving stop_all)
            self.line_pool.shutdown(wait=True, cancel_futures=True)
            count = self.children.stop_all()
            if self.database is not None:
                self.database.stop()
            if self.console:
                self.say(f"stopped the {count} processes of the fleet in {time.monotonic() - t:.1f} s")
            if self.run_dir:
                self.keep_files()
        if result is None:
            return None
        self.console.raw("")
        self.console.raw(render(result))
        if self.args.json:
            with open(self.args.json, "w", encoding="utf-8") as f:
                json.dump(result, f, indent=2)
        with open(os.path.join(self.out, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        return result
