"""The session of ``scripts/fleet``: N vehicles against K VOS instances on one database.

Design (run where vcan1..vcanN exist: ``scripts/fleet`` runs it through ``scripts/vcan-run``):

1. Plant (scripts/fleet_session/plant.py): the PKI (``spaak-pki init``) and N modules
   (``spaak-ecu``, serials SPK0000000001.., one per bus vcan<k>) provisioned for RP-01/RP-02
   by the EOL tester's code, several modules at once; the pristine stores are cached in
   ``<out>/plant`` and reused by the next runs (up to as many vehicles, same PKI).
2. Backend: PostgreSQL (``scripts/pgtemp start``) or one SQLite file (K = 1), and K
   ``spaak-cloud vos`` instances on it (``--ecu-certs``: the plant's certificates).
3. Each vehicle's TBM (``spaak-cloud tbm --serial S --vos URL1,URL2…``) on its bus: as it
   subscribes, the module runs SP-02 and PP-01.
4. The story, driven from the traces (``--trace`` of every TBM and VOS, CloudEvent JSON
   lines): when a vehicle's PP-01 is done, ``push-verifier`` (PP-02) on the VOS instances in
   turn (so most pushes cross instances: the outbox and LISTEN/NOTIFY carry them); for
   ``--passwords`` of the vehicles the pairing password (``password``); for ``--terminations``
   the KTS's ``terminate-owner-key`` (0x0C), after which the module runs PP-03.
   ``--kill-instance-at F``: SIGKILL of vos-1 once PP-01 is done for a fraction F of the
   vehicles; its TBMs reconnect to the others and every use case must still complete.
5. Progress lines every 5 s; at the end the table (vehicles done, failures by cause, PP-01
   time p50/p99 from the TBM traces, VOS requests per second and database time from each
   instance's ``stats``), ``<out>/summary.json`` and ``--json FILE``.

Every wait is bounded by ``--timeout``; every child is stopped at the end, on error and on
Ctrl-C. Logs and traces: ``<out>/run/``.
"""
