"""Issue 7, defects 4 and 5 on the bus: a store the module cannot trust does not stop it.

- A damaged ``device.key``: ``spaak-ecu`` starts anyway (degraded), says what is wrong and
  how to recover, sends ``SPAAK_Status``, answers UDS; DID 0xD120 shows every certificate
  slot as KeyM 9 (invalid format) and the plant lock as set; security access runs its full
  delay (the attempt record is unreadable); nothing in the folder changes.
- ``spaak-ecu recreate-store`` refuses without its confirmation flag, and with it keeps the
  old folder aside and gives an empty store the module starts on normally.
- A deleted ``rec.plant-lock`` (the store manifest lists it) reads as damaged: locked.

Only ICD 5.2 (D120 layout), 5.3 and the documented command line are used.
"""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from plantpeer import VIN, client, connection, nrc, provision, read, unlock
from spaakbus import Module, bin_path, bus, restart, spaak_status
from spaaklib.signals import PLANT_LOCKED  # D120 flags byte, bit 3 (ICD 3: SPAAK_Status byte 2)


def folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def damaged_store() -> Path:
    """A store folder written by a first start, then its device key damaged."""
    m = Module()
    store = Path(m.store)
    m.stop(keep_store=True)
    key = store / "device.key"
    data = bytearray(key.read_bytes())
    data[10] ^= 0xFF
    key.write_bytes(bytes(data))
    return store


def test_damaged_device_key_starts_degraded_and_answers():
    store = damaged_store()
    before = folder_digest(store)
    m = Module(store=str(store))
    try:
        m.wait_for("recreate-store", timeout=5)
        with bus() as b:
            spaak_status(b, timeout=3)
        with client(connection()) as c:
            assert read(c, 0xF18C) == m.serial.encode()
            d120 = read(c, 0xD120)
            assert d120[0] & PLANT_LOCKED, d120.hex()
            assert list(d120[1:8]) == [9] * 7, d120.hex()
            # the security-access attempt record is unreadable too: the full delay runs from start
            c.change_session(3)
            assert nrc(c.request_seed, 1) == 0x37
        assert m.alive
    finally:
        m.stop(keep_store=True)
    assert folder_digest(store) == before, "the degraded module changed its store folder"


def test_recreate_store_needs_confirmation_and_keeps_the_old_folder():
    store = damaged_store()
    refused = subprocess.run([bin_path("spaak-ecu"), "recreate-store", "--store", str(store)],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
    assert "--confirm-destroy-keys" in refused.stdout + refused.stderr
    assert (store / "device.key").exists()
    done = subprocess.run([bin_path("spaak-ecu"), "recreate-store", "--store", str(store), "--confirm-destroy-keys"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    aside = [p for p in store.parent.iterdir() if p.name.startswith(store.name + ".damaged-")]
    assert len(aside) == 1 and (aside[0] / "device.key").exists()
    m = Module(store=str(store))
    try:
        with client(connection()) as c:
            d120 = read(c, 0xD120)
            assert not d120[0] & PLANT_LOCKED
            assert list(d120[1:8]) == [4] * 7, d120.hex()   # NOT_AVAILABLE: an empty store
    finally:
        m.stop()


def test_deleted_plant_lock_reads_as_locked(tmp_path, modules):
    m = modules()
    provision(tmp_path / "out", str(tmp_path / "pki"), [0x7A0])
    assert read_d120_flags() & PLANT_LOCKED
    m.stop(keep_store=True)
    (Path(m.store) / "rec.plant-lock").unlink()            # the manifest still lists it
    m = restart(m, modules)
    assert read_d120_flags() & PLANT_LOCKED, "a deleted plant lock unlocked the plant"
    with client(connection()) as c:
        unlock(c)
        assert nrc(c.write_data_by_identifier, 0xF190, VIN) == 0x22
        assert nrc(c.start_routine, 0xD200) == 0x22


def read_d120_flags() -> int:
    with client(connection()) as c:
        return read(c, 0xD120)[0]
